#!/usr/bin/env python3
"""seq_gru: an untrained sequence classifier (seeded random weights) over 6 steps of 4 features
(input [1, 6, 4]) for ONNX's other recurrent layers: over the time-major sequence (a Transpose),
a forward GRU (reset before the recurrent product, biases, a constant non-zero initial state),
a reverse GRU (linear_before_reset=1, activations Sigmoid and Relu) and a forward RNN (Tanh,
biases, initial state); the sum of their last hidden states feeds a Gemm of 3 outputs. Inputs
are standard normal samples."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

out = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(13)
SEQ, FEAT, HID = 6, 4, 5
r = lambda *s: rng.normal(0, 0.5, s)
inits = [
    init("w_g", r(1, 3 * HID, FEAT)), init("r_g", r(1, 3 * HID, HID)), init("b_g", r(1, 6 * HID)),
    init("h0_g", r(1, 1, HID) * 0.5),
    init("w_l", r(1, 3 * HID, FEAT)), init("r_l", r(1, 3 * HID, HID)), init("b_l", r(1, 6 * HID)),
    init("w_n", r(1, HID, FEAT)), init("r_n", r(1, HID, HID)), init("b_n", r(1, 2 * HID)),
    init("h0_n", r(1, 1, HID) * 0.5),
    init("w_out", r(3, HID)), init("b_out", r(3)),
    numpy_helper.from_array(np.asarray([1, HID], dtype=np.int64), "flat"),
]
nodes = [
    helper.make_node("Transpose", ["input"], ["xs"], perm=[1, 0, 2], name="time_major"),
    helper.make_node("GRU", ["xs", "w_g", "r_g", "b_g", "", "h0_g"], ["", "h_g"], hidden_size=HID, name="gru_forward"),
    helper.make_node("GRU", ["xs", "w_l", "r_l", "b_l"], ["", "h_l"], hidden_size=HID, direction="reverse",
                     linear_before_reset=1, activations=["Sigmoid", "Relu"], name="gru_reverse"),
    helper.make_node("RNN", ["xs", "w_n", "r_n", "b_n", "", "h0_n"], ["", "h_n"], hidden_size=HID, name="rnn"),
    helper.make_node("Reshape", ["h_g", "flat"], ["h_g2"], name="flat_h_g"),
    helper.make_node("Reshape", ["h_l", "flat"], ["h_l2"], name="flat_h_l"),
    helper.make_node("Reshape", ["h_n", "flat"], ["h_n2"], name="flat_h_n"),
    helper.make_node("Add", ["h_g2", "h_l2"], ["s0"], name="add_gru"),
    helper.make_node("Add", ["s0", "h_n2"], ["s1"], name="add_rnn"),
    helper.make_node("Gemm", ["s1", "w_out", "b_out"], ["output"], transB=1, name="classifier"),
]
path = save_model(out, nodes, inits, [1, SEQ, FEAT], [1, 3], graph_name="seq_gru")
X = rng.normal(0, 1, (300, SEQ * FEAT)).astype(np.float32)
labels = np.argmax(ort_outputs(path, X[:200], [1, SEQ, FEAT]), axis=1)  # no task: the float argmax is the label
write_fixture(out, path, [1, SEQ, FEAT], X[:200], labels, X[200:], {"source": "random (seed 13)"})
