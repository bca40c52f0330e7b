#!/usr/bin/env python3
"""Live cross-check of cipherproof against onnxruntime on every fixture, through the CLI.

For each trained fixture (testdata/models/<name>/): onnxruntime runs test.json now, cipherproof runs
`run --batch test.json --calibration calibration.json --json`; float outputs must agree within
1e-4 * max(1, |onnxruntime|), and the table reports float/quantized accuracy and argmax agreement.
For EZKL's examples (testdata/models/ezkl/<name>/): the same on input.json, or, where cipherproof does
not support the model, its error must name the unsupported operator.

--write-benchmarks FILE replaces the section between the model-import markers of FILE with the table.
Exit status 1 on any mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "testdata", "models")
BEGIN, END = "<!-- model-import:begin -->", "<!-- model-import:end -->"


def ort_run(model, samples, output=None):
    """onnxruntime's first output, or the one named `output`, per sample."""
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    wanted = [output] if output else None
    return np.array([np.asarray(sess.run(wanted, {inp.name: np.asarray(s, np.float32).reshape(shape)})[0], np.float64).reshape(-1)
                     for s in samples])


def cli(binary, *args):
    t = time.perf_counter()
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    return p, time.perf_counter() - t


def within(ours, ref):
    diff = np.abs(ours - ref)
    return float(diff.max()), bool(np.all(diff <= 1e-4 * np.maximum(1.0, np.abs(ref))))


def trained(binary, rows, failures):
    for name in sorted(os.listdir(MODELS)):
        d = os.path.join(MODELS, name)
        if not os.path.exists(os.path.join(d, "test.json")):
            continue
        test = json.load(open(os.path.join(d, "test.json")))
        x, y = test["inputs"], np.array(test["labels"])
        # Models with several outputs (skl2onnx's label and probabilities) name theirs in meta.json.
        output = json.load(open(os.path.join(d, "meta.json"))).get("output")
        ref = ort_run(os.path.join(d, "model.onnx"), x, output)
        pick = ["--output", output] if output else []
        p, secs = cli(binary, "run", "--model", os.path.join(d, "model.onnx"), "--batch", os.path.join(d, "test.json"),
                      "--calibration", os.path.join(d, "calibration.json"), "--json", *pick)
        if p.returncode != 0:
            failures.append(f"{name}: cipherproof failed: {p.stderr.strip()}")
            continue
        out = json.loads(p.stdout)
        diff, ok = within(np.array(out["outputs"]), ref)
        if not ok:
            failures.append(f"{name}: float outputs differ from onnxruntime by {diff:.2e}")
        q, f = np.array(out["argmax"]), np.array(out["float_argmax"])
        rows.append((name, len(x), f"{diff:.1e}", f"{(ref.argmax(1) == y).mean():.4f}", f"{(q == y).mean():.4f}",
                     f"{(q == f).mean():.4f} ({int((q == f).sum())}/{len(x)})", f"{secs * 1000 / len(x):.2f}"))


OUTPUT = {"xgboost": "output", "lstm": "output"}


def ezkl(binary, rows, failures):
    base = os.path.join(MODELS, "ezkl")
    for name in sorted(os.listdir(base)):
        d = os.path.join(base, name)
        if not os.path.isdir(d):
            continue
        model, inp = os.path.join(d, "network.onnx"), os.path.join(d, "input.json")
        x = json.load(open(inp))["input_data"]
        # Models with several outputs: the one cipherproof computes (onnxruntime's first).
        pick = ["--output", OUTPUT[name]] if name in OUTPUT else []
        p, _ = cli(binary, "run", "--model", model, "--input", inp, "--json", *pick)
        if p.returncode != 0:
            ok = "unsupported operator" in p.stderr
            rows.append((name, "unsupported: " + p.stderr.strip().split("unsupported operator ")[-1], "", ""))
            if not ok:
                failures.append(f"ezkl/{name}: failed without naming an operator: {p.stderr.strip()}")
            continue
        out = json.loads(p.stdout)
        try:
            ref, status = ort_run(model, x), "runs"
        except Exception:  # noqa: BLE001 - onnxruntime cannot load it: onnx's reference evaluator
            r = json.load(open(os.path.join(d, "reference.json")))  # (gen_reference.py)
            if not np.allclose(r["inputs"][0], x[0]):
                failures.append(f"ezkl/{name}: reference.json does not start with input.json's sample")
            ref, status = np.array(r["outputs"][:1]), "runs†"
        diff, ok = within(np.array(out["outputs"]), ref)
        if not ok:
            failures.append(f"ezkl/{name}: float outputs differ from the reference by {diff:.2e}")
        status += f" (`--output {OUTPUT[name]}`)" if name in OUTPUT else ""
        rows.append((name, status, f"{diff:.1e}", "yes" if out["argmax"] == out["float_argmax"] else "NO"))


CPU = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")


def markdown(binary, trained_rows, ezkl_rows):
    lines = [
        f"Measured by `scripts/check_onnxruntime.py` (onnxruntime {ort.__version__}); default quantization "
        "(10-bit weights, 16-bit activations, 12-bit lookup tables, 1 bit of headroom), calibrated on each "
        "fixture's calibration.json (training samples), evaluated on its test set. "
        f"Run of {time.strftime('%Y-%m-%d')} ({os.path.basename(os.path.dirname(os.path.abspath(binary)))} binary, "
        f"{os.cpu_count()} cores, {CPU}).",
        "",
        "| fixture | test samples | max \\|float − onnxruntime\\| | float accuracy | quantized accuracy | argmax agreement | CLI ms/sample* |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in trained_rows]
    lines += ["", "\\* whole `cipherproof run --batch` wall time (import, calibration, float and integer runs) divided by the samples.", "",
              "EZKL's example models, used as they are (`testdata/models/ezkl/`, input.json, calibrated on that input):", "",
              "| model | status | max \\|float − onnxruntime\\| | quantized argmax = float |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in ezkl_rows]
    lines += ["", "† onnxruntime cannot load it (an int8 MatMul): compared with onnx's own reference evaluator "
              "instead (`reference.json`, `testdata/models/ezkl/gen_reference.py`)."]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--write-benchmarks")
    a = ap.parse_args()
    trained_rows, ezkl_rows, failures = [], [], []
    trained(a.bin, trained_rows, failures)
    ezkl(a.bin, ezkl_rows, failures)
    table = markdown(a.bin, trained_rows, ezkl_rows)
    print(table)
    if a.write_benchmarks:
        text = open(a.write_benchmarks).read()
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        open(a.write_benchmarks, "w").write(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    if failures:
        print("\nonnxruntime cross-check FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"\nonnxruntime cross-check: {len(trained_rows)} fixtures and {len(ezkl_rows)} EZKL examples OK")


if __name__ == "__main__":
    main()
