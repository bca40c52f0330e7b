#!/usr/bin/env python3
"""wine_sigmoid_mlp: 13-16-3 logistic-activation MLP on wine: Gemm -> Sigmoid -> Gemm -> Softmax."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_common import *
from sklearn.datasets import load_wine
from sklearn.neural_network import MLPClassifier

out = os.path.dirname(os.path.abspath(__file__))
Xtr, ytr, Xte, yte = tabular_split(load_wine)
clf = MLPClassifier(hidden_layer_sizes=(16,), activation="logistic", max_iter=4000, random_state=0).fit(Xtr, ytr)
(W1, W2), (b1, b2) = clf.coefs_, clf.intercepts_
nodes = [
    helper.make_node("Gemm", ["input", "W1", "b1"], ["h"], name="fc1"),
    helper.make_node("Sigmoid", ["h"], ["hs"], name="sigmoid1"),
    helper.make_node("Gemm", ["hs", "W2", "b2"], ["logits"], name="fc2"),
    helper.make_node("Softmax", ["logits"], ["output"], axis=1, name="softmax"),
]
inits = [init("W1", W1), init("b1", b1), init("W2", W2), init("b2", b2)]
path = save_model(out, nodes, inits, [1, 13], [1, 3], opset=11, graph_name="wine_sigmoid_mlp")
write_fixture(out, path, [1, 13], Xte, yte, Xtr,
              {"source": "sklearn wine", "sklearn_test_accuracy": float(clf.score(Xte, yte))})
