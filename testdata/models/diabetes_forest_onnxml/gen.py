#!/usr/bin/env python3
"""diabetes_forest_onnxml: a RandomForestRegressor (5 trees of depth 3) on scikit-learn's diabetes
data as skl2onnx exports it: one ai.onnx.ml.TreeEnsembleRegressor node. No test.json (a regressor
has no labels); reference.json holds 50 inputs and onnxruntime's outputs for them, which the import
test (model/tests/onnx_ml_trees.rs) compares against."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

SEED = 0


def main():
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor
    from skl2onnx import to_onnx
    out = os.path.dirname(os.path.abspath(__file__))
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    forest = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=SEED).fit(X, y)
    onx = to_onnx(forest, X[:1], target_opset={"": 13, "ai.onnx.ml": 3})
    onx.producer_name = "cipherproof-fixtures (skl2onnx)"
    path = os.path.join(out, "model.onnx")
    onnx.save(onx, path)
    inputs = X[:50]
    outs = ort_outputs(path, inputs, [1, X.shape[1]])
    assert np.abs(np.array(outs)[:, 0] - forest.predict(inputs)).max() < 1e-3, "onnxruntime differs from scikit-learn"
    json.dump({"onnxruntime": ort.__version__, "inputs": [[float(v) for v in r] for r in inputs], "outputs": outs},
              open(os.path.join(out, "reference.json"), "w"))
    write_readme(out, {"source": "sklearn diabetes, RandomForestRegressor (5 trees, depth 3), skl2onnx (gen.py)", "seed": SEED})
    write_checksums(out)


if __name__ == "__main__":
    main()
