"""Shared helpers for the fixture generators in testdata/models/<name>/gen.py.

Each fixture directory gets: model.onnx, input.json (one sample, EZKL's format),
test.json ({"inputs", "labels"}), calibration.json ({"inputs"}: training samples),
ort.json (onnxruntime outputs for test.json, the float reference), meta.json,
and SHA256SUMS. Deterministic: fixed seeds and scikit-learn's bundled datasets.
"""
import hashlib
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def init(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def save_model(out_dir, nodes, inits, in_shape, out_shape, opset=13, graph_name="model"):
    g = helper.make_graph(
        nodes, graph_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="cipherproof-fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    path = os.path.join(out_dir, "model.onnx")
    onnx.save(m, path)
    return path


def ort_outputs(model_path, samples, in_shape):
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return [sess.run(None, {name: np.asarray(s, dtype=np.float32).reshape(in_shape)})[0].reshape(-1).tolist()
            for s in samples]


def _f32(rows):
    return [[float(np.float32(v)) for v in np.asarray(r).reshape(-1)] for r in rows]


def write_fixture(out_dir, model_path, in_shape, test_x, test_y, cal_x, meta):
    test_x, cal_x = _f32(test_x), _f32(cal_x)
    dump = lambda name, obj: json.dump(obj, open(os.path.join(out_dir, name), "w"))
    dump("input.json", {"input_data": [test_x[0]]})
    dump("test.json", {"inputs": test_x, "labels": [int(v) for v in test_y]})
    dump("calibration.json", {"inputs": cal_x})
    outs = ort_outputs(model_path, test_x, in_shape)
    dump("ort.json", {"onnxruntime": ort.__version__, "outputs": outs})
    meta = dict(meta)
    meta["float_test_accuracy_onnxruntime"] = float(np.mean(np.argmax(outs, axis=1) == np.asarray(test_y)))
    meta["n_test"] = len(test_x)
    meta["n_calibration"] = len(cal_x)
    json.dump(meta, open(os.path.join(out_dir, "meta.json"), "w"), indent=1)
    write_readme(out_dir, meta)
    write_checksums(out_dir)
    print(f"{os.path.basename(out_dir)}: float test accuracy {meta['float_test_accuracy_onnxruntime']:.4f}")


def write_readme(out_dir, meta):
    import __main__
    name = os.path.basename(out_dir)
    doc = (__main__.__doc__ or "").strip()
    body = [f"# {name}", "", doc, "", "Made by `gen.py` (run it with the pinned packages of scripts/requirements.txt).", "",
            "| file | content |", "|---|---|",
            "| model.onnx | the model |", "| input.json | first test sample, EZKL's `input_data` format |",
            "| test.json | test set: `inputs`, `labels` |", "| calibration.json | training samples for calibration |",
            "| ort.json | onnxruntime outputs for test.json |", "| meta.json | figures below |", "| SHA256SUMS | checksums |", "",
            "```json", json.dumps(meta, indent=1), "```", ""]
    open(os.path.join(out_dir, "README.md"), "w").write("\n".join(body))


def write_checksums(out_dir):
    lines = []
    for f in sorted(os.listdir(out_dir)):
        if f.endswith((".onnx", ".json")):
            digest = hashlib.sha256(open(os.path.join(out_dir, f), "rb").read()).hexdigest()
            lines.append(f"{digest}  {f}\n")
    open(os.path.join(out_dir, "SHA256SUMS"), "w").writelines(lines)


def breast_cancer_split():
    """The split of ../shared/peers/concrete-ml/train.py: 455/114, random_state=42, stratified, standard-scaled."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = load_breast_cancer(return_X_y=True)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.2, random_state=42, stratify=y)
    sc = StandardScaler().fit(X[tr])
    return sc.transform(X[tr]), y[tr], sc.transform(X[te]), y[te]


def digits_split():
    """The split of ../shared/peers/ezkl/make_digits_mlp.py: pixels/16, 25% test, random_state=0, stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def tabular_split(loader):
    """A scikit-learn tabular dataset: 40% stratified test split (random_state=0), standard-scaled."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), ytr, sc.transform(Xte), yte


def two_class_logits(w, b):
    """A binary sklearn model's decision z as logits [-z/2, z/2]: Softmax of these is predict_proba."""
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    return np.stack([-w / 2, w / 2]), np.array([-b / 2, b / 2])
