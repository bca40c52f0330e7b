#!/usr/bin/env python3
"""breast_cancer_mlp_qat: the 30-16-2 ReLU MLP on breast cancer (Concrete ML's split), trained
quantization-aware for encrypted inference: 4-bit inputs and hidden activations, 3-bit weights
with at most 6 non-zero weights per hidden unit, 8-bit logits.

Training's forward pass follows the integer model that `cipherproof compile MODEL --input-range
0.875 --activation-bits 4 --weight-bits 3 --output-bits 8` builds: inputs, weights and hidden values
fake-quantized at the quantizer's power-of-two scales, with straight-through gradients through the
roundings (biases and the 8-bit output layer stay float while training). `integer_model` then
computes that integer model exactly as model/src/quant builds it, from the exported weights.
Inputs are standard-scaled and clipped to ±0.875 (the preprocessing, like the scaler, is outside
the graph: test.json and calibration.json hold clipped features). The exported weights lie on
their quantization grid, so quantizing them again gives exactly the trained integer model.

The seed is chosen on the training set only (training accuracy among the seeds whose hidden
layer needs at most a 4-bit shift and a 4-bit window: three bootstraps per hidden value); the
test set is used once, for the figures in meta.json."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

INPUT_RANGE = 0.875   # |x| after clipping; 4-bit inputs at scale 2^3: integers in [-7, 7]
ACT_BITS = 4          # inputs and hidden activations
WEIGHT_BITS = 3
OUTPUT_BITS = 8
NONZERO = 6           # non-zero weights per hidden unit (keeps the accumulator, and so the shift, small)
HIDDEN = 16
SEEDS = range(8)
STEPS = 3000


def fit_scale(max_abs, bits):
    """`fitting_scale` of model/src/quant/fixed.rs (no headroom)."""
    return math.floor(math.log2(((1 << (bits - 1)) - 1) / max_abs))


def q(v, s):
    """`quantize_scalar`: round half away from zero."""
    return np.sign(v) * np.floor(np.abs(v) * 2.0 ** s + 0.5)


def round_shift(v, d):
    return v if d == 0 else np.floor((v + 2.0 ** (d - 1)) / 2.0 ** d)


def integer_model(W1, b1, W2, b2):
    """The integer model the quantizer builds from these float weights (input-range scales)."""
    s_in = fit_scale(INPUT_RANGE, ACT_BITS)
    s_w1 = fit_scale(np.abs(W1).max(), WEIGHT_BITS)
    B1 = (np.abs(W1).sum(1) * INPUT_RANGE + np.abs(b1)).max()
    s_h = min(fit_scale(B1, ACT_BITS), s_in + s_w1)
    s_w2 = fit_scale(np.abs(W2).max(), WEIGHT_BITS)
    B2 = (np.abs(W2).sum(1) * B1 + np.abs(b2)).max()
    s_o = min(fit_scale(B2, OUTPUT_BITS), s_h + s_w2)
    m = dict(s_in=s_in, s_w1=s_w1, s_h=s_h, s_w2=s_w2, s_o=s_o,
             w1=q(W1, s_w1), b1=q(b1, s_in + s_w1), w2=q(W2, s_w2), b2=q(b2, s_h + s_w2),
             shift1=s_in + s_w1 - s_h, shift2=s_h + s_w2 - s_o)
    # The encrypted plan's worst case over every accepted input (|x_q| <= 2^(bits-1)).
    amax = (np.abs(m["w1"]).sum(1) * (1 << (ACT_BITS - 1)) + np.abs(m["b1"])).max()
    lo, hi = round_shift(-amax, m["shift1"]), round_shift(amax, m["shift1"])
    m["window"] = next(b for b in range(1, 40) if -(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1)
    return m


def as_given(X):
    """The features as the model receives them: clipped, then float32 (test.json, ONNX input)."""
    return np.clip(X, -INPUT_RANGE, INPUT_RANGE).astype(np.float32).astype(np.float64)


def run_integer(m, X):
    xq = q(as_given(X), m["s_in"])
    h = np.maximum(round_shift(xq @ m["w1"].T + m["b1"], m["shift1"]), 0)
    return round_shift(h @ m["w2"].T + m["b2"], m["shift2"])


def fake_quant(W, bits):
    s = fit_scale(np.abs(W).max(), bits)
    return q(W, s) / 2.0 ** s


def train(X, y, seed):
    """Float training for a third of the steps, then quantization-aware (STE), pruned to NONZERO per row."""
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0, 0.3, (HIDDEN, X.shape[1])); b1 = np.zeros(HIDDEN)
    W2 = rng.normal(0, 0.3, (2, HIDDEN)); b2 = np.zeros(2)
    params = [W1, b1, W2, b2]
    m1 = [np.zeros_like(p) for p in params]; m2 = [np.zeros_like(p) for p in params]
    X = as_given(X); Y = np.eye(2)[y]
    lr = 0.01
    for t in range(1, STEPS + 1):
        qat = t > STEPS // 3
        if qat:
            s_in = fit_scale(INPUT_RANGE, ACT_BITS)
            Xq = q(X, s_in) / 2.0 ** s_in
            W1q, W2q = fake_quant(W1, WEIGHT_BITS), fake_quant(W2, WEIGHT_BITS)
            step = 2.0 ** -fit_scale((np.abs(W1).sum(1) * INPUT_RANGE + np.abs(b1)).max(), ACT_BITS)
            z = Xq @ W1q.T + b1
            h = np.clip(np.floor(z / step + 0.5), 0, (1 << (ACT_BITS - 1)) - 1) * step
            live = (z > 0) & (z < ((1 << (ACT_BITS - 1)) - 0.5) * step)
        else:
            Xq, W1q, W2q = X, W1, W2
            z = Xq @ W1q.T + b1
            h = np.maximum(z, 0); live = z > 0
        o = h @ W2q.T + b2
        p = np.exp(o - o.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        g_o = (p - Y) / len(X)
        g_h = (g_o @ W2q) * live
        grads = [g_h.T @ Xq, g_h.sum(0), g_o.T @ h, g_o.sum(0)]
        for i, (w, g) in enumerate(zip(params, grads)):  # Adam
            m1[i] = 0.9 * m1[i] + 0.1 * g; m2[i] = 0.999 * m2[i] + 0.001 * g * g
            w -= lr * (m1[i] / (1 - 0.9 ** t)) / (np.sqrt(m2[i] / (1 - 0.999 ** t)) + 1e-8)
        if qat:
            drop = np.argsort(np.abs(W1), axis=1)[:, :-NONZERO]
            np.put_along_axis(W1, drop, 0.0, axis=1)
    return W1, b1, W2, b2


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    Xtr, ytr, Xte, yte = breast_cancer_split()
    best = None
    for seed in SEEDS:
        W = train(Xtr, ytr, seed)
        m = integer_model(*W)
        acc = float((run_integer(m, Xtr).argmax(1) == ytr).mean())
        ok = m["window"] <= ACT_BITS and m["shift1"] <= 4
        print(f"seed {seed}: train accuracy {acc:.4f}, shift {m['shift1']}, window {m['window']} bits{'' if ok else ' (rejected)'}")
        if ok and (best is None or acc > best[0]):
            best = (acc, seed, m)
    train_acc, seed, m = best
    # Weights on their grid: the quantizer reproduces m exactly.
    W1 = m["w1"] / 2.0 ** m["s_w1"]; b1 = m["b1"] / 2.0 ** (m["s_in"] + m["s_w1"])
    W2 = m["w2"] / 2.0 ** m["s_w2"]; b2 = m["b2"] / 2.0 ** (m["s_h"] + m["s_w2"])
    grid = integer_model(W1, b1, W2, b2)
    for k, v in m.items():
        assert np.array_equal(grid[k], v), f"the exported weights quantize differently: {k}"
    m = grid
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h"], ["hr"], name="relu"),
        helper.make_node("Gemm", ["hr", "fc2.weight", "fc2.bias"], ["logits"], transB=1, name="fc2"),
        helper.make_node("Softmax", ["logits"], ["output"], axis=-1, name="softmax"),
    ]
    inits = [init("fc1.weight", W1), init("fc1.bias", b1), init("fc2.weight", W2), init("fc2.bias", b2)]
    path = save_model(out, nodes, inits, [1, 30], [1, 2], graph_name="breast_cancer_mlp_qat_30_16_2")
    write_fixture(out, path, [1, 30], as_given(Xte), yte, as_given(Xtr), {
        "source": "sklearn breast_cancer, quantization-aware training (numpy, gen.py)",
        "seed": seed,
        "compile_flags": f"--input-range {INPUT_RANGE} --activation-bits {ACT_BITS} --weight-bits {WEIGHT_BITS} --output-bits {OUTPUT_BITS}",
        "integer_train_accuracy": train_acc,
        "integer_test_accuracy": float((run_integer(m, Xte).argmax(1) == yte).mean()),
        "integer_test_predictions": "".join(str(int(v)) for v in run_integer(m, Xte).argmax(1)),
        "hidden_shift": int(m["shift1"]),
        "hidden_window_bits": int(m["window"]),
    })


if __name__ == "__main__":
    main()
