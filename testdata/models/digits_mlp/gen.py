#!/usr/bin/env python3
"""digits_mlp: 64-32-10 ReLU MLP on scikit-learn's digits — the same network as
../shared/peers/ezkl/make_digits_mlp.py (EZKL's benchmark model), with all 450 test images."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *
from sklearn.neural_network import MLPClassifier

out = os.path.dirname(os.path.abspath(__file__))
Xtr, Xte, ytr, yte = digits_split()
clf = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=500, random_state=0).fit(Xtr, ytr)
(W1, W2), (b1, b2) = clf.coefs_, clf.intercepts_
nodes = [
    helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h1"], transB=1, name="fc1"),
    helper.make_node("Relu", ["h1"], ["h1r"], name="relu1"),
    helper.make_node("Gemm", ["h1r", "fc2.weight", "fc2.bias"], ["output"], transB=1, name="fc2"),
]
inits = [init("fc1.weight", W1.T), init("fc1.bias", b1), init("fc2.weight", W2.T), init("fc2.bias", b2)]
path = save_model(out, nodes, inits, [1, 64], [1, 10], graph_name="digits_mlp_64_32_10")
write_fixture(out, path, [1, 64], Xte, yte, Xtr[:300],
              {"source": "sklearn digits", "sklearn_test_accuracy": float(clf.score(Xte, yte))})
