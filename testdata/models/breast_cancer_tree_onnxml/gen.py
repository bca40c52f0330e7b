#!/usr/bin/env python3
"""breast_cancer_tree_onnxml: breast_cancer_tree's depth-5 decision tree (same 6-bit features, same
fit) as skl2onnx exports it: one ai.onnx.ml.TreeEnsembleClassifier node (no ZipMap), outputs
`label` and `probabilities`. cipherproof rewrites the node at import into the GEMM form of
breast_cancer_tree (`--output probabilities` picks the output; `model/src/onnx/import/trees.rs`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *


def main():
    write_breast_cancer_onnxml(os.path.dirname(os.path.abspath(__file__)), breast_cancer_tree_fit,
                               "sklearn breast_cancer, DecisionTreeClassifier on 6-bit quantized features, skl2onnx (gen.py)")


if __name__ == "__main__":
    main()
