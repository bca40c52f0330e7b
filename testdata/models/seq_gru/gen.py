#!/usr/bin/env python3
"""seq_gru: an untrained sequence classifier (seeded random weights) over 6 steps of 4 features
(input [1, 6, 4]) for ONNX's other recurrent layers: over the time-major sequence (a Transpose),
a forward GRU (reset before the recurrent product, biases, a constant non-zero initial state),
a reverse GRU (linear_before_reset=1, activations Sigmoid and Relu) and a bidirectional RNN
(Tanh, biases, initial states). The GRUs' last hidden states joined (a runtime Concat) plus the
RNN's two directions' feed one Gemm, the RNN's full sequence Y another; their sum is the 3
outputs. Inputs are standard normal samples. Also writes layout1.onnx: the same model with the
RNN in batch-major layout (layout=1, opset 14; its initial state transposed, its outputs
transposed back), which computes exactly what model.onnx does and which onnxruntime's CPU
provider cannot run: the Rust tests compare the two."""
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
    init("w_n", r(2, HID, FEAT)), init("r_n", r(2, HID, HID)), init("b_n", r(2, 2 * HID)),
    init("h0_n", r(2, 1, HID) * 0.5),
    init("w_out", r(3, 2 * HID)), init("b_out", r(3)), init("w_ys", r(3, 2 * SEQ * HID) * 0.3),
    numpy_helper.from_array(np.asarray([1, HID], dtype=np.int64), "flat"),
    numpy_helper.from_array(np.asarray([1, 2 * HID], dtype=np.int64), "flat2"),
    numpy_helper.from_array(np.asarray([1, 2 * SEQ * HID], dtype=np.int64), "flat_ys"),
]
# The bidirectional RNN's initial state in batch-major layout: [batch, directions, hidden].
h0_n1 = numpy_helper.from_array(numpy_helper.to_array(next(t for t in inits if t.name == "h0_n")).transpose(1, 0, 2).copy(), "h0_n")
tail = [
    helper.make_node("Reshape", ["h_g", "flat"], ["h_g2"], name="flat_h_g"),
    helper.make_node("Reshape", ["h_l", "flat"], ["h_l2"], name="flat_h_l"),
    helper.make_node("Reshape", ["h_n", "flat2"], ["h_n2"], name="flat_h_n"),
    helper.make_node("Concat", ["h_g2", "h_l2"], ["h_gl"], axis=1, name="join_gru"),
    helper.make_node("Add", ["h_gl", "h_n2"], ["s1"], name="add_rnn"),
    helper.make_node("Gemm", ["s1", "w_out", "b_out"], ["o0"], transB=1, name="classifier"),
    helper.make_node("Reshape", ["y_n", "flat_ys"], ["ys"], name="flat_y_n"),
    helper.make_node("Gemm", ["ys", "w_ys"], ["o1"], transB=1, name="sequence_classifier"),
    helper.make_node("Add", ["o0", "o1"], ["output"], name="add_classifiers"),
]
grus = [
    helper.make_node("Transpose", ["input"], ["xs"], perm=[1, 0, 2], name="time_major"),
    helper.make_node("GRU", ["xs", "w_g", "r_g", "b_g", "", "h0_g"], ["", "h_g"], hidden_size=HID, name="gru_forward"),
    helper.make_node("GRU", ["xs", "w_l", "r_l", "b_l"], ["", "h_l"], hidden_size=HID, direction="reverse",
                     linear_before_reset=1, activations=["Sigmoid", "Relu"], name="gru_reverse"),
]
nodes = grus + [
    helper.make_node("RNN", ["xs", "w_n", "r_n", "b_n", "", "h0_n"], ["y_n", "h_n"], hidden_size=HID,
                     direction="bidirectional", name="rnn"),
] + tail
path = save_model(out, nodes, inits, [1, SEQ, FEAT], [1, 3], graph_name="seq_gru")

# The same RNN in batch-major layout (layout=1, opset 14), transposed back to time-major.
layout1 = grus + [
    helper.make_node("RNN", ["input", "w_n", "r_n", "b_n", "", "h0_n"], ["y_n1", "h_n1"], hidden_size=HID,
                     direction="bidirectional", layout=1, name="rnn"),
    helper.make_node("Transpose", ["y_n1"], ["y_n"], perm=[1, 2, 0, 3], name="y_time_major"),
    helper.make_node("Transpose", ["h_n1"], ["h_n"], perm=[1, 0, 2], name="h_time_major"),
] + tail
g = helper.make_graph(layout1, "seq_gru_layout1",
                      [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, SEQ, FEAT])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])],
                      [h0_n1 if t.name == "h0_n" else t for t in inits])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], producer_name="cipherproof-fixtures")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(out, "layout1.onnx"))
X = rng.normal(0, 1, (300, SEQ * FEAT)).astype(np.float32)
labels = np.argmax(ort_outputs(path, X[:200], [1, SEQ, FEAT]), axis=1)  # no task: the float argmax is the label
write_fixture(out, path, [1, SEQ, FEAT], X[:200], labels, X[200:], {"source": "random (seed 13)"})
