#!/usr/bin/env python3
"""Verifier size and verification gas: cipherproof's generated verifiers vs EZKL's.

For each model (testdata/models/ezkl/<name>/network.onnx, calibrated and proven on its input.json):
compile with the default column budget and with --max-advice-columns 1 (the cheapest verifier),
prove, then `cipherproof verifier --proof` compiles the verifier with the pinned solc and runs the
proof through it in revm (gas of the whole transaction: 21,000 + calldata + execution).

EZKL's figures are gas used by the verify transaction on anvil, measured on this machine on 2026-11-22
with ezkl 23.0.5 (../shared/peers/ezkl/results-evm-2026-11-22.md); gas is deterministic, so comparing
across runs is sound.

  python bench/evm_gas.py [--models digits_mlp ...] [--write docs/BENCHMARKS.md]
"""
import argparse, json, os, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.environ.get("BENCH_WORK", "/tmp/cipherproof-bench") + "/gas"
BEGIN, END = "<!-- evm-gas:begin -->", "<!-- evm-gas:end -->"
EZKL = {  # model: (verify tx gasUsed, runtime code bytes)
    "1l_conv": (552512, 13411), "1l_mlp": (544782, 13410), "1l_relu": (544201, 13410),
    "2l_relu_sigmoid_small": (613430, 15194), "3l_relu_conv_fc": (1260853, 13401),
    "digits_mlp": (607074, 13391), "lenet_5": (1668615, 13401), "linear_regression": (540925, 13419),
    "decision_tree": (779289, 19660), "xgboost": (852029, 21554), "lstm": (682212, 17029),
}
DEFAULT_MODELS = ["1l_relu", "1l_mlp", "linear_regression", "1l_conv", "digits_mlp", "2l_relu_sigmoid_small", "3l_relu_conv_fc",
                  "decision_tree", "xgboost", "lstm"]
# Models with several outputs: those cipherproof proves (EZKL makes every output public).
OUTPUT = json.load(open(os.path.join(ROOT, "testdata", "models", "ezkl", "proven_outputs.json")))["outputs"]


def run(cmd, env):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError((p.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(p.stdout)


def measure(binary, name, cols, env):
    src = os.path.join(ROOT, "testdata", "models", "ezkl", name)
    d = os.path.join(WORK, f"{name}-{cols or 'default'}")
    inp = os.path.join(src, "input.json")
    extra = ["--max-advice-columns", str(cols)] if cols else []
    extra += ["--output", OUTPUT[name]] if name in OUTPUT else []
    c = run([binary, "compile", os.path.join(src, "network.onnx"), "--out", d, "--calibration", inp, "--json", *extra], env)
    run([binary, "prove", "--model", d, "--input", inp, "--out", os.path.join(d, "proof.json"), "--json"], env)
    v = run([binary, "verifier", "--model", d, "--out", os.path.join(d, "evm"), "--proof", os.path.join(d, "proof.json"), "--json"], env)
    return {"k": c["k"], "columns": c["advice_columns"], "bytes": v["runtime_bytes"], "gas": v["verify_gas"], "ok": v["evm_verified"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cipherproof"))
    ap.add_argument("--write")
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    env = dict(os.environ, CIPHERPROOF_CACHE=os.path.join(WORK, "cache"))
    lines = ["| model | default: k / advice cols / runtime B / gas | 1 column: k / runtime B / gas | EZKL gas (runtime B) | gas vs EZKL (best) |", "|---|---|---|---|---|"]
    for name in a.models:
        print(f"== {name}", flush=True)
        try:
            d, one = measure(a.bin, name, None, env), measure(a.bin, name, 1, env)
        except Exception as ex:  # noqa: BLE001 - reported in the table
            lines.append(f"| {name} | {ex} | | | |"); continue
        assert d["ok"] and one["ok"], name
        eg, eb = EZKL[name]
        best = min(d["gas"], one["gas"])
        lines.append(f"| {name} | {d['k']} / {d['columns']} / {d['bytes']} / {d['gas']:,} | {one['k']} / {one['bytes']} / {one['gas']:,} "
                     f"| {eg:,} ({eb}) | **{best / eg:.2f}×** ({eg - best:,} less) |")
    text = ("Verify-transaction gas in revm at Osaka rules (mainnet since Fusaka; anvil 1.7.1's default) — 21,000 + calldata + "
            "execution — of the verifier `cipherproof verifier` generates and "
            "compiles with the pinned solc 0.8.19, every proof accepted; EZKL 23.0.5's figures measured on anvil on this machine "
            "(`bench/evm_gas.py`).\n\n" + "\n".join(lines))
    print(text)
    if a.write:
        doc = open(a.write).read()
        if BEGIN not in doc:
            doc += f"\n## On-chain verification gas: cipherproof vs EZKL (issue \"On-chain\")\n\n{BEGIN}\n{END}\n"
        head, rest = doc.split(BEGIN, 1)
        open(a.write, "w").write(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
