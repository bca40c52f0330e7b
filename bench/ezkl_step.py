# EZKL pipeline, one step per process (from the peers kit of this project; used by zk_vs_ezkl.py).
#!/usr/bin/env python3
"""One EZKL pipeline step per process, so /usr/bin/time -v gives per-step peak RSS.

usage: peer_step.py STEP MODEL_DIR [extra]
STEP in: gen_settings calibrate compile witness setup prove verify mock srs
Prints one line 'RESULT {json}' with the wall time of the ezkl call itself.
Files in MODEL_DIR: network.onnx input.json -> settings.json (calibrated, used for proving),
settings_default.json, network.compiled, witness.json, vk.key, pk.key, proof.json
SRS files: $SRS_DIR/kzg{k}.srs (made with ezkl.gen_srs: UNSAFE, testing only)
"""
import asyncio, inspect, json, os, sys, time

import ezkl

ROOT = os.path.dirname(os.path.abspath(__file__))
SRS_DIR = os.environ.get("SRS_DIR", os.path.join(ROOT, "srs"))


def run(x):
    if inspect.isawaitable(x):
        return asyncio.run(_aw(x))
    return x


async def _aw(x):
    return await x


def srs_for(logrows):
    os.makedirs(SRS_DIR, exist_ok=True)
    p = os.path.join(SRS_DIR, f"kzg{logrows}.srs")
    if not os.path.exists(p):
        t = time.perf_counter()
        ezkl.gen_srs(p, logrows)
        print(f"gen_srs k={logrows} took {time.perf_counter()-t:.2f}s", file=sys.stderr)
    return p


def logrows_of(d):
    with open(os.path.join(d, "settings.json")) as f:
        return json.load(f)["run_args"]["logrows"]


def main():
    step, d = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    P = lambda n: os.path.join(d, n)
    res = {"step": step, "model": os.path.basename(os.path.normpath(d))}
    t0 = time.perf_counter()
    if step == "gen_settings":
        ra = ezkl.PyRunArgs()
        # defaults: input/param scale 7, private input, public output, fixed params
        ok = run(ezkl.gen_settings(P("network.onnx"), P("settings.json"), py_run_args=ra))
        import shutil
        shutil.copy(P("settings.json"), P("settings_default.json"))
    elif step == "calibrate":
        target = extra[0] if extra else "resources"
        kw = {}
        if len(extra) > 1:
            kw["max_logrows"] = int(extra[1])
        ok = run(ezkl.calibrate_settings(P("input.json"), P("network.onnx"), P("settings.json"), target, **kw))
        import shutil
        shutil.copy(P("settings.json"), P("settings_calibrated.json"))
    elif step == "compile":
        ok = run(ezkl.compile_circuit(P("network.onnx"), P("network.compiled"), P("settings.json")))
    elif step == "witness":
        ok = run(ezkl.gen_witness(P("input.json"), P("network.compiled"), P("witness.json")))
        ok = bool(ok)
    elif step == "mock":
        ok = run(ezkl.mock(P("witness.json"), P("network.compiled")))
    elif step == "srs":
        srs_for(logrows_of(d))
        ok = True
    elif step == "setup":
        srs = srs_for(logrows_of(d))
        t0 = time.perf_counter()  # exclude srs generation
        ok = run(ezkl.setup(P("network.compiled"), P("vk.key"), P("pk.key"), srs_path=srs))
    elif step == "prove":
        srs = srs_for(logrows_of(d))
        out = P(extra[0]) if extra else P("proof.json")
        t0 = time.perf_counter()
        r = run(ezkl.prove(P("witness.json"), P("network.compiled"), P("pk.key"), out, srs_path=srs))
        ok = bool(r)
        res["proof_path"] = out
    elif step == "verify":
        srs = srs_for(logrows_of(d))
        t0 = time.perf_counter()
        ok = run(ezkl.verify(P("proof.json"), P("settings.json"), P("vk.key"), srs_path=srs))
    else:
        raise SystemExit(f"unknown step {step}")
    res["secs"] = round(time.perf_counter() - t0, 3)
    res["ok"] = bool(ok)
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
