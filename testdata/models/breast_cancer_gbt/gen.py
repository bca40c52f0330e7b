#!/usr/bin/env python3
"""breast_cancer_gbt: gradient-boosted trees on breast cancer (Concrete ML's split), 20 trees of
depth 3 (the shape of Concrete ML's default XGBClassifier), in GEMM form, for encrypted inference.

scikit-learn's GradientBoostingClassifier is fitted on the 6-bit quantized features of
breast_cancer_tree (each feature's training range mapped onto 63 levels, outside the graph, as
Concrete ML's client quantizes before encrypting). The 20 trees sit side by side in one GEMM form
(see fixture_common.tree_gemm): each reached leaf adds its learning-rate-scaled value v to the
decision z, returned as the logits [-z/2, z/2] (so Softmax of the output is predict_proba and its
argmax is predict)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    Qtr, ytr, Qte, yte = breast_cancer_6bit()
    gbt = breast_cancer_gbt_fit(Qtr, ytr)
    lr = gbt.learning_rate
    leaf = lambda t, n: [-lr * t.tree_.value[n][0][0] / 2, lr * t.tree_.value[n][0][0] / 2]
    A, B, C, D, E = tree_gemm([e[0] for e in gbt.estimators_], Qtr.shape[1], leaf)
    assert np.all(B * 32 == np.round(B * 32)), B
    z0 = float(gbt._raw_predict_init(Qte[:1])[0, 0])
    inits = [init("A", A), init("B", B), init("C", C), init("D", D), init("E", E), init("E_bias", [-z0 / 2, z0 / 2])]
    path = save_model(out, tree_gemm_nodes(bias=True), inits, [1, Qtr.shape[1]], [1, 2], graph_name="breast_cancer_gbt_20x3")
    z = np.array(ort_outputs(path, Qte, [1, Qtr.shape[1]]))
    assert np.abs((z[:, 1] - z[:, 0]) - gbt.decision_function(Qte)).max() < 1e-4, "the GEMM form differs from scikit-learn's"
    write_tree_fixture(out, path, gbt, A, C, Qtr, ytr, Qte, yte, {
        "source": "sklearn breast_cancer, GradientBoostingClassifier (20 trees, depth 3) on 6-bit quantized features, GEMM form (gen.py)",
        **fit_meta(gbt),
    })


if __name__ == "__main__":
    main()
