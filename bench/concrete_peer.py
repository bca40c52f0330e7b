#!/usr/bin/env python3
"""Concrete ML 1.9.0 on the breast-cancer split (run inside its own venv by fhe_vs_concrete.py).

The split is the one our fixtures use (scikit-learn's load_breast_cancer, test_size 0.2,
random_state 42, stratified, standard-scaled). `lr`: LogisticRegression(n_bits=8), per-sample
client encrypt / server run / client decrypt over N test samples; `mlp`: NeuralNetClassifier 30-16-2
(4-bit weights and activations), server time per sample over N samples; `tree`:
DecisionTreeClassifier(n_bits=6, max_depth=5) over N samples; `xgb`: XGBClassifier(n_bits=6,
n_estimators=20, max_depth=3), its defaults but the seed. Prints one JSON line.
"""
import json, sys, time
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

which, n = sys.argv[1], int(sys.argv[2])
X, y = load_breast_cancer(return_X_y=True)
idx = np.arange(len(y))
tr, te = train_test_split(idx, test_size=0.2, random_state=42, stratify=y)
sc = StandardScaler().fit(X[tr])
Xtr, Xte, ytr, yte = sc.transform(X[tr]), sc.transform(X[te]), y[tr], y[te]

from concrete.ml.sklearn import DecisionTreeClassifier, LogisticRegression, NeuralNetClassifier, XGBClassifier
if which == "lr":
    model = LogisticRegression(n_bits=8, C=1.0, max_iter=5000)
elif which == "tree":
    model = DecisionTreeClassifier(n_bits=6, max_depth=5, random_state=42)
elif which == "xgb":
    model = XGBClassifier(n_bits=6, n_estimators=20, max_depth=3, random_state=42)
else:
    import torch
    model = NeuralNetClassifier(module__n_layers=2, module__n_hidden_neurons_multiplier=0.54, module__n_w_bits=4,
                                module__n_a_bits=4, module__n_accum_bits=16, module__activation_function=torch.nn.ReLU,
                                max_epochs=100, verbose=0, lr=0.01)
model.fit(Xtr, ytr)
circuit = model.compile(Xtr)
t = time.time(); circuit.client.keygen(force=True); keygen_s = time.time() - t
enc = srv = dec = 0.0
preds = []
n = min(n, len(yte))
for i in range(n):
    t = time.time(); q = model.quantize_input(Xte[i:i + 1]); c = circuit.encrypt(q); enc += time.time() - t
    t = time.time(); o = circuit.run(c); srv += time.time() - t
    t = time.time(); r = model.post_processing(model.dequantize_output(circuit.decrypt(o))); dec += time.time() - t
    preds.append(int(np.argmax(r, axis=1)[0]))
print(json.dumps({
    "model": which, "samples": n, "accuracy": float((np.array(preds) == yte[:n]).mean()),
    "client_encrypt_ms": enc / n * 1e3, "server_ms": srv / n * 1e3, "client_decrypt_ms": dec / n * 1e3,
    "end_to_end_ms": (enc + srv + dec) / n * 1e3, "keygen_s": keygen_s,
}))
