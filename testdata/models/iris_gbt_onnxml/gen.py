#!/usr/bin/env python3
"""iris_gbt_onnxml: a three-class GradientBoostingClassifier on iris (10 rounds of depth 2: one
tree per class and round, 30 trees) as skl2onnx exports it: one ai.onnx.ml.TreeEnsembleClassifier
node with post_transform SOFTMAX (no ZipMap), outputs `label` and `probabilities`. Float features
(standard-scaled, 40% stratified test split); cipherproof's import gives the GEMM form with a final
Softmax (`model/src/onnx/import/trees.rs`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *

TREES = 10
MAX_DEPTH = 2
SEED = 0


def main():
    from sklearn.datasets import load_iris
    from sklearn.ensemble import GradientBoostingClassifier
    out = os.path.dirname(os.path.abspath(__file__))
    Xtr, ytr, Xte, yte = tabular_split(load_iris)
    gbt = GradientBoostingClassifier(n_estimators=TREES, max_depth=MAX_DEPTH, random_state=SEED).fit(Xtr, ytr)
    write_onnxml_fixture(out, gbt, Xtr, ytr, Xte, yte, {
        "source": "sklearn iris, GradientBoostingClassifier (10 rounds x 3 classes, depth 2), skl2onnx (gen.py)",
        "seed": SEED,
        "trees": TREES * 3,
        "max_depth": MAX_DEPTH,
    })


if __name__ == "__main__":
    main()
