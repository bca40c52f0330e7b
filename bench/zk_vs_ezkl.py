#!/usr/bin/env python3
"""cipherproof vs EZKL on the same ONNX files, in one run, on this machine.

For each model (testdata/models/ezkl/<name>/network.onnx with its input.json), runs EZKL 23.0.5
(gen_settings -> calibrate -> compile -> witness -> setup -> prove -> verify, each step in its own
process under /usr/bin/time -v) and cipherproof (compile -> prove -> verify, release binary, same
input used for calibration), alternating per model so both see the same machine load.

  python bench/zk_vs_ezkl.py [--models digits_mlp 1l_mlp ...] [--reps 2] [--max-advice-columns N] [--tune N]
                             [--write docs/BENCHMARKS.md]

Work files go to $BENCH_WORK (default /tmp/cipherproof-bench). EZKL is installed there in a venv
(bench/requirements-ezkl.txt). Both SRSs are generated locally (UNSAFE, benchmarks only) and excluded
from the timings. Prove times are the best of --reps runs; peak RSS is that of the prove process.
"""
import argparse, json, os, re, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.environ.get("BENCH_WORK", "/tmp/cipherproof-bench")
DEFAULT_MODELS = ["1l_relu", "1l_mlp", "linear_regression", "1l_conv", "digits_mlp", "3l_relu_conv_fc", "2l_relu_sigmoid_small", "decision_tree",
                  "xgboost", "lstm", "lenet_5"]
# Models with several outputs: those cipherproof proves (EZKL makes every output public).
OUTPUT = json.load(open(os.path.join(ROOT, "testdata", "models", "ezkl", "proven_outputs.json")))["outputs"]
BEGIN, END = "<!-- zk-vs-ezkl:begin -->", "<!-- zk-vs-ezkl:end -->"


def timed(cmd, env=None):
    """Runs cmd under GNU time; returns (stdout, stderr, wall seconds, peak RSS MB, returncode)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return p.stdout, p.stderr, wall, (int(m.group(1)) / 1024 if m else float("nan")), p.returncode


def error_line(stderr):
    """The tool's own error message, not GNU time's report that follows it."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    return next((l for l in lines if l.startswith("error:")), lines[0] if lines else "failed")


def ezkl_python():
    venv = os.path.join(WORK, "ezkl-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "-r", os.path.join(ROOT, "bench", "requirements-ezkl.txt")], check=True)
    return py


def run_ezkl(py, name, reps):
    d = os.path.join(WORK, "ezkl", name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "testdata", "models", "ezkl", name), d)
    env = dict(os.environ, SRS_DIR=os.path.join(WORK, "ezkl-srs"))
    step_py = os.path.join(ROOT, "bench", "ezkl_step.py")
    res = {}

    def step(s, *extra):
        out, err, wall, rss, rc = timed([py, step_py, s, d, *extra], env)
        line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
        if rc != 0 or line is None:
            raise RuntimeError(f"ezkl {s} failed: {err.strip().splitlines()[-1] if err.strip() else rc}")
        return json.loads(line[7:]), rss

    step("gen_settings")
    try:
        step("calibrate", "resources")
    except RuntimeError:
        shutil.copy(os.path.join(d, "settings_default.json"), os.path.join(d, "settings.json"))
    step("compile"); step("witness"); step("srs")
    r, rss = step("setup")
    res["keygen_s"], res["keygen_rss"] = r["secs"], rss
    best, best_rss = None, 0.0
    for i in range(reps):
        r, rss = step("prove", "proof.json")
        best = r["secs"] if best is None else min(best, r["secs"])
        best_rss = max(best_rss, rss)
    res["prove_s"], res["prove_rss"] = best, best_rss
    r, _ = step("verify")
    res["verify_s"] = r["secs"]
    settings = json.load(open(os.path.join(d, "settings.json")))
    res["k"] = settings["run_args"]["logrows"]
    res["rows"] = settings.get("num_rows")
    proof = json.load(open(os.path.join(d, "proof.json")))
    hexp = proof.get("hex_proof") or ""
    res["proof_bytes"] = (len(hexp) - 2) // 2 if hexp else len(proof.get("proof", []))
    return res


def run_ours(binary, name, reps, max_advice=None, tune=0):
    src = os.path.join(ROOT, "testdata", "models", "ezkl", name)
    d = os.path.join(WORK, "ours", name)
    shutil.rmtree(d, ignore_errors=True)
    env = dict(os.environ, CIPHERPROOF_CACHE=os.path.join(WORK, "ours-cache"))
    inp = os.path.join(src, "input.json")
    budget = ["--max-advice-columns", str(max_advice)] if max_advice else []
    budget += ["--tune", str(tune)] if tune > 1 else []
    budget += ["--output", OUTPUT[name]] if name in OUTPUT else []
    out, err, _, _, rc = timed([binary, "compile", os.path.join(src, "network.onnx"), "--out", d, "--calibration", inp, "--json", *budget], env)
    if rc != 0:
        raise RuntimeError(error_line(err))
    c = json.loads(out)
    # Keygen alone: the SRS is cached by then (compile above generated it); time a second compile.
    out, _, _, keygen_rss, _ = timed([binary, "compile", os.path.join(src, "network.onnx"), "--out", d, "--calibration", inp, "--json", *budget], env)
    c2 = json.loads(out)
    # The second compile's layout is the one proven below (with --tune, noise may pick another).
    res = {"k": c2["k"], "rows": c2["advice_cells"], "columns": c2["advice_columns"], "keygen_s": c2["keygen_s"], "keygen_rss": keygen_rss}
    best, best_rss = None, 0.0
    for _ in range(reps):
        out, err, _, rss, rc = timed([binary, "prove", "--model", d, "--input", inp, "--out", os.path.join(d, "proof.json"), "--json"], env)
        if rc != 0:
            raise RuntimeError(error_line(err))
        p = json.loads(out)
        best = p["prove_s"] if best is None else min(best, p["prove_s"])
        best_rss = max(best_rss, rss)
        res["proof_bytes"] = p["proof_bytes"]
    res["prove_s"], res["prove_rss"] = best, best_rss
    _, err, wall, _, rc = timed([binary, "verify", "--model", d, "--proof", os.path.join(d, "proof.json")], env)
    if rc != 0:
        raise RuntimeError(error_line(err))
    res["verify_s"] = wall
    return res


def fmt(v, digits=3):
    return "-" if v is None else (f"{v:.{digits}f}" if isinstance(v, float) else str(v))


def table(rows):
    head = ("| model | k (ours / EZKL) | our advice cells / columns | EZKL rows | keygen s (ours / EZKL) | prove s (ours / EZKL) "
            "| prove speed-up | verify s (ours / EZKL) | proof B (ours / EZKL) | prove peak RSS MB (ours / EZKL) | RSS ratio |")
    lines = [head, "|" + "---|" * 11]
    for name, o, e, err in rows:
        if err:
            lines.append(f"| {name} | {err} |" + " |" * 9)
            continue
        lines.append(
            f"| {name} | {o['k']} / {e['k']} | {o['rows']} / {o['columns']} | {e['rows']} | {fmt(o['keygen_s'])} / {fmt(e['keygen_s'])} "
            f"| {fmt(o['prove_s'])} / {fmt(e['prove_s'])} | **{e['prove_s'] / o['prove_s']:.1f}×** | {fmt(o['verify_s'])} / {fmt(e['verify_s'])} "
            f"| {o['proof_bytes']} / {e['proof_bytes']} | {o['prove_rss']:.0f} / {e['prove_rss']:.0f} | {e['prove_rss'] / o['prove_rss']:.1f}× less |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cipherproof"))
    ap.add_argument("--write")
    ap.add_argument("--max-advice-columns", type=int,
                    help="our planner's column budget (default: compile's, 8, which keeps the EVM verifier deployable)")
    ap.add_argument("--tune", type=int, default=0,
                    help="our compile measures this many layouts and keeps the fastest (keygen s is still one keygen)")
    a = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    py = ezkl_python()
    rows = []
    for name in a.models:
        print(f"== {name}  (load {open('/proc/loadavg').read().split()[0]})", flush=True)
        try:
            e = run_ezkl(py, name, a.reps)
        except Exception as ex:  # noqa: BLE001 - reported in the table
            rows.append((name, None, None, f"EZKL failed: {ex}")); continue
        try:
            o = run_ours(a.bin, name, a.reps, a.max_advice_columns, a.tune)
        except Exception as ex:  # noqa: BLE001
            rows.append((name, None, None, f"cipherproof: {ex}")); continue
        print(f"   ours prove {o['prove_s']:.3f}s k={o['k']}  ezkl prove {e['prove_s']:.3f}s k={e['k']}", flush=True)
        rows.append((name, o, e, None))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    text = (f"Run of {time.strftime('%Y-%m-%d')} by `bench/zk_vs_ezkl.py` on {os.cpu_count()} cores ({cpu}); EZKL 23.0.5 from PyPI; "
            f"best of {a.reps} prove runs; both with locally generated (unsafe) SRSs, excluded from times; our column budget "
            + (f"{a.max_advice_columns} (`--max-advice-columns`)" if a.max_advice_columns else "the default 8")
            + (f", layout measured among {a.tune} (`compile --tune`)" if a.tune > 1 else "")
            + ".\n\n" + table(rows))
    print(text)
    if a.write:
        doc = open(a.write).read()
        if BEGIN not in doc:
            doc += f"\n## Proven inference: cipherproof vs EZKL (issue \"Proven inference\")\n\n{BEGIN}\n{END}\n"
        head, rest = doc.split(BEGIN, 1)
        open(a.write, "w").write(f"{head}{BEGIN}\n{text}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
