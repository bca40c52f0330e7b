#!/usr/bin/env python3
"""Reference outputs of EZKL's tree examples on scikit-learn's iris data (150 samples, the data
they were fit on: 4 features) and the example's input.json: onnx's own ReferenceEvaluator, which
follows the standard's semantics (doubles compared as doubles). onnxruntime cannot load
decision_tree (an int8 MatMul, which its CPU provider lacks); for xgboost, whose first output is
the class and second the probabilities, the class is recorded (cipherproof proves the output
named with --output). Writes reference.json ({"evaluator", "inputs", "outputs"}) next to each."""
import json, os, sys
import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator
from sklearn.datasets import load_iris
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import write_checksums

here = os.path.dirname(os.path.abspath(__file__))
for name in ("decision_tree", "xgboost"):
    d = os.path.join(here, name)
    ev = ReferenceEvaluator(os.path.join(d, "network.onnx"))
    example = json.load(open(os.path.join(d, "input.json")))["input_data"][0]
    inputs = [example] + load_iris().data.astype(np.float32).tolist()
    outputs = []
    for x in inputs:
        out = ev.run(None, {"input": np.asarray(x, dtype=np.float32).reshape(1, -1)})[0]
        outputs.append(np.asarray(out, dtype=np.float64).reshape(-1).tolist())
    json.dump({"evaluator": f"onnx {onnx.__version__} ReferenceEvaluator", "inputs": inputs,
               "outputs": outputs}, open(os.path.join(d, "reference.json"), "w"))
    write_checksums(d)
    print(name, len(inputs), "samples;", "classes", sorted({o[0] for o in outputs}))
