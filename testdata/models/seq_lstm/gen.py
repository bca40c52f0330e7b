#!/usr/bin/env python3
"""seq_lstm: an untrained sequence classifier (seeded random weights) over 6 steps of 4 features
(input [1, 6, 4]) that exercises the LSTM paths EZKL's one-step lstm example does not: two LSTMs
over the time-major sequence (a Transpose), one forward with peepholes, both biases, constant
non-zero initial states and a full-length sequence_lens, one bidirectional with peepholes and
activations Sigmoid, Tanh, Relu (forward) and Sigmoid, Tanh, Tanh (reverse). Their last hidden
and cell states, joined (a runtime Concat of values at different scales), feed one Gemm; both
full sequences Y, joined along the direction axis, another; the sum of the two is the 3 outputs. Inputs are standard normal samples. Also writes layout1.onnx: the same model with
the forward LSTM in batch-major layout (layout=1, opset 14, no Transpose). With one
sequence in the batch and one direction, its X is the time-major X transposed and its states and
Y_h/Y_c hold the same values, so it computes exactly what model.onnx does. Neither onnxruntime's
CPU provider nor onnx's reference evaluator runs layout=1 (the latter drops Y_c and mis-shapes
Y_h), so the Rust tests compare the two models."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

out = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)
SEQ, FEAT, HID = 6, 4, 5
r = lambda *s: rng.normal(0, 0.5, s)
inits = [
    init("w_f", r(1, 4 * HID, FEAT)), init("r_f", r(1, 4 * HID, HID)), init("b_f", r(1, 8 * HID)),
    init("h0", r(1, 1, HID) * 0.5), init("c0", r(1, 1, HID) * 0.5), init("p_f", r(1, 3 * HID)),
    numpy_helper.from_array(np.asarray([SEQ], dtype=np.int32), "seq_lens"),
    init("w_r", r(2, 4 * HID, FEAT)), init("r_r", r(2, 4 * HID, HID)), init("b_r", r(2, 8 * HID)),
    init("p_r", r(2, 3 * HID)),
    init("w_out", r(3, 6 * HID)), init("b_out", r(3)), init("w_ys", r(3, 3 * SEQ * HID) * 0.3),
    numpy_helper.from_array(np.asarray([1, HID], dtype=np.int64), "flat"),
    numpy_helper.from_array(np.asarray([1, 2 * HID], dtype=np.int64), "flat2"),
    numpy_helper.from_array(np.asarray([1, 3 * SEQ * HID], dtype=np.int64), "flat_ys"),
]
tail = [
    helper.make_node("LSTM", ["xs", "w_r", "r_r", "b_r", "", "", "", "p_r"], ["y_r", "h_r", "c_r"], hidden_size=HID,
                     direction="bidirectional", activations=["Sigmoid", "Tanh", "Relu", "Sigmoid", "Tanh", "Tanh"],
                     name="lstm_bidirectional"),
    helper.make_node("Reshape", ["h_f", "flat"], ["h_f2"], name="flat_h_f"),
    helper.make_node("Reshape", ["c_f", "flat"], ["c_f2"], name="flat_c_f"),
    helper.make_node("Reshape", ["h_r", "flat2"], ["h_r2"], name="flat_h_r"),
    helper.make_node("Reshape", ["c_r", "flat2"], ["c_r2"], name="flat_c_r"),
    helper.make_node("Concat", ["h_f2", "c_f2", "h_r2", "c_r2"], ["states"], axis=1, name="join_states"),
    helper.make_node("Concat", ["y_f", "y_r"], ["ys"], axis=1, name="join_sequences"),
    helper.make_node("Reshape", ["ys", "flat_ys"], ["ys2"], name="flat_ys"),
    helper.make_node("Gemm", ["states", "w_out", "b_out"], ["o0"], transB=1, name="classifier"),
    helper.make_node("Gemm", ["ys2", "w_ys"], ["o1"], transB=1, name="sequence_classifier"),
    helper.make_node("Add", ["o0", "o1"], ["output"], name="add_classifiers"),
]
forward = ["xs", "w_f", "r_f", "b_f", "seq_lens", "h0", "c0", "p_f"]
nodes = [
    helper.make_node("Transpose", ["input"], ["xs"], perm=[1, 0, 2], name="time_major"),
    helper.make_node("LSTM", forward, ["y_f", "h_f", "c_f"], hidden_size=HID, name="lstm_forward"),
] + tail
path = save_model(out, nodes, inits, [1, SEQ, FEAT], [1, 3], graph_name="seq_lstm")

# The same forward LSTM in batch-major layout (its initial states [batch, 1, hidden]).
layout1 = [
    helper.make_node("Transpose", ["input"], ["xs"], perm=[1, 0, 2], name="time_major"),
    helper.make_node("LSTM", ["input"] + forward[1:], ["y_f1", "h_f1", "c_f1"], hidden_size=HID, layout=1,
                     name="lstm_forward"),
    helper.make_node("Transpose", ["y_f1"], ["y_f"], perm=[1, 0, 2, 3], name="y_time_major"),
    helper.make_node("Transpose", ["h_f1"], ["h_f"], perm=[1, 0, 2], name="h_time_major"),
    helper.make_node("Transpose", ["c_f1"], ["c_f"], perm=[1, 0, 2], name="c_time_major"),
] + tail
g = helper.make_graph(layout1, "seq_lstm_layout1",
                      [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, SEQ, FEAT])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)], producer_name="cipherproof-fixtures")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(out, "layout1.onnx"))

X = rng.normal(0, 1, (300, SEQ * FEAT)).astype(np.float32)

labels = np.argmax(ort_outputs(path, X[:200], [1, SEQ, FEAT]), axis=1)  # no task: the float argmax is the label
write_fixture(out, path, [1, SEQ, FEAT], X[:200], labels, X[200:], {"source": "random (seed 11)"})
