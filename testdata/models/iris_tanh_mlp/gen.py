#!/usr/bin/env python3
"""iris_tanh_mlp: 4-8-3 tanh MLP on iris, written as MatMul + Add (PyTorch-style) -> Tanh -> Gemm."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *
from sklearn.datasets import load_iris
from sklearn.neural_network import MLPClassifier

out = os.path.dirname(os.path.abspath(__file__))
Xtr, ytr, Xte, yte = tabular_split(load_iris)
clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=4000, random_state=0).fit(Xtr, ytr)
(W1, W2), (b1, b2) = clf.coefs_, clf.intercepts_
nodes = [
    helper.make_node("MatMul", ["input", "W1"], ["mm"], name="matmul1"),
    helper.make_node("Add", ["mm", "b1"], ["h"], name="bias1"),
    helper.make_node("Tanh", ["h"], ["ht"], name="tanh1"),
    helper.make_node("Gemm", ["ht", "W2", "b2"], ["output"], name="fc2"),
]
inits = [init("W1", W1), init("b1", b1), init("W2", W2), init("b2", b2)]
path = save_model(out, nodes, inits, [1, 4], [1, 3], graph_name="iris_tanh_mlp")
write_fixture(out, path, [1, 4], Xte, yte, Xtr,
              {"source": "sklearn iris", "sklearn_test_accuracy": float(clf.score(Xte, yte))})
