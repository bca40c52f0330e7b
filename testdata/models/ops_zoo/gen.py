#!/usr/bin/env python3
"""ops_zoo: an untrained network (seeded random weights) that exercises every operator path the
trained fixtures do not: dilated and SAME-padded Conv, LeakyRelu, Tanh, elementwise Sub/Add/Mul of
runtime tensors, Mul/Div/Sub by constants, AveragePool with padding (count_include_pad=0), asymmetric
MaxPool padding, Transpose, a PyTorch-style Reshape through Shape/Gather/Concat, GlobalAveragePool,
Identity, MatMul + Add, Sigmoid and `1 - x`. Inputs are standard normal samples."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

out = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
r = lambda *s: rng.normal(0, 0.4, s)
i64 = lambda name, v: numpy_helper.from_array(np.asarray(v, dtype=np.int64), name)
nodes = [
    helper.make_node("Conv", ["input", "wa", "ba"], ["a0"], auto_pad="SAME_UPPER", name="conv_a_same"),
    helper.make_node("LeakyRelu", ["a0"], ["a"], alpha=0.1, name="leaky"),
    helper.make_node("Conv", ["input", "wb"], ["b0"], dilations=[2, 2], pads=[2, 2, 2, 2], name="conv_b_dilated"),
    helper.make_node("Tanh", ["b0"], ["b"], name="tanh"),
    helper.make_node("Sub", ["a", "b"], ["c0"], name="sub"),
    helper.make_node("Mul", ["c0", "half"], ["c1"], name="mul_const"),
    helper.make_node("Div", ["c1", "two"], ["c2"], name="div_const"),
    helper.make_node("Mul", ["c2", "b"], ["c3"], name="mul"),
    helper.make_node("Add", ["c3", "a"], ["c4"], name="add"),
    helper.make_node("AveragePool", ["c4"], ["p0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="avgpool"),
    helper.make_node("MaxPool", ["p0"], ["p1"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1], name="maxpool"),
    helper.make_node("Identity", ["p1"], ["p2"], name="identity"),
    helper.make_node("Transpose", ["p2"], ["t"], perm=[0, 2, 3, 1], name="transpose"),
    helper.make_node("Shape", ["t"], ["shape"], name="shape"),
    helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0, name="gather"),
    helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name="unsqueeze"),
    helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0, name="concat"),
    helper.make_node("Reshape", ["t", "target"], ["flat"], name="reshape"),
    helper.make_node("MatMul", ["flat", "wm"], ["m0"], name="matmul"),
    helper.make_node("Add", ["m0", "bm"], ["m1"], name="bias"),
    helper.make_node("GlobalAveragePool", ["a"], ["g0"], name="gap"),
    helper.make_node("Flatten", ["g0"], ["g1"], name="flatten"),
    helper.make_node("Gemm", ["g1", "wg"], ["g2"], transB=1, name="gemm_gap"),
    helper.make_node("Add", ["m1", "g2"], ["s0"], name="merge"),
    helper.make_node("Sigmoid", ["s0"], ["s1"], name="sigmoid"),
    helper.make_node("Sub", ["one", "s1"], ["output"], name="one_minus"),
]
inits = [init("wa", r(4, 2, 3, 3)), init("ba", r(4)), init("wb", r(4, 2, 3, 3)), init("half", [0.5]), init("two", [2.0]),
         i64("zero", 0), i64("axes0", [0]), i64("minus1", [-1]), init("wm", r(36, 5)), init("bm", r(5)),
         init("wg", r(5, 4)), init("one", [1.0])]
path = save_model(out, nodes, inits, [1, 2, 6, 6], [1, 5], graph_name="ops_zoo")
X = rng.normal(0, 1, (300, 2 * 6 * 6)).astype(np.float32)
labels = np.argmax(ort_outputs(path, X[:200], [1, 2, 6, 6]), axis=1)  # no task: the float argmax is the label
write_fixture(out, path, [1, 2, 6, 6], X[:200], labels, X[200:], {"source": "random (seed 7)"})
