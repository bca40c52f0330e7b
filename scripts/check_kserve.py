#!/usr/bin/env python3
"""KServe v2 compatibility: the stock `tritonclient[grpc]` (pinned in
requirements.txt) against a running `cipherproof serve`.

Starts a gateway on a free loopback port with a fresh data directory, registers
the digits MLP with `cipherproof client register`, then through tritonclient
checks liveness, readiness, model metadata, ModelInfer (outputs equal to
`cipherproof run` on the compiled model), a proven inference
(parameter prove=true -> proof_job_id, followed to success) and a bad-shape
request (INVALID_ARGUMENT). Prints 'kserve: N passed, M failed'.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "testdata/models/digits_mlp/model.onnx")
INPUT = os.path.join(ROOT, "testdata/models/digits_mlp/input.json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="cipherproof-kserve-")
    gw = subprocess.Popen(
        [args.bin, "serve", "--listen", "127.0.0.1:0", "--data", data],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    passed, failed = 0, 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name} {detail}")

    try:
        line = gw.stdout.readline().strip()
        addr = line.removeprefix("listening on ")
        reg = subprocess.run(
            [args.bin, "client", "register", "--addr", f"http://{addr}", "--model", MODEL, "--name", "digits"],
            check=True, capture_output=True, text=True,
        )
        model_id = json.loads(reg.stdout)["model_id"]
        x = np.array(json.load(open(INPUT))["input_data"][0], dtype=np.float32)
        ref = subprocess.run(
            [args.bin, "run", "--model", os.path.join(data, "models", model_id), "--input", INPUT, "--json"],
            check=True, capture_output=True, text=True,
        )
        want = json.loads(ref.stdout)["quantized_outputs"][0]

        client = grpcclient.InferenceServerClient(url=addr)
        check("server live", client.is_server_live())
        check("server ready", client.is_server_ready())
        check("model ready", client.is_model_ready("digits"))
        check("unknown model not ready", not client.is_model_ready("no-such-model"))
        meta = client.get_model_metadata("digits")
        inp = meta.inputs[0]
        check("metadata FP32 input", inp.datatype == "FP32", str(meta))
        shape = list(inp.shape)
        tensor = grpcclient.InferInput(inp.name, shape, "FP32")
        tensor.set_data_from_numpy(x.reshape(shape))
        result = client.infer("digits", [tensor])
        got = result.as_numpy("quantized_output").reshape(-1).tolist()
        check("ModelInfer equals `cipherproof run`", got == want, f"{got} != {want}")
        deq = result.as_numpy(meta.outputs[0].name)
        check("dequantized output", deq is not None and deq.dtype == np.float32)
        check("argmax", int(result.as_numpy("argmax")[0]) == int(np.argmax(want)))

        proven = client.infer("digits", [tensor], parameters={"prove": True})
        job = proven.get_response().parameters["proof_job_id"].string_param
        check("prove=true gives proof_job_id", len(job) == 32, job)
        done = subprocess.run(
            [args.bin, "client", "job", "--addr", f"http://{addr}", "--job", job, "--wait"],
            capture_output=True, text=True, timeout=600,
        )
        state = json.loads(done.stdout)["state"] if done.returncode == 0 else done.stderr
        check("proof job succeeded", state == "succeeded", state)

        bad = grpcclient.InferInput(inp.name, [1, x.size + 1], "FP32")
        bad.set_data_from_numpy(np.zeros((1, x.size + 1), dtype=np.float32))
        try:
            client.infer("digits", [bad])
            check("bad shape rejected", False, "accepted")
        except InferenceServerException as e:
            check("bad shape rejected", "INVALID_ARGUMENT" in str(e.status()), str(e))
    except Exception as e:  # a broken run is a failure, not a crash without a summary
        check("run", False, repr(e))
    finally:
        gw.kill()
        gw.wait()
    print(f"kserve: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
