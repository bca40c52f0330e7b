//! ONNX-ML tree ensembles (`ai.onnx.ml.TreeEnsembleClassifier` and `TreeEnsembleRegressor`: how
//! skl2onnx exports scikit-learn's trees, random forests and gradient boosting), rewritten at
//! import into the GEMM form of Hummingbird and Concrete ML that the rest of cipherproof already
//! proves and runs encrypted:
//!
//! * `A` (Dense) picks each internal node's feature;
//! * `≤ T` or `< T` (CompareConst) is 1 where the node's condition holds;
//! * `C` (Dense) sums each leaf's path: +1 for a node whose condition the path needs to hold, −1
//!   for one it needs to fail;
//! * `= D` (CompareConst; `D` counts the leaf's +1 nodes) is 1 for the reached leaf only;
//! * `E` (Dense) sums the reached leaves' weights per class or target, the base values its bias.
//!
//! `BRANCH_GT` and `BRANCH_GTE` nodes are the negations of `BRANCH_LEQ` and `BRANCH_LT` (their
//! branches swapped); one ensemble uses one of the two families (scikit-learn's use `LEQ`).
//! `BRANCH_EQ`/`NEQ`, missing-value tracks, `MIN`/`MAX` aggregation and the `SOFTMAX_ZERO` and
//! `PROBIT` transforms are refused by name.
//!
//! A classifier's outputs are onnxruntime's: the label (the argmax of the scores, when the class
//! labels are `0..n`) and the probabilities, `post_transform` applied to the scores (`SOFTMAX` as
//! a final Softmax, `LOGISTIC` as Sigmoid). With two classes and weights for class 0 only (a
//! binary model: scikit-learn's trees and boosting) the one score `s` becomes two, as onnxruntime
//! makes them: `[1 − s, s]` when no weight is negative, else `[−s, s]`, untransformed except that
//! `LOGISTIC` of `[−s, s]` is `[σ(−s), σ(s)]`, emitted as the Softmax of `[0, s]` (the same
//! values). Two classes with a score each and base values, where onnxruntime does something else
//! again, are refused. Every convention is checked against onnxruntime
//! (`testdata/models/onnxml_conventions`).

use super::{Builder, Ctx, Missing, Operand};
use crate::error::Result;
use crate::graph::compare::Comparison;
use crate::graph::constant::Weights;
use crate::graph::{MAX_TENSOR_VALUES, Op, ValueId};
use std::collections::HashMap;

/// The node's outputs in ONNX order; those it cannot give are [`Missing`].
pub(crate) type Outputs = Vec<std::result::Result<ValueId, Missing>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Branch {
    Leaf,
    Leq,
    Lt,
    Gte,
    Gt,
}

/// The ensemble as node tests and leaf paths.
struct Ensemble {
    /// Per internal node: its feature and threshold.
    tests: Vec<(usize, f64)>,
    cmp: Comparison,
    /// Per leaf: its path, (test, whether the test must hold).
    paths: Vec<Vec<(usize, bool)>>,
    /// The leaf index of each (tree id, node id).
    leaf_of: HashMap<(i64, i64), usize>,
    trees: usize,
}

fn required<T>(ctx: &Ctx, name: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| ctx.invalid(format!("missing attribute '{name}'")))
}

fn parse(ctx: &Ctx, features: usize) -> Result<Ensemble> {
    let a = &ctx.attrs;
    let tree_ids = required(ctx, "nodes_treeids", a.ints("nodes_treeids")?)?;
    let node_ids = required(ctx, "nodes_nodeids", a.ints("nodes_nodeids")?)?;
    let feature_ids = required(ctx, "nodes_featureids", a.ints("nodes_featureids")?)?;
    let values = required(ctx, "nodes_values", a.floats("nodes_values")?)?;
    let modes = required(ctx, "nodes_modes", a.strings("nodes_modes")?)?;
    let yes = required(ctx, "nodes_truenodeids", a.ints("nodes_truenodeids")?)?;
    let no = required(ctx, "nodes_falsenodeids", a.ints("nodes_falsenodeids")?)?;
    let n = tree_ids.len();
    if [node_ids.len(), feature_ids.len(), values.len(), modes.len(), yes.len(), no.len()].iter().any(|&l| l != n) {
        return Err(ctx.invalid("the nodes_* attributes differ in length"));
    }
    if a.ints("nodes_missing_value_tracks_true")?.is_some_and(|m| m.iter().any(|&t| t != 0)) {
        return Err(ctx.unsupported("missing-value tracks (nodes_missing_value_tracks_true)"));
    }
    let mut index = HashMap::with_capacity(n);
    for (i, key) in tree_ids.iter().copied().zip(node_ids.iter().copied()).enumerate() {
        if index.insert(key, i).is_some() {
            return Err(ctx.invalid(format!("tree {} has node {} twice", key.0, key.1)));
        }
    }
    let branches = modes
        .iter()
        .map(|m| match m.as_str() {
            "LEAF" => Ok(Branch::Leaf),
            "BRANCH_LEQ" => Ok(Branch::Leq),
            "BRANCH_LT" => Ok(Branch::Lt),
            "BRANCH_GTE" => Ok(Branch::Gte),
            "BRANCH_GT" => Ok(Branch::Gt),
            other => Err(ctx.unsupported(format!("node mode {other}"))),
        })
        .collect::<Result<Vec<_>>>()?;
    let leq = branches.iter().any(|b| matches!(b, Branch::Leq | Branch::Gt));
    let lt = branches.iter().any(|b| matches!(b, Branch::Lt | Branch::Gte));
    if leq && lt {
        return Err(ctx.unsupported("both ≤/> and </≥ node tests in one ensemble"));
    }
    let cmp = if lt { Comparison::Less } else { Comparison::LessOrEqual };
    // The path layer holds a value per test and leaf: bounded before anything is built.
    let tests = branches.iter().filter(|b| **b != Branch::Leaf).count();
    within_limit(ctx, "node tests", tests, "leaves", n - tests)?;
    let child = |i: usize, id: i64| {
        index
            .get(&(tree_ids[i], id))
            .copied()
            .ok_or_else(|| ctx.invalid(format!("tree {} node {} points to missing node {id}", tree_ids[i], node_ids[i])))
    };
    // Each tree's root: its one node no other node points to (trees in order of appearance).
    let mut has_parent = vec![false; n];
    for i in 0..n {
        if branches[i] != Branch::Leaf {
            has_parent[child(i, yes[i])?] = true;
            has_parent[child(i, no[i])?] = true;
        }
    }
    let mut tree_order: HashMap<i64, usize> = HashMap::new();
    let mut roots: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let t = *tree_order.entry(tree_ids[i]).or_insert_with(|| {
            roots.push(Vec::new());
            roots.len() - 1
        });
        if !has_parent[i] {
            roots[t].push(i);
        }
    }
    let mut tree_ids_in_order: Vec<(usize, i64)> = tree_order.iter().map(|(&id, &t)| (t, id)).collect();
    tree_ids_in_order.sort_unstable();
    for &(t, id) in &tree_ids_in_order {
        if roots[t].len() != 1 {
            return Err(ctx.invalid(format!("tree {id} has {} roots", roots[t].len())));
        }
    }
    let mut e = Ensemble { tests: Vec::new(), cmp, paths: Vec::new(), leaf_of: HashMap::new(), trees: roots.len() };
    // The branches taken so far, each (the branch before it, test, whether it holds); a leaf's
    // path is read back along them, so a deep tree costs memory in proportion to its nodes.
    const START: usize = usize::MAX;
    let mut trail: Vec<(usize, usize, bool)> = Vec::new();
    let mut visits = 0usize;
    for root in roots.into_iter().flatten() {
        let mut stack = vec![(root, START)];
        while let Some((i, branch)) = stack.pop() {
            visits += 1;
            if visits > n {
                return Err(ctx.invalid(format!("tree {} is not a tree (a node is reached twice)", tree_ids[i])));
            }
            if branches[i] == Branch::Leaf {
                let mut path = Vec::new();
                let mut b = branch;
                while b != START {
                    let (before, t, holds) = trail[b];
                    path.push((t, holds));
                    b = before;
                }
                e.leaf_of.insert((tree_ids[i], node_ids[i]), e.paths.len());
                e.paths.push(path);
                continue;
            }
            let feature = usize::try_from(feature_ids[i]).ok().filter(|&f| f < features).ok_or_else(|| {
                ctx.invalid(format!("tree {} node {} tests feature {} of {features}", tree_ids[i], node_ids[i], feature_ids[i]))
            })?;
            let t = e.tests.len();
            e.tests.push((feature, values[i]));
            // ≤ and < hold on the true branch; > and ≥ are their negations, holding on the false one.
            let (holds, fails) = match branches[i] {
                Branch::Leq | Branch::Lt => (yes[i], no[i]),
                _ => (no[i], yes[i]),
            };
            trail.push((branch, t, false));
            stack.push((child(i, fails)?, trail.len() - 1));
            trail.push((branch, t, true));
            stack.push((child(i, holds)?, trail.len() - 1));
        }
    }
    if e.tests.is_empty() {
        return Err(ctx.unsupported("an ensemble without a single split (a constant model)"));
    }
    Ok(e)
}

/// Refuses a layer of `a × b` values past the per-tensor limit.
fn within_limit(ctx: &Ctx, what_a: &str, a: usize, what_b: &str, b: usize) -> Result<()> {
    match a.checked_mul(b) {
        Some(v) if v <= MAX_TENSOR_VALUES => Ok(()),
        _ => Err(ctx.unsupported(format!("{a} {what_a} × {b} {what_b}: more than {MAX_TENSOR_VALUES} values in one layer"))),
    }
}

/// Per leaf, per output: the sum of the `prefix`_weights given to it.
fn leaf_weights(ctx: &Ctx, e: &Ensemble, prefix: &str, outputs: usize) -> Result<Vec<Vec<f64>>> {
    let a = &ctx.attrs;
    let name = |s: &str| format!("{prefix}_{s}");
    let trees = required(ctx, &name("treeids"), a.ints(&name("treeids"))?)?;
    let nodes = required(ctx, &name("nodeids"), a.ints(&name("nodeids"))?)?;
    let ids = required(ctx, &name("ids"), a.ints(&name("ids"))?)?;
    let weights = required(ctx, &name("weights"), a.floats(&name("weights"))?)?;
    if [nodes.len(), ids.len(), weights.len()].iter().any(|&l| l != trees.len()) {
        return Err(ctx.invalid(format!("the {prefix}_* attributes differ in length")));
    }
    within_limit(ctx, "leaves", e.paths.len(), "outputs", outputs)?;
    let mut out = vec![vec![0.0; outputs]; e.paths.len()];
    for k in 0..trees.len() {
        let leaf = e
            .leaf_of
            .get(&(trees[k], nodes[k]))
            .ok_or_else(|| ctx.invalid(format!("a weight for tree {} node {}, which is not a leaf", trees[k], nodes[k])))?;
        let id = usize::try_from(ids[k]).ok().filter(|&i| i < outputs).ok_or_else(|| {
            ctx.invalid(format!("{prefix}_ids holds {} for {outputs} outputs", ids[k]))
        })?;
        out[*leaf][id] += weights[k];
    }
    Ok(out)
}

/// The base values (zeros when absent; `len` of them).
fn base_values(ctx: &Ctx, len: usize) -> Result<Vec<f64>> {
    match ctx.attrs.floats("base_values")? {
        None => Ok(vec![0.0; len]),
        Some(v) if v.len() == len => Ok(v),
        Some(v) => Err(ctx.invalid(format!("{} base values for {len} outputs", v.len()))),
    }
}

/// The GEMM form of `e` on `x`, its scores `E·reached + bias` (`scores[leaf][output]`).
fn gemm(b: &mut Builder, ctx: &Ctx, x: ValueId, e: &Ensemble, scores: &[Vec<f64>], bias: &[f64]) -> Result<ValueId> {
    let xs = b.shape(x).to_vec();
    let features = xs.last().copied().unwrap_or(0);
    let batch = &xs[..xs.len() - 1];
    let shape = |n: usize| batch.iter().copied().chain([n]).collect::<Vec<_>>();
    let (tests, leaves, outputs) = (e.tests.len(), e.paths.len(), bias.len());
    within_limit(ctx, "node tests", tests, "features", features)?;
    within_limit(ctx, "outputs", outputs, "leaves", leaves)?;
    let mut select = vec![0f32; tests * features];
    for (t, &(f, _)) in e.tests.iter().enumerate() {
        select[t * features + f] = 1.0;
    }
    let label = |s: &str| format!("{}/{s}", ctx.label);
    let dense = |weight: Vec<f32>, out: usize, inp: usize, bias: Vec<f32>| Op::Dense { weight: Weights::new(vec![out, inp], weight), bias };
    let picked = b.push(&label("select_features"), dense(select, tests, features, vec![0.0; tests]), vec![x], shape(tests));
    let thresholds = Op::CompareConst { cmp: e.cmp, c: e.tests.iter().map(|t| t.1).collect(), c_shape: vec![tests] };
    let held = b.push(&label("node_tests"), thresholds, vec![picked], shape(tests));
    let mut paths = vec![0f32; leaves * tests];
    for (j, path) in e.paths.iter().enumerate() {
        for &(t, holds) in path {
            paths[j * tests + t] = if holds { 1.0 } else { -1.0 };
        }
    }
    let sums = b.push(&label("paths"), dense(paths, leaves, tests, vec![0.0; leaves]), vec![held], shape(leaves));
    let counts = e.paths.iter().map(|p| p.iter().filter(|t| t.1).count() as f64).collect();
    let reached = b.push(&label("leaves"), Op::CompareConst { cmp: Comparison::Equal, c: counts, c_shape: vec![leaves] }, vec![sums], shape(leaves));
    let values = (0..outputs).flat_map(|o| scores.iter().map(move |leaf| leaf[o] as f32)).collect();
    let bias = bias.iter().map(|&v| v as f32).collect();
    Ok(b.push(&label("scores"), dense(values, outputs, leaves, bias), vec![reached], shape(outputs)))
}

/// The runtime `[N, features]` input.
fn input(b: &Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<(ValueId, usize)> {
    let x = ctx.value(ops, 0)?;
    match b.shape(x) {
        [_, f] if *f > 0 => Ok((x, *f)),
        s => Err(ctx.unsupported(format!("an input of shape {s:?} (tree ensembles take [N, features])"))),
    }
}

/// `ai.onnx.ml.TreeEnsembleClassifier`: outputs the label and the probabilities.
pub(crate) fn classifier(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<Outputs> {
    let (x, features) = input(b, ctx, ops)?;
    let a = &ctx.attrs;
    let (classes, labels_are_indices) = match (a.ints("classlabels_int64s")?, a.strings("classlabels_strings")?) {
        (Some(l), None) => (l.len(), l.iter().enumerate().all(|(i, &v)| v == i as i64)),
        (None, Some(l)) => (l.len(), false),
        _ => return Err(ctx.invalid("needs exactly one of classlabels_int64s and classlabels_strings")),
    };
    if classes < 2 {
        return Err(ctx.invalid(format!("{classes} class label(s)")));
    }
    let e = parse(ctx, features)?;
    let weights = leaf_weights(ctx, &e, "class", classes)?;
    let post = a.string("post_transform")?.unwrap_or_else(|| "NONE".into());
    let class_ids = a.ints("class_ids")?.unwrap_or_default();
    let binary = classes == 2 && class_ids.iter().all(|&c| c == 0);
    let (scores, bias, post) = if binary {
        // onnxruntime's binary convention: the one score s gives [1 − s, s] when no weight is
        // negative, else [−s, s]; only LOGISTIC of the latter is transformed, to [σ(−s), σ(s)].
        let base = match a.floats("base_values")? {
            None => 0.0,
            Some(v) if v.len() == 1 => v[0],
            Some(v) => return Err(ctx.unsupported(format!("{} base values on a classifier with one score (onnxruntime reads one)", v.len()))),
        };
        let all_positive = a.floats("class_weights")?.unwrap_or_default().iter().all(|&w| w >= 0.0);
        let s = |leaf: &Vec<f64>| leaf[0];
        match post.as_str() {
            "LOGISTIC" if !all_positive => (weights.iter().map(|l| vec![0.0, s(l)]).collect::<Vec<_>>(), vec![0.0, base], "SOFTMAX".to_string()),
            "NONE" | "LOGISTIC" | "SOFTMAX" if all_positive => (weights.iter().map(|l| vec![-s(l), s(l)]).collect(), vec![1.0 - base, base], "NONE".into()),
            "NONE" | "LOGISTIC" | "SOFTMAX" => (weights.iter().map(|l| vec![-s(l), s(l)]).collect(), vec![-base, base], "NONE".into()),
            other => return Err(ctx.unsupported(format!("post_transform {other}"))),
        }
    } else {
        let base = base_values(ctx, classes)?;
        if classes == 2 && base.iter().any(|&b| b != 0.0) {
            return Err(ctx.unsupported("base values on a two-class classifier with a score per class (onnxruntime's convention for them is not reproduced)"));
        }
        (weights, base, post)
    };
    let scores_v = gemm(b, ctx, x, &e, &scores, &bias)?;
    let shape = b.shape(scores_v).to_vec();
    let probabilities = match post.as_str() {
        "NONE" => scores_v,
        "SOFTMAX" => b.push(&format!("{}/probabilities", ctx.label), Op::Softmax, vec![scores_v], shape.clone()),
        "LOGISTIC" => b.push(&format!("{}/probabilities", ctx.label), Op::Sigmoid, vec![scores_v], shape.clone()),
        other => return Err(ctx.unsupported(format!("post_transform {other}"))),
    };
    let label = if labels_are_indices {
        Ok(b.push(&format!("{}/label", ctx.label), Op::ArgMax, vec![scores_v], shape[..shape.len() - 1].to_vec()))
    } else {
        Err(Missing {
            op: ctx.op_type.to_string(),
            node: ctx.label.to_string(),
            reason: "the label output maps classes to labels other than 0..n (use the probabilities)".into(),
        })
    };
    Ok(vec![label, Ok(probabilities)])
}

/// `ai.onnx.ml.TreeEnsembleRegressor`: outputs the targets.
pub(crate) fn regressor(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<Outputs> {
    let (x, features) = input(b, ctx, ops)?;
    let a = &ctx.attrs;
    let targets = usize::try_from(a.int("n_targets", 1)?).ok().filter(|&t| t > 0).ok_or_else(|| ctx.invalid("n_targets must be positive"))?;
    let e = parse(ctx, features)?;
    let mut weights = leaf_weights(ctx, &e, "target", targets)?;
    match a.string("aggregate_function")?.as_deref().unwrap_or("SUM") {
        "SUM" => {}
        "AVERAGE" => weights.iter_mut().flatten().for_each(|w| *w /= e.trees as f64),
        other => return Err(ctx.unsupported(format!("aggregate_function {other}"))),
    }
    match a.string("post_transform")?.as_deref().unwrap_or("NONE") {
        "NONE" => {}
        other => return Err(ctx.unsupported(format!("post_transform {other}"))),
    }
    let bias = base_values(ctx, targets)?;
    Ok(vec![Ok(gemm(b, ctx, x, &e, &weights, &bias)?)])
}
