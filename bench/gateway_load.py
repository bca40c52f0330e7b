#!/usr/bin/env python3
"""The gateway under load, on this machine, loopback only, bounded in time.

Starts `cipherproof serve` (release binary) with a fresh data directory, registers the digits MLP,
then measures with `cipherproof client load`:
  1. PLAIN inference, 64 concurrent clients: requests/s and latency percentiles;
  2. 64 clients against a gateway limited to --max-in-flight 16 (4x its admission limit):
     how many are shed with RESOURCE_EXHAUSTED, that it stays up, and its peak RSS before and after;
  3. PROVEN: end-to-end job time (Infer PROVEN -> job SUCCEEDED, via `client infer --prove --wait`)
     against the bare prover (`cipherproof prove` on the gateway's own compiled model), same input,
     alternating, best of --reps;
  4. PROVEN at 4x overload: open-loop requests at 4x the measured proof rate (1 / prove time) for
     --seconds against --max-queue 16: the queue fills, the rest is shed with RESOURCE_EXHAUSTED,
     memory stays flat, the gateway keeps serving.

  python bench/gateway_load.py [--reps 5] [--seconds 10] [--write docs/BENCHMARKS.md]
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "cipherproof")
MODEL = os.path.join(ROOT, "testdata/models/digits_mlp/model.onnx")
INPUT = os.path.join(ROOT, "testdata/models/digits_mlp/input.json")
BEGIN, END = "<!-- gateway-load:begin -->", "<!-- gateway-load:end -->"


def serve(data, *flags):
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data, *flags],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    addr = p.stdout.readline().strip().removeprefix("listening on ")
    return p, "http://" + addr


def rss_mb(pid, key="VmHWM"):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"{key}:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def run_json(*args):
    out = subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def load(addr, seconds, concurrency, threads):
    return run_json("client", "load", "--addr", addr, "--model", "digits", "--input", INPUT,
                    "--concurrency", str(concurrency), "--duration-secs", str(seconds), "--threads", str(threads))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--write")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} missing: cargo build --release -p cipherproof-gateway")
    work = tempfile.mkdtemp(prefix="cipherproof-gwbench-")
    res = {}

    # 1. PLAIN throughput.
    gw, addr = serve(os.path.join(work, "plain"))
    try:
        model_id = run_json("client", "register", "--addr", addr, "--model", MODEL, "--name", "digits")["model_id"]
        load(addr, 2, 64, 1)  # warm-up
        res["plain"] = load(addr, a.seconds, 64, 1)
        res["plain"]["server_rss_mb"] = rss_mb(gw.pid)
    finally:
        gw.kill(); gw.wait()

    # 2. 4x overload: 64 clients against --max-in-flight 16.
    gw, addr = serve(os.path.join(work, "overload"), "--max-in-flight", "16")
    try:
        run_json("client", "register", "--addr", addr, "--model", MODEL, "--name", "digits")
        load(addr, 2, 64, 1)
        before = rss_mb(gw.pid)
        res["overload"] = load(addr, a.seconds, 64, 1)
        res["overload"]["rss_before_mb"] = before
        res["overload"]["rss_after_mb"] = rss_mb(gw.pid)
        res["overload"]["alive_after"] = subprocess.run(
            [BIN, "client", "infer", "--addr", addr, "--model", "digits", "--input", INPUT],
            capture_output=True).returncode == 0
    finally:
        gw.kill(); gw.wait()

    # 3. PROVEN end to end vs the bare prover on the same compiled model.
    data = os.path.join(work, "proven")
    gw, addr = serve(data)
    try:
        model_id = run_json("client", "register", "--addr", addr, "--model", MODEL, "--name", "digits")["model_id"]
        compiled = os.path.join(data, "models", model_id)
        cache = os.path.join(data, "cache")
        gateway_s, bare_s, prove_s = [], [], []
        for i in range(a.reps + 1):
            r = run_json("client", "infer", "--addr", addr, "--model", "digits", "--input", INPUT, "--prove", "--wait")
            e2e = r["wall_s"]
            assert r["job"]["state"] == "succeeded", r
            t = time.perf_counter()
            b = run_json("prove", "--model", compiled, "--input", INPUT, "--out", os.path.join(work, "p.json"),
                         "--cache", cache, "--json")
            bare = time.perf_counter() - t
            if i == 0:
                continue  # warm-up: first proof loads keys in both
            gateway_s.append(e2e); bare_s.append(bare); prove_s.append(b["prove_s"])
        res["proven"] = {"gateway_e2e_s": min(gateway_s), "bare_prove_cmd_s": min(bare_s),
                         "bare_prove_step_s": min(prove_s),
                         "ratio_e2e_to_prove_step": min(gateway_s) / min(prove_s),
                         "ratio_e2e_to_prove_cmd": min(gateway_s) / min(bare_s)}
    finally:
        gw.kill(); gw.wait()

    # 4. PROVEN at 4x the proving capacity, open loop.
    rate = 4.0 / res["proven"]["bare_prove_step_s"]
    gw, addr = serve(os.path.join(work, "proven-overload"), "--max-queue", "16")
    try:
        run_json("client", "register", "--addr", addr, "--model", MODEL, "--name", "digits")
        before = rss_mb(gw.pid, "VmRSS")
        r = run_json("client", "load", "--addr", addr, "--model", "digits", "--input", INPUT, "--prove",
                     "--rate", f"{rate:.3f}", "--duration-secs", str(max(a.seconds, 15)), "--concurrency", "64")
        r["rss_before_mb"] = before
        r["rss_after_mb"] = rss_mb(gw.pid, "VmRSS")
        r["alive_after"] = subprocess.run(
            [BIN, "client", "infer", "--addr", addr, "--model", "digits", "--input", INPUT],
            capture_output=True).returncode == 0
        res["proven_overload"] = r
    finally:
        gw.kill(); gw.wait()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, indent=2))
    if a.write:
        write(a.write, res)


def write(path, r):
    p, o, v, po = r["plain"], r["overload"], r["proven"], r["proven_overload"]
    text = f"""{BEGIN}
Machine: this 2-core box, loopback, gateway and load generator sharing the cores (release build),
`python bench/gateway_load.py`, {time.strftime('%Y-%m-%d')}.

| scenario | requests/s | p50 ms | p99 ms | ok | RESOURCE_EXHAUSTED | other errors | server RSS |
|---|---|---|---|---|---|---|---|
| PLAIN digits_mlp, 64 clients | {p['requests_per_s']:.0f} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['ok']} | {p['resource_exhausted']} | {p['failed']} | {p['server_rss_mb']:.0f} MB peak |
| PLAIN, 64 clients vs --max-in-flight 16 (4x the admission limit) | {o['requests_per_s']:.0f} | {o['p50_ms']:.2f} | {o['p99_ms']:.2f} | {o['ok']} | {o['resource_exhausted']} | {o['failed']} | {o['rss_before_mb']:.0f} → {o['rss_after_mb']:.0f} MB peak; serving after: {o['alive_after']} |
| PROVEN at 4x the proof rate ({po['offered_per_s']:.1f}/s open loop, {po['seconds']:.0f} s), --max-queue 16 | {po['requests_per_s']:.1f} accepted | {po['p50_ms']:.2f} | {po['p99_ms']:.2f} | {po['ok']} | {po['resource_exhausted']} | {po['failed']} | {po['rss_before_mb']:.0f} → {po['rss_after_mb']:.0f} MB resident; serving after: {po['alive_after']} |

PROVEN digits_mlp, best of the runs: gateway end to end, as the client sees it (Infer PROVEN sent →
WatchJob reports SUCCEEDED; includes queueing, the store, native verification in the worker and the
proof write) **{v['gateway_e2e_s']:.3f} s**; the bare prover on the same compiled model and input: its prove
step {v['bare_prove_step_s']:.3f} s (`cipherproof prove --json` `prove_s`), the whole `cipherproof prove`
process {v['bare_prove_cmd_s']:.3f} s (it also loads SRS and proving key). Ratio to the prove step:
**{v['ratio_e2e_to_prove_step']:.3f}**; to the process: {v['ratio_e2e_to_prove_cmd']:.3f}.
{END}"""
    doc = open(path).read()
    if BEGIN in doc:
        doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
    else:
        doc += "\n## Gateway under load (issue \"The gateway\")\n" + text + "\n"
    open(path, "w").write(doc)


if __name__ == "__main__":
    main()
