#!/usr/bin/env python3
"""breast_cancer_lr: logistic regression on breast cancer (Concrete ML's benchmark split),
as Gemm(30->2 logits [-z/2, z/2]) -> Softmax, whose output equals sklearn's predict_proba."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *
from sklearn.linear_model import LogisticRegression

out = os.path.dirname(os.path.abspath(__file__))
Xtr, ytr, Xte, yte = breast_cancer_split()
lr = LogisticRegression(C=1.0, max_iter=5000).fit(Xtr, ytr)
W, b = two_class_logits(lr.coef_[0], lr.intercept_[0])
nodes = [
    helper.make_node("Gemm", ["input", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc"),
    helper.make_node("Softmax", ["logits"], ["output"], axis=-1, name="softmax"),
]
path = save_model(out, nodes, [init("fc.weight", W), init("fc.bias", b)], [1, 30], [1, 2], graph_name="breast_cancer_lr")
import onnxruntime as ort
proba = np.array(ort_outputs(path, Xte, [1, 30]))
assert np.allclose(proba, lr.predict_proba(Xte), atol=1e-5), "export differs from sklearn"
write_fixture(out, path, [1, 30], Xte, yte, Xtr,
              {"source": "sklearn breast_cancer", "sklearn_test_accuracy": float(lr.score(Xte, yte))})
