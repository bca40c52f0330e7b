#!/usr/bin/env python3
"""breast_cancer_mlp: 30-16-2 ReLU MLP on breast cancer (Concrete ML's split and network:
sklearn MLPClassifier(16,), its logistic output written as two logits) -> Softmax."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *
from sklearn.neural_network import MLPClassifier

out = os.path.dirname(os.path.abspath(__file__))
Xtr, ytr, Xte, yte = breast_cancer_split()
mlp = MLPClassifier(hidden_layer_sizes=(16,), activation="relu", max_iter=3000, random_state=0, alpha=1e-3).fit(Xtr, ytr)
(W1, W2), (b1, b2) = mlp.coefs_, mlp.intercepts_
W2l, b2l = two_class_logits(W2[:, 0], b2[0])
nodes = [
    helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h"], transB=1, name="fc1"),
    helper.make_node("Relu", ["h"], ["hr"], name="relu"),
    helper.make_node("Gemm", ["hr", "fc2.weight", "fc2.bias"], ["logits"], transB=1, name="fc2"),
    helper.make_node("Softmax", ["logits"], ["output"], axis=-1, name="softmax"),
]
inits = [init("fc1.weight", W1.T), init("fc1.bias", b1), init("fc2.weight", W2l), init("fc2.bias", b2l)]
path = save_model(out, nodes, inits, [1, 30], [1, 2], graph_name="breast_cancer_mlp_30_16_2")
proba = np.array(ort_outputs(path, Xte, [1, 30]))
assert np.allclose(proba, mlp.predict_proba(Xte), atol=1e-5), "export differs from sklearn"
write_fixture(out, path, [1, 30], Xte, yte, Xtr,
              {"source": "sklearn breast_cancer", "sklearn_test_accuracy": float(mlp.score(Xte, yte))})
