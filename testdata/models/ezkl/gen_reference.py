#!/usr/bin/env python3
"""Reference outputs of EZKL's tree examples on scikit-learn's iris data (150 samples, the data
they were fit on: 4 features) and the example's input.json: onnx's own ReferenceEvaluator, which
follows the standard's semantics (doubles compared as doubles). onnxruntime cannot load
decision_tree (an int8 MatMul, which its CPU provider lacks); for xgboost, whose first output is
the class and second the probabilities, the class is recorded (cipherproof proves the output
named with --output). Writes reference.json ({"evaluator", "inputs", "outputs"}) next to each.

For lstm (three outputs: Y, Y_h and Y_c of one step), onnxruntime's values of every output on
the example input and 49 seeded standard-normal inputs: "outputs" maps each output's name to its
rows."""
import json, os, sys
import numpy as np
import onnx
import onnxruntime as ort
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

d = os.path.join(here, "lstm")
sess = ort.InferenceSession(os.path.join(d, "network.onnx"), providers=["CPUExecutionProvider"])
example = json.load(open(os.path.join(d, "input.json")))["input_data"][0]
inputs = [example] + np.random.default_rng(5).normal(0, 1, (49, 3)).astype(np.float32).tolist()
names = [o.name for o in sess.get_outputs()]
outputs = {n: [] for n in names}
for x in inputs:
    for n, out in zip(names, sess.run(None, {"input": np.asarray(x, dtype=np.float32).reshape(1, -1)})):
        outputs[n].append(np.asarray(out, dtype=np.float64).reshape(-1).tolist())
json.dump({"evaluator": f"onnxruntime {ort.__version__}", "inputs": inputs, "outputs": outputs},
          open(os.path.join(d, "reference.json"), "w"))
write_checksums(d)
print("lstm", len(inputs), "samples; outputs", names)
