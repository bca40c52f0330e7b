#!/usr/bin/env python3
"""digits_cnn: a small CNN on scikit-learn's 8x8 digits, trained here with numpy.

Graph: Conv(1->8, 3x3, pad 1) -> BatchNormalization -> Relu -> MaxPool(2x2) -> Flatten -> Gemm(128->10) -> Softmax.
The network is trained without BN; BN is then inserted with per-channel statistics of the conv output
(mean m_c, variance v_c, gamma 1, beta = m_c*s_c with s_c = 1/sqrt(v_c+eps)), i.e. a pure positive
scaling y*s_c that the Gemm compensates by 1/s_c. The function is unchanged, its parameters are not:
the importer must fold BN into the conv correctly for the outputs to match onnxruntime.
"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

out = os.path.dirname(os.path.abspath(__file__))
Xtr, Xte, ytr, yte = digits_split()
rng = np.random.default_rng(0)
C, K = 8, 3


def im2col(x):  # x [N,8,8] -> [N,64,9] (taps ky,kx row-major; zero padding 1)
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    return np.stack([p[:, ky:ky + 8, kx:kx + 8].reshape(len(x), 64) for ky in range(K) for kx in range(K)], axis=2)


def forward(x, W1, b1, W2, b2):
    cols = im2col(x.reshape(-1, 8, 8))                       # [N,64,9]
    conv = cols @ W1.T + b1                                   # [N,64,C]
    act = np.maximum(conv, 0).transpose(0, 2, 1).reshape(-1, C, 8, 8)
    win = act.reshape(-1, C, 4, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, C, 4, 4, 4)
    pooled = win.max(axis=4)                                  # [N,C,4,4]
    flat = pooled.reshape(len(x), -1)                         # C,H,W order, as ONNX Flatten
    return cols, conv, win, pooled, flat, flat @ W2.T + b2


W1 = rng.normal(0, 0.5, (C, K * K)); b1 = np.zeros(C)
W2 = rng.normal(0, 0.1, (10, C * 16)); b2 = np.zeros(10)
params = [W1, b1, W2, b2]
m = [np.zeros_like(p) for p in params]; v = [np.zeros_like(p) for p in params]
lr, step = 0.01, 0
for epoch in range(40):
    order = rng.permutation(len(Xtr))
    for i in range(0, len(order), 64):
        idx = order[i:i + 64]; x, y = Xtr[idx], ytr[idx]; n = len(idx)
        cols, conv, win, pooled, flat, logits = forward(x, *params)
        p = np.exp(logits - logits.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        d = p; d[np.arange(n), y] -= 1; d /= n                # dL/dlogits
        gW2 = d.T @ flat; gb2 = d.sum(0)
        dpool = (d @ W2).reshape(n, C, 4, 4)
        mask = (win == pooled[..., None])
        mask = mask / mask.sum(axis=4, keepdims=True)
        dwin = mask * dpool[..., None]                        # [N,C,4,4,4]
        dact = dwin.reshape(n, C, 4, 4, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, C, 64).transpose(0, 2, 1)
        dconv = dact * (conv > 0)
        gW1 = np.einsum("npc,npk->ck", dconv, cols); gb1 = dconv.sum((0, 1))
        step += 1
        for j, g in enumerate([gW1, gb1, gW2, gb2]):
            m[j] = 0.9 * m[j] + 0.1 * g; v[j] = 0.999 * v[j] + 0.001 * g * g
            params[j] -= lr * (m[j] / (1 - 0.9 ** step)) / (np.sqrt(v[j] / (1 - 0.999 ** step)) + 1e-8)
W1, b1, W2, b2 = params
acc = float((forward(Xte, *params)[-1].argmax(1) == yte).mean())

# BatchNormalization as a reparametrisation (see the docstring).
conv_tr = forward(Xtr, *params)[1]                            # [N,64,C]
mean, var, eps = conv_tr.mean((0, 1)), conv_tr.var((0, 1)), 1e-5
s = 1 / np.sqrt(var + eps)
W2bn = W2.reshape(10, C, 16) / s[None, :, None]
nodes = [
    helper.make_node("Conv", ["input", "conv.weight", "conv.bias"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
    helper.make_node("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["bn1"], epsilon=eps, name="bn"),
    helper.make_node("Relu", ["bn1"], ["r1"], name="relu"),
    helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
    helper.make_node("Flatten", ["p1"], ["f1"], axis=1, name="flatten"),
    helper.make_node("Gemm", ["f1", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc"),
    helper.make_node("Softmax", ["logits"], ["output"], axis=-1, name="softmax"),
]
inits = [init("conv.weight", W1.reshape(C, 1, K, K)), init("conv.bias", b1),
         init("bn.scale", np.ones(C)), init("bn.bias", mean * s), init("bn.mean", mean), init("bn.var", var),
         init("fc.weight", W2bn.reshape(10, -1)), init("fc.bias", b2)]
path = save_model(out, nodes, inits, [1, 1, 8, 8], [1, 10], graph_name="digits_cnn")
write_fixture(out, path, [1, 1, 8, 8], Xte, yte, Xtr[:300], {"source": "sklearn digits", "numpy_test_accuracy": acc})
