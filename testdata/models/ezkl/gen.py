#!/usr/bin/env python3
"""Copies EZKL's example models from ../shared/peers/ezkl/models (used as they are) and records
onnxruntime's outputs for each input.json in ort.json (the first output of models with several:
xgboost's class, lstm's Y). onnxruntime cannot load decision_tree (an int8 MatMul): gen_reference.py
records onnx's reference evaluator instead, and every output of lstm on 50 inputs."""
import json, os, shutil, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

here = os.path.dirname(os.path.abspath(__file__))
src = os.environ.get("EZKL_MODELS", os.path.join(here, "../../../../shared/peers/ezkl/models"))
for name in sorted(os.listdir(src)):
    d = os.path.join(here, name); os.makedirs(d, exist_ok=True)
    for f in ("network.onnx", "input.json"):
        shutil.copy(os.path.join(src, name, f), d)
    try:
        sess = ort.InferenceSession(os.path.join(d, "network.onnx"), providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        shape = [1 if not isinstance(s, int) else s for s in inp.shape]
        x = np.asarray(json.load(open(os.path.join(d, "input.json")))["input_data"][0], dtype=np.float32).reshape(shape)
        out = sess.run(None, {inp.name: x})[0].reshape(-1).tolist()
        json.dump({"onnxruntime": ort.__version__, "outputs": [out]}, open(os.path.join(d, "ort.json"), "w"))
    except Exception as e:  # noqa: BLE001 - record why there is no reference
        print(f"{name}: onnxruntime failed: {e}")
    write_checksums(d)
    print(name, "ok")
