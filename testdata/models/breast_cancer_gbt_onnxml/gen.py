#!/usr/bin/env python3
"""breast_cancer_gbt_onnxml: breast_cancer_gbt's 20 gradient-boosted trees of depth 3 (same 6-bit
features, same fit) as skl2onnx exports them: one ai.onnx.ml.TreeEnsembleClassifier node (weights
for class 0 only, post_transform LOGISTIC, the initial score as base value; no ZipMap), outputs
`label` and `probabilities` (= [1 - sigmoid(s), sigmoid(s)] of the decision function s).
cipherproof rewrites the node at import into the GEMM form with scores [0, s] and a final Softmax
(the same probabilities; `model/src/onnx/import/trees.rs`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *


def main():
    write_breast_cancer_onnxml(os.path.dirname(os.path.abspath(__file__)), breast_cancer_gbt_fit,
                               "sklearn breast_cancer, GradientBoostingClassifier (20 trees, depth 3) on 6-bit quantized features, "
                               "skl2onnx (gen.py)")


if __name__ == "__main__":
    main()
