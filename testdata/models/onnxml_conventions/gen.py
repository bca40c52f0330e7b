#!/usr/bin/env python3
"""onnxml_conventions: onnxruntime's output conventions for ai.onnx.ml.TreeEnsembleClassifier, on one
stump (x <= 0.5) per case: every post_transform (NONE, LOGISTIC, SOFTMAX) x binary models (weights for
class 0 only; all weights non-negative or not; with and without a base value), two classes with a
score each (with and without base values) and three classes. cases.json holds each model (hex), the
inputs 0 and 1, and onnxruntime's label and probabilities for them; model/tests/onnx_ml_trees.rs
imports each and must give the same, or refuse the model by name where cipherproof does not
reproduce onnxruntime's convention (`"refused": true`: two classes with a score each and base
values)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *


def stump(post, classes, class_ids, weights, base):
    """Leaf 1 (x <= 0.5) takes the even entries of class_ids/weights, leaf 2 the odd ones."""
    attrs = dict(
        nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0], nodes_values=[0.5, 0, 0],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0], nodes_falsenodeids=[2, 0, 0],
        class_treeids=[0] * len(class_ids), class_nodeids=[1 + i % 2 for i in range(len(class_ids))],
        class_ids=class_ids, class_weights=weights, classlabels_int64s=list(range(classes)), post_transform=post)
    if base is not None:
        attrs["base_values"] = base
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml", **attrs)
    g = helper.make_graph([node], "stump", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1])],
                          [helper.make_tensor_value_info("label", TensorProto.INT64, [1]),
                           helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, classes])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)],
                          producer_name="cipherproof-fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    shapes = [
        ("binary, non-negative", 2, [0, 0], [0.3, 0.8], [None, [0.25]], False),
        ("binary, mixed signs", 2, [0, 0], [-0.4, 0.7], [None, [0.25]], False),
        ("two classes, a score each", 2, [0, 0, 1, 1], [0.3, -0.2, 0.5, 0.1], [None], False),
        ("two classes, a score each, base values", 2, [0, 0, 1, 1], [0.3, -0.2, 0.5, 0.1], [[0.0, 0.1]], True),
        ("three classes", 3, [0, 0, 1, 1, 2, 2], [0.3, -0.2, 0.5, 0.1, -0.4, 0.9], [None, [0.0, 0.1, 0.2]], False),
    ]
    cases = []
    for what, classes, ids, weights, bases, refused in shapes:
        for post in ["NONE", "LOGISTIC", "SOFTMAX"]:
            for base in bases:
                model = stump(post, classes, ids, weights, base)
                sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
                inputs = [[0.0], [1.0]]
                runs = [sess.run(None, {"X": np.array([x], np.float32)}) for x in inputs]
                cases.append({
                    "case": f"{what}, {post}" + (f", base {base}" if base else ""),
                    "model_hex": model.hex(), "inputs": inputs, "refused": refused,
                    "labels": [int(r[0][0]) for r in runs],
                    "probabilities": [[float(v) for v in r[1][0]] for r in runs],
                })
    json.dump({"onnxruntime": ort.__version__, "cases": cases}, open(os.path.join(out, "cases.json"), "w"), indent=1)
    write_readme(out, {"cases": len(cases)})
    write_checksums(out)


if __name__ == "__main__":
    main()
