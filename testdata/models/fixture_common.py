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


def ort_outputs(model_path, samples, in_shape, output=None):
    """onnxruntime's outputs (the first, or the one named `output`) for each sample."""
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    wanted = [output] if output else None
    return [np.asarray(sess.run(wanted, {name: np.asarray(s, dtype=np.float32).reshape(in_shape)})[0], dtype=np.float64).reshape(-1).tolist()
            for s in samples]


def _f32(rows):
    return [[float(np.float32(v)) for v in np.asarray(r).reshape(-1)] for r in rows]


def write_fixture(out_dir, model_path, in_shape, test_x, test_y, cal_x, meta):
    """The fixture files; ort.json holds the output meta["output"] names (the model's first by default)."""
    test_x, cal_x = _f32(test_x), _f32(cal_x)
    dump = lambda name, obj: json.dump(obj, open(os.path.join(out_dir, name), "w"))
    dump("input.json", {"input_data": [test_x[0]]})
    dump("test.json", {"inputs": test_x, "labels": [int(v) for v in test_y]})
    dump("calibration.json", {"inputs": cal_x})
    outs = ort_outputs(model_path, test_x, in_shape, meta.get("output"))
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


def feature_quantizer(Xtr, levels=31, step=1.0 / 16):
    """Concrete ML's client-side input quantization, on our grid: each feature's training range mapped
    onto [-levels, levels] steps of `step`, clipped, rounded (63 levels for 31: 6 bits)."""
    lo, hi = Xtr.min(0), Xtr.max(0)
    mid, half = (hi + lo) / 2, np.maximum((hi - lo) / 2, 1e-12)

    def apply(X):
        z = np.clip((X - mid) / half * levels, -levels, levels)
        return np.floor(z + 0.5) * step

    return apply


def tree_gemm(trees, n_features, leaf_values):
    """Decision trees in the GEMM form of Hummingbird and Concrete ML, side by side:
    A [F, I] picks each internal node's feature, B [I] its threshold (`x <= B` goes left),
    C [I, L] is +1 where leaf l lies left of node i and -1 right, D [L] counts the left turns on
    each leaf's path (C·decisions = D only at the reached leaf), and E [L, K] stacks
    leaf_values(tree, node) of every leaf."""
    A, B, Cs, D, E = [], [], [], [], []
    for tree in trees:
        t = tree.tree_
        internal = [i for i in range(t.node_count) if t.children_left[i] != -1]
        leaves = [i for i in range(t.node_count) if t.children_left[i] == -1]
        col = {n: k for k, n in enumerate(internal)}
        a = np.zeros((n_features, len(internal)))
        for k, n in enumerate(internal):
            a[t.feature[n], k] = 1.0
            B.append(t.threshold[n])
        c = np.zeros((len(internal), len(leaves)))

        def walk(n, path):
            if t.children_left[n] == -1:
                j = leaves.index(n)
                for node, left in path:
                    c[col[node], j] = 1.0 if left else -1.0
                D.append(sum(1 for _, left in path if left))
                E.append(leaf_values(tree, n))
                return
            walk(t.children_left[n], path + [(n, True)])
            walk(t.children_right[n], path + [(n, False)])

        walk(0, [])
        A.append(a)
        Cs.append(c)
    C = np.zeros((sum(c.shape[0] for c in Cs), sum(c.shape[1] for c in Cs)))
    i = j = 0
    for c in Cs:
        C[i:i + c.shape[0], j:j + c.shape[1]] = c
        i, j = i + c.shape[0], j + c.shape[1]
    return np.hstack(A), np.array(B), C, np.array(D, dtype=np.float64), np.array(E)


def tree_gemm_nodes(bias=None):
    """The GEMM-form graph: input -MatMul A- -LessOrEqual B- -Cast- -MatMul C- -Equal D- -Cast-
    -MatMul E- (+ bias) -> output."""
    last = "output" if bias is None else "leaf_sum"
    nodes = [
        helper.make_node("MatMul", ["input", "A"], ["node_feature"], name="select_features"),
        helper.make_node("LessOrEqual", ["node_feature", "B"], ["went_left"], name="compare"),
        helper.make_node("Cast", ["went_left"], ["went_left_f"], to=TensorProto.FLOAT, name="cast_decisions"),
        helper.make_node("MatMul", ["went_left_f", "C"], ["path_sum"], name="paths"),
        helper.make_node("Equal", ["path_sum", "D"], ["reached"], name="leaf_test"),
        helper.make_node("Cast", ["reached"], ["reached_f"], to=TensorProto.FLOAT, name="cast_leaves"),
        helper.make_node("MatMul", ["reached_f", "E"], [last], name="leaf_values"),
    ]
    if bias is not None:
        nodes.append(helper.make_node("Add", ["leaf_sum", "E_bias"], ["output"], name="leaf_bias"))
    return nodes


def breast_cancer_6bit():
    """breast_cancer_split with each feature quantized to 6 bits (feature_quantizer), as the tree fixtures take them."""
    Xtr, ytr, Xte, yte = breast_cancer_split()
    quant = feature_quantizer(Xtr)
    return quant(Xtr), ytr, quant(Xte), yte


def breast_cancer_tree_fit(Qtr, ytr, max_depth=5, seed=42):
    """The depth-5 decision tree of breast_cancer_tree (and its skl2onnx twin)."""
    from sklearn.tree import DecisionTreeClassifier
    return DecisionTreeClassifier(max_depth=max_depth, random_state=seed).fit(Qtr, ytr)


def breast_cancer_gbt_fit(Qtr, ytr, trees=20, max_depth=3, seed=42):
    """The 20 boosted trees of depth 3 of breast_cancer_gbt (and its skl2onnx twin)."""
    from sklearn.ensemble import GradientBoostingClassifier
    return GradientBoostingClassifier(n_estimators=trees, max_depth=max_depth, random_state=seed).fit(Qtr, ytr)


def fit_meta(model):
    """The seed and shape of a fitted tree model, as its fixture's meta.json records them."""
    meta = {"seed": model.random_state}
    if hasattr(model, "n_estimators"):
        meta["trees"] = model.n_estimators
    meta["max_depth"] = model.max_depth
    return meta


TREE_COMPILE_FLAGS = "--input-range 1.9375 --activation-bits 6 --weight-bits 4 --output-bits 16"


def write_tree_fixture(out_dir, model_path, model, A, C, Qtr, ytr, Qte, yte, meta):
    """write_fixture for a GEMM-form tree model fitted on feature_quantizer's features: node and leaf
    counts, the flags that read the 6-bit features exactly, and scikit-learn's own accuracies."""
    meta = dict(meta)
    meta.update({
        "internal_nodes": int(A.shape[1]),
        "leaves": int(C.shape[1]),
        "compile_flags": TREE_COMPILE_FLAGS,
        "sklearn_test_accuracy": float((model.predict(Qte) == yte).mean()),
        "sklearn_train_accuracy": float((model.predict(Qtr) == ytr).mean()),
    })
    write_fixture(out_dir, model_path, [1, Qtr.shape[1]], Qte, yte, Qtr, meta)


def write_onnxml_fixture(out_dir, model, Xtr, ytr, Xte, yte, meta):
    """A scikit-learn tree model as skl2onnx exports it (ai.onnx.ml.TreeEnsembleClassifier, no ZipMap:
    outputs `label` and `probabilities`), with the fixture files for its `probabilities`."""
    from skl2onnx import to_onnx
    onx = to_onnx(model, Xtr[:1].astype(np.float32), options={id(model): {"zipmap": False}},
                  target_opset={"": 13, "ai.onnx.ml": 3})
    onx.producer_name = "cipherproof-fixtures (skl2onnx)"
    path = os.path.join(out_dir, "model.onnx")
    onnx.save(onx, path)
    proba = np.array(ort_outputs(path, Xte, [1, Xtr.shape[1]], "probabilities"))
    assert np.abs(proba - model.predict_proba(Xte)).max() < 1e-5, "onnxruntime differs from scikit-learn"
    meta = dict(meta)
    meta.update({
        "output": "probabilities",
        "sklearn_test_accuracy": float((model.predict(Xte) == yte).mean()),
        "sklearn_train_accuracy": float((model.predict(Xtr) == ytr).mean()),
    })
    write_fixture(out_dir, path, [1, Xtr.shape[1]], Xte, yte, Xtr, meta)


def write_breast_cancer_onnxml(out_dir, fit, source):
    """write_onnxml_fixture for a breast-cancer tree model, fitted by `fit` (breast_cancer_tree_fit,
    breast_cancer_gbt_fit) on breast_cancer_6bit's features and read with TREE_COMPILE_FLAGS."""
    Qtr, ytr, Qte, yte = breast_cancer_6bit()
    model = fit(Qtr, ytr)
    write_onnxml_fixture(out_dir, model, Qtr, ytr, Qte, yte, {
        "source": source,
        **fit_meta(model),
        "compile_flags": TREE_COMPILE_FLAGS + " --output probabilities",
    })
