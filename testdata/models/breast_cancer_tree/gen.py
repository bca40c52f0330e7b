#!/usr/bin/env python3
"""breast_cancer_tree: a depth-5 decision tree on breast cancer (Concrete ML's split) in the
GEMM form of Hummingbird and Concrete ML, for encrypted inference.

Features are quantized outside the graph, as Concrete ML's client does before encrypting: each is
mapped by its training minimum and maximum onto [-31/16, 31/16], clipped there, and rounded to a
multiple of 1/16 (63 levels, 6 bits). `cipherproof compile --input-range 1.9375 --activation-bits 6`
then reads them exactly as the integers -31..31. scikit-learn's tree is fitted on those quantized
training features, so every threshold lies halfway between two levels and the integer comparisons
equal the float ones.

The graph (I internal nodes, L leaves, K classes):
  input [1, 30] -MatMul A [30, I]-> feature of each node -LessOrEqual B [I]-> went left (bool)
  -Cast-> -MatMul C [I, L]-> (+1 where the leaf lies left of the node, -1 right, 0 elsewhere)
  -Equal D [L]-> (the number of left turns on the leaf's path: only the reached leaf matches)
  -Cast-> -MatMul E [L, K]-> class probabilities of the reached leaf (scikit-learn's predict_proba).
Each comparison and each leaf test is one table lookup on a ciphertext; the MatMuls are linear."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    Qtr, ytr, Qte, yte = breast_cancer_6bit()
    tree = breast_cancer_tree_fit(Qtr, ytr)
    A, B, C, D, E = tree_gemm([tree], Qtr.shape[1], lambda t, n: t.tree_.value[n][0] / t.tree_.value[n][0].sum())
    # Thresholds halfway between two training levels: multiples of 1/32, exact in float32.
    assert np.all(B * 32 == np.round(B * 32)), B
    inits = [init("A", A), init("B", B), init("C", C), init("D", D), init("E", E)]
    path = save_model(out, tree_gemm_nodes(), inits, [1, Qtr.shape[1]], [1, 2], graph_name="breast_cancer_tree_depth5")
    proba = tree.predict_proba(Qte)
    ort_proba = np.array(ort_outputs(path, Qte, [1, Qtr.shape[1]]))
    assert np.abs(proba - ort_proba).max() < 1e-6, "the GEMM form differs from scikit-learn's tree"
    write_tree_fixture(out, path, tree, A, C, Qtr, ytr, Qte, yte, {
        "source": "sklearn breast_cancer, DecisionTreeClassifier on 6-bit quantized features, GEMM form (gen.py)",
        **fit_meta(tree),
    })


if __name__ == "__main__":
    main()
