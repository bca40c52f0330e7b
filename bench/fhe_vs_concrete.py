#!/usr/bin/env python3
"""cipherproof FHE vs Concrete ML 1.9.0 on the breast-cancer models, in one run, on this machine.

Concrete ML runs in its own venv under $BENCH_WORK (default /tmp/cipherproof-bench), installed from
bench/requirements-concrete.txt. cipherproof: `fhe keygen` on the fixture (quantized with its
calibration set), then `fhe bench` (in-process per-sample round trip: encrypt, serialize, evaluate,
serialize, decrypt) over all 114 test samples; Concrete ML LR over the same 114. MLP 30-16-2: ours is
testdata/models/breast_cancer_mlp_qat (quantization-aware trained by its gen.py: 3-bit weights, 4-bit
inputs and hidden activations, 8-bit logits; `fhe keygen` with the compile flags in its meta.json,
hidden layer bootstrapped) over --our-mlp-samples test samples (default all 114: equality with the
plaintext integer model on each); Concrete ML's NeuralNetClassifier (4/4 bits, quantization-aware
training) over --mlp-samples. Decision tree (depth 5): ours is testdata/models/breast_cancer_tree (scikit-learn's
tree on 6-bit features in GEMM form, `fhe keygen` with its meta.json flags) over all 114 test samples; Concrete ML's
DecisionTreeClassifier(n_bits=6, max_depth=5) over --tree-samples. Boosted trees (20 of depth 3): ours is
testdata/models/breast_cancer_gbt (scikit-learn's GradientBoostingClassifier, same features and form) over
--our-gbt-samples; Concrete ML's XGBClassifier(n_bits=6, n_estimators=20, max_depth=3) over --gbt-samples.

  python bench/fhe_vs_concrete.py [--mlp-samples 5] [--our-mlp-samples 114] [--tree-samples 30]
                                  [--gbt-samples 10] [--our-gbt-samples 20] [--write docs/BENCHMARKS.md]
"""
import argparse, json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.environ.get("BENCH_WORK", "/tmp/cipherproof-bench")
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cipherproof")
LR = os.path.join(ROOT, "testdata/models/breast_cancer_lr")
MLP = os.path.join(ROOT, "testdata/models/breast_cancer_mlp_qat")
TREE = os.path.join(ROOT, "testdata/models/breast_cancer_tree")
GBT = os.path.join(ROOT, "testdata/models/breast_cancer_gbt")
BEGIN, END = "<!-- fhe-vs-concrete:begin -->", "<!-- fhe-vs-concrete:end -->"


def concrete_python():
    venv = os.path.join(WORK, "concrete-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "-r", os.path.join(ROOT, "bench", "requirements-concrete.txt")], check=True)
    return py


def run_json(cmd):
    """Runs cmd and parses the JSON object on its last line of output."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compile_flags(fixture):
    """The quantization flags a fixture was made for (its meta.json)."""
    return json.load(open(os.path.join(fixture, "meta.json")))["compile_flags"].split()


def ours(fixture, name, keygen_flags, bench_flags=()):
    """`fhe keygen` on the fixture's model, then `fhe bench` over its test set: both reports."""
    keys = os.path.join(WORK, f"fhe-{name}-keys")
    kg = run_json([BIN, "fhe", "keygen", "--model", os.path.join(fixture, "model.onnx"), "--out", keys] + list(keygen_flags))
    bench = run_json([BIN, "fhe", "bench", "--keys", keys, "--input", os.path.join(fixture, "test.json")] + list(bench_flags))
    return kg, bench


def concrete(py, which, samples):
    return run_json([py, os.path.join(ROOT, "bench", "concrete_peer.py"), which, str(samples)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlp-samples", type=int, default=5)
    ap.add_argument("--our-mlp-samples", type=int, default=114)
    ap.add_argument("--tree-samples", type=int, default=30)
    ap.add_argument("--gbt-samples", type=int, default=10)
    ap.add_argument("--our-gbt-samples", type=int, default=20)
    ap.add_argument("--write")
    a = ap.parse_args()
    py = concrete_python()
    kg, lr = ours(LR, "lr", ["--calibration", os.path.join(LR, "calibration.json")], ["--batch"])
    mkg, mlp = ours(MLP, "mlp", compile_flags(MLP), ["--limit", str(a.our_mlp_samples)])
    tkg, tree = ours(TREE, "tree", compile_flags(TREE))
    gkg, gbt = ours(GBT, "gbt", compile_flags(GBT), ["--limit", str(a.our_gbt_samples)])
    res = {"ours_lr": lr, "ours_keygen": kg, "concrete_lr": concrete(py, "lr", 114),
           "ours_mlp": mlp, "ours_mlp_keygen": mkg, "concrete_mlp": concrete(py, "mlp", a.mlp_samples),
           "ours_tree": tree, "ours_tree_keygen": tkg, "concrete_tree": concrete(py, "tree", a.tree_samples),
           "ours_gbt": gbt, "ours_gbt_keygen": gkg, "concrete_gbt": concrete(py, "xgb", a.gbt_samples)}
    print(json.dumps(res, indent=2))
    if a.write:
        write(a.write, res)


def plan_words(keygen):
    """What a tree's hidden layers bootstrap, from `fhe keygen`'s report."""
    words = []
    for layer in keygen["hidden_layers"]:
        n, total, fast = layer["values"], layer["bootstraps"], layer["fast_key_bootstraps"]
        split = layer.get("split")
        if split:
            what = (f"{n} node tests read feature by feature: {split['features']} features split once (2 each), "
                    f"{split['low_tests']} low-digit tests, {n} signs")
        elif layer.get("tables"):
            what = f"the leaves read by {n} tables"
        elif layer["activation"] == "Zero":
            what = f"{n} leaf tests × {layer['bootstraps_per_value']}"
        else:
            what = f"{n} node tests × {layer['bootstraps_per_value']} (a digit cleared, the sign read)"
        words.append(f"{what}; {fast} of its {total} with the fast key")
    return "; ".join(words)


def write(path, r):
    o, k, c, m = r["ours_lr"], r["ours_keygen"], r["concrete_lr"], r["concrete_mlp"]
    om, mk = r["ours_mlp"], r["ours_mlp_keygen"]
    ot, tk, ct = r["ours_tree"], r["ours_tree_keygen"], r["concrete_tree"]
    og, gk, cg = r["ours_gbt"], r["ours_gbt_keygen"], r["concrete_gbt"]
    hid = mk["hidden_layers"][0]
    text = f"""{BEGIN}
Machine: this 2-core box, `python bench/fhe_vs_concrete.py`, {time.strftime('%Y-%m-%d')}, one run. One sample
at a time, client and server in one process for cipherproof (ciphertexts serialized and parsed between
them); Concrete ML's own `encrypt` / `run` / `decrypt`. Within a sample both may use both cores: ours
bootstraps a layer's values in parallel (rayon), Concrete ML compiles with its default loop parallelization.

| breast cancer | system | accuracy | client encrypt ms | server ms | client decrypt ms | end to end ms | ratio |
|---|---|---|---|---|---|---|---|
| logistic regression | cipherproof (LWE n=2048, Δ=2^{k['log_delta']}) | {o['accuracy']:.4f} | {o['client_encrypt_ms']:.3f} | {o['server_ms']:.3f} | {o['client_decrypt_ms']:.3f} | **{o['end_to_end_ms']:.3f}** | **{c['end_to_end_ms'] / o['end_to_end_ms']:.1f}× faster** |
| logistic regression | Concrete ML 1.9.0 (n_bits 8) | {c['accuracy']:.4f} | {c['client_encrypt_ms']:.3f} | {c['server_ms']:.3f} | {c['client_decrypt_ms']:.3f} | {c['end_to_end_ms']:.3f} | 1 |
| MLP 30-16-2 | Concrete ML 1.9.0 ({m['samples']} samples) | {m['accuracy']:.4f} | {m['client_encrypt_ms']:.1f} | {m['server_ms']:.1f} | {m['client_decrypt_ms']:.1f} | {m['end_to_end_ms']:.1f} | keygen {m['keygen_s']:.1f} s |
| MLP 30-16-2 | cipherproof ({om['samples']} samples; QAT: 3-bit weights, 4-bit activations, 8-bit logits; exact) | {om['accuracy']:.4f} | {om['client_encrypt_ms']:.1f} | **{om['server_ms']:.1f}** | {om['client_decrypt_ms']:.1f} | {om['end_to_end_ms']:.1f} | server **{m['server_ms'] / om['server_ms']:.2f}×** Concrete ML's speed; keygen {mk['keygen_s']:.1f} s |
| decision tree, depth 5 | Concrete ML 1.9.0 (n_bits 6, {ct['samples']} samples) | {ct['accuracy']:.4f} | {ct['client_encrypt_ms']:.1f} | {ct['server_ms']:.1f} | {ct['client_decrypt_ms']:.1f} | {ct['end_to_end_ms']:.1f} | keygen {ct['keygen_s']:.1f} s |
| decision tree, depth 5 | cipherproof ({ot['samples']} samples; 6-bit features; exact) | {ot['accuracy']:.4f} | {ot['client_encrypt_ms']:.1f} | **{ot['server_ms']:.1f}** | {ot['client_decrypt_ms']:.1f} | {ot['end_to_end_ms']:.1f} | server **{ct['server_ms'] / ot['server_ms']:.2f}×** Concrete ML's speed; keygen {tk['keygen_s']:.1f} s |
| boosted trees, 20 × depth 3 | Concrete ML 1.9.0 XGBClassifier (n_bits 6, {cg['samples']} samples) | {cg['accuracy']:.4f} | {cg['client_encrypt_ms']:.1f} | {cg['server_ms']:.1f} | {cg['client_decrypt_ms']:.1f} | {cg['end_to_end_ms']:.1f} | keygen {cg['keygen_s']:.1f} s |
| boosted trees, 20 × depth 3 | cipherproof GradientBoostingClassifier ({og['samples']} samples; 6-bit features; exact) | {og['accuracy']:.4f} | {og['client_encrypt_ms']:.1f} | **{og['server_ms']:.1f}** | {og['client_decrypt_ms']:.1f} | {og['end_to_end_ms']:.1f} | server **{cg['server_ms'] / og['server_ms']:.2f}×** Concrete ML's speed; keygen {gk['keygen_s']:.1f} s |

cipherproof LR: decrypted outputs equal the plaintext integer model on {o['equal_to_plaintext_integer_model']}/{o['samples']}
samples; failure probability {o['log2_p_fail']} (worst-case error 2^{k['worst_case_error_log2']:.1f} < Δ/2 = 2^{k['log_delta'] - 1});
keys: client {k['client_key_bytes']} B, server {k['server_key_bytes']} B (no evaluation key: no bootstrapping),
keygen {k['keygen_s'] * 1e3:.2f} ms; ciphertexts: input {o['input_ciphertext_bytes']} B (one seeded GLWE), output
{o['output_ciphertext_bytes']} B; the 114 samples as one parallel batch: {o.get('server_batch_ms', float('nan')):.1f} ms server.

cipherproof MLP: decrypted outputs equal the plaintext integer model on {om['equal_to_plaintext_integer_model']}/{om['samples']}
samples; hidden layer: shift {hid['shift']}, {hid['window_bits']}-bit window, digits {hid['digit_bits']}, {hid['bootstraps_per_value']}
bootstraps per hidden value ({hid['fast_key_bootstraps_per_value']} with the fast key; digits read with the {hid['digit_key'].lower()} key, the
window with the {hid['window_key'].lower()} key, accurate key {mk['bootstrap_params']['pbs_level']} levels of 2^{mk['bootstrap_params']['pbs_base_log']}),
{om['bootstraps_per_sample']} per sample (Concrete ML: 80); failure ≤ 2^{hid['log2_p_fail_per_bootstrap']:.1f} per
bootstrap, 2^{mk['log2_p_fail_bootstraps_per_sample']:.1f} per sample; keys: client {mk['client_key_bytes']} B, server (compressed)
{mk['server_key_bytes'] / 1e6:.1f} MB, expanded by the server in {om['server_key_setup_s']:.2f} s (once, not in the per-sample time).

cipherproof decision tree: decrypted outputs equal the plaintext integer model on {ot['equal_to_plaintext_integer_model']}/{ot['samples']}
samples; {ot['bootstraps_per_sample']} bootstraps per sample ({plan_words(tk)}); failure 2^{tk['log2_p_fail_bootstraps_per_sample']:.1f} per sample; server key
(compressed) {tk['server_key_bytes'] / 1e6:.1f} MB. Boosted trees: {og['equal_to_plaintext_integer_model']}/{og['samples']} equal;
{og['bootstraps_per_sample']} bootstraps per sample ({plan_words(gk)}); failure
2^{gk['log2_p_fail_bootstraps_per_sample']:.1f} per sample; server key (compressed) {gk['server_key_bytes'] / 1e6:.1f} MB. The accuracies
are over the samples each system ran (scikit-learn's on all 114: tree 0.9386, boosted trees 0.9474).
{END}"""
    doc = open(path).read()
    if BEGIN in doc:
        doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc += "\n## Encrypted inference: cipherproof vs Concrete ML (issue \"Encrypted inference\")\n" + text + "\n"
    open(path, "w").write(doc)


if __name__ == "__main__":
    main()
