//! scikit-learn tree models as skl2onnx exports them (one `ai.onnx.ml.TreeEnsembleClassifier`
//! node), rewritten at import into the GEMM form: each fixture's probabilities equal
//! onnxruntime's on every test sample and its label is their argmax; the decision tree exported
//! both ways (our GEMM fixture and skl2onnx's node) quantizes to the same integer model outputs;
//! damaged ensembles are refused naming what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_model::exec::argmax;
use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::onnx::decode_model;
use cipherproof_model::onnx::proto::{AttributeProto, ModelProto};
use cipherproof_model::quant::{QuantConfig, quantize_for_range};
use cipherproof_model::{Graph, ImportOptions, import_onnx, import_onnx_with};
use common::*;
use prost::Message;

const FIXTURES: [&str; 3] = ["breast_cancer_tree_onnxml", "breast_cancer_gbt_onnxml", "iris_gbt_onnxml"];

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(name).join("model.onnx")).unwrap()
}

fn import(bytes: &[u8], output: &str) -> cipherproof_model::Result<Graph> {
    import_onnx_with(bytes, &ImportOptions { output: Some(output.into()) })
}

#[test]
fn probabilities_equal_onnxruntimes_and_labels_are_their_argmax() {
    for name in FIXTURES {
        let model = bytes(name);
        let err = import_onnx(&model).unwrap_err().to_string();
        assert!(err.contains("pick it with --output (label, probabilities)"), "{name}: {err}");
        let graph = import(&model, "probabilities").unwrap();
        let kinds: Vec<&str> = graph.nodes.iter().map(|n| n.op.kind()).collect();
        assert_eq!(kinds[..5], ["Dense", "LessOrEqual", "Dense", "Equal", "Dense"], "{name}");
        let test = read_json(&testdata().join(name).join("test.json"));
        let inputs = rows(&test["inputs"]);
        let ort = rows(&read_json(&testdata().join(name).join("ort.json"))["outputs"]);
        let float = FloatRunner::new(&graph).unwrap();
        let label_graph = import(&model, "label").unwrap();
        let labels = FloatRunner::new(&label_graph).unwrap();
        for (i, (x, want)) in inputs.iter().zip(&ort).enumerate() {
            close_to_onnxruntime(&float.run(x).unwrap(), want).unwrap_or_else(|e| panic!("{name} sample {i}: {e}"));
            let label = labels.run(x).unwrap();
            assert_eq!(label.len(), 1, "{name}");
            assert_eq!(Some(label[0] as usize), argmax(want), "{name} sample {i}: label of {want:?}");
        }
    }
}

#[test]
fn the_exported_tree_quantizes_to_the_gemm_fixtures_integer_model() {
    let config = QuantConfig { activation_bits: 6, weight_bits: 4, output_bits: Some(16), ..QuantConfig::default() };
    let quantized = |graph: &Graph| quantize_for_range(graph, 1.9375, &config).unwrap();
    let gemm = quantized(&import_onnx(&bytes("breast_cancer_tree")).unwrap());
    let onnxml = quantized(&import(&bytes("breast_cancer_tree_onnxml"), "probabilities").unwrap());
    let (a, b) = (IntegerRunner::new(&gemm).unwrap(), IntegerRunner::new(&onnxml).unwrap());
    let inputs = rows(&read_json(&testdata().join("breast_cancer_tree/test.json"))["inputs"]);
    for (i, x) in inputs.iter().enumerate() {
        let (qa, qb) = (a.quantize_input(i, x).unwrap(), b.quantize_input(i, x).unwrap());
        assert_eq!(qa, qb);
        assert_eq!(a.run(&qa).unwrap(), b.run(&qb).unwrap(), "sample {i}");
    }
}

/// A random forest regressor (`TreeEnsembleRegressor`) equals onnxruntime on 50 inputs, and so
/// does the same forest with its leaf values 5× and `AVERAGE` aggregation over its 5 trees.
#[test]
fn a_forest_regressor_equals_onnxruntime_summed_or_averaged() {
    let reference = read_json(&testdata().join("diabetes_forest_onnxml/reference.json"));
    let (inputs, want) = (rows(&reference["inputs"]), rows(&reference["outputs"]));
    let summed = bytes("diabetes_forest_onnxml");
    let mut m = decode_model(&summed).unwrap();
    let a = ensemble(&mut m);
    attr(a, "target_weights").floats.iter_mut().for_each(|w| *w *= 5.0);
    a.retain(|x| x.name() != "aggregate_function");
    a.push(AttributeProto { name: Some("aggregate_function".into()), s: Some(b"AVERAGE".to_vec()), r#type: Some(3), ..Default::default() });
    for model in [summed, m.encode_to_vec()] {
        let graph = import_onnx(&model).unwrap();
        let float = FloatRunner::new(&graph).unwrap();
        for (i, (x, w)) in inputs.iter().zip(&want).enumerate() {
            close_to_onnxruntime(&float.run(x).unwrap(), w).unwrap_or_else(|e| panic!("sample {i}: {e}"));
        }
    }
}

/// The attributes of the model's ensemble node, to edit.
fn ensemble(m: &mut ModelProto) -> &mut Vec<AttributeProto> {
    let g = m.graph.as_mut().unwrap();
    &mut g.node.iter_mut().find(|n| n.op_type().starts_with("TreeEnsemble")).unwrap().attribute
}

fn attr<'a>(attrs: &'a mut [AttributeProto], name: &str) -> &'a mut AttributeProto {
    attrs.iter_mut().find(|a| a.name() == name).unwrap()
}

fn damaged(want: &str, edit: impl Fn(&mut Vec<AttributeProto>)) -> String {
    let mut m = decode_model(&bytes("breast_cancer_tree_onnxml")).unwrap();
    edit(ensemble(&mut m));
    match import(&m.encode_to_vec(), "probabilities") {
        Ok(_) => panic!("a damaged ensemble ('{want}') must not import"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn damaged_ensembles_are_refused_naming_the_problem() {
    type Edit = Box<dyn Fn(&mut Vec<AttributeProto>)>;
    let set_string = |name: &'static str, value: &'static [u8]| -> Edit {
        Box::new(move |a: &mut Vec<AttributeProto>| {
            a.retain(|x| x.name() != name);
            a.push(AttributeProto { name: Some(name.into()), s: Some(value.to_vec()), r#type: Some(3), ..Default::default() });
        })
    };
    let cases: Vec<(&str, Edit)> = vec![
        ("BRANCH_EQ", Box::new(|a: &mut Vec<AttributeProto>| attr(a, "nodes_modes").strings[0] = b"BRANCH_EQ".to_vec())),
        ("points to missing node 999", Box::new(|a: &mut Vec<AttributeProto>| attr(a, "nodes_truenodeids").ints[0] = 999)),
        ("tests feature 99 of 30", Box::new(|a: &mut Vec<AttributeProto>| attr(a, "nodes_featureids").ints[0] = 99)),
        ("differ in length", Box::new(|a: &mut Vec<AttributeProto>| {
            attr(a, "nodes_values").floats.pop();
        })),
        ("post_transform PROBIT", set_string("post_transform", b"PROBIT")),
        // The root's both branches on one child: the other child's subtree has no parent.
        ("has 2 roots", Box::new(|a: &mut Vec<AttributeProto>| {
            let no = attr(a, "nodes_falsenodeids").ints[0];
            attr(a, "nodes_truenodeids").ints[0] = no;
        })),
        ("which is not a leaf", Box::new(|a: &mut Vec<AttributeProto>| attr(a, "class_nodeids").ints[0] = 0)),
        ("missing-value tracks", Box::new(|a: &mut Vec<AttributeProto>| {
            let n = attr(a, "nodes_nodeids").ints.len();
            a.retain(|x| x.name() != "nodes_missing_value_tracks_true");
            a.push(AttributeProto { name: Some("nodes_missing_value_tracks_true".into()), ints: vec![1; n], r#type: Some(7), ..Default::default() });
        })),
    ];
    for (want, edit) in cases {
        let err = damaged(want, edit);
        assert!(err.contains(want), "want '{want}': {err}");
    }
    // Labels other than 0..n: the probabilities import, the label output is refused.
    let mut m = decode_model(&bytes("breast_cancer_tree_onnxml")).unwrap();
    attr(ensemble(&mut m), "classlabels_int64s").ints = vec![5, 7];
    let m = m.encode_to_vec();
    assert!(import(&m, "probabilities").is_ok());
    let err = import(&m, "label").unwrap_err().to_string();
    assert!(err.contains("labels other than 0..n"), "{err}");
}

/// A hostile ensemble that would need a path layer past the per-tensor limit (a chain of 10,000 node
/// tests, each with a leaf: 10,000 × 10,001 values) is refused before anything is built.
#[test]
fn an_ensemble_too_large_for_one_layer_is_refused_before_it_is_built() {
    let tests = 10_000i64;
    let n = 2 * tests + 1;
    let mut m = decode_model(&bytes("breast_cancer_tree_onnxml")).unwrap();
    let a = ensemble(&mut m);
    let ints = |name: &str, v: Vec<i64>| AttributeProto { name: Some(name.into()), ints: v, r#type: Some(7), ..Default::default() };
    let internal = |i: i64| i < tests;
    a.retain(|x| !x.name().starts_with("nodes_") && !x.name().starts_with("class_"));
    a.push(ints("nodes_treeids", vec![0; n as usize]));
    a.push(ints("nodes_nodeids", (0..n).collect()));
    a.push(ints("nodes_featureids", vec![0; n as usize]));
    a.push(ints("nodes_truenodeids", (0..n).map(|i| if internal(i) { tests + i } else { 0 }).collect()));
    a.push(ints("nodes_falsenodeids", (0..n).map(|i| if internal(i) { if i + 1 < tests { i + 1 } else { n - 1 } } else { 0 }).collect()));
    a.push(AttributeProto { name: Some("nodes_values".into()), floats: vec![0.0; n as usize], r#type: Some(6), ..Default::default() });
    let modes = (0..n).map(|i| if internal(i) { b"BRANCH_LEQ".to_vec() } else { b"LEAF".to_vec() }).collect();
    a.push(AttributeProto { name: Some("nodes_modes".into()), strings: modes, r#type: Some(8), ..Default::default() });
    for name in ["class_treeids", "class_ids"] {
        a.push(ints(name, vec![0]));
    }
    a.push(ints("class_nodeids", vec![tests]));
    a.push(AttributeProto { name: Some("class_weights".into()), floats: vec![1.0], r#type: Some(6), ..Default::default() });
    let err = import(&m.encode_to_vec(), "probabilities").unwrap_err().to_string();
    assert!(err.contains("10000 node tests × 10001 leaves"), "{err}");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// onnxruntime's conventions, case by case (`testdata/models/onnxml_conventions`): every
/// post_transform on binary models (non-negative weights or not, with and without a base value),
/// two classes with a score each and three classes give onnxruntime's probabilities and labels;
/// the one convention not reproduced (two classes, a score each, base values) is refused by name.
#[test]
fn every_classifier_convention_gives_onnxruntimes_outputs_or_is_refused() {
    let cases = read_json(&testdata().join("onnxml_conventions/cases.json"));
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 24);
    for case in cases {
        let name = case["case"].as_str().unwrap();
        let model = unhex(case["model_hex"].as_str().unwrap());
        if case["refused"].as_bool().unwrap() {
            let err = import(&model, "probabilities").unwrap_err().to_string();
            assert!(err.contains("base values on a two-class classifier"), "{name}: {err}");
            continue;
        }
        let (probabilities, labels) = (import(&model, "probabilities").unwrap(), import(&model, "label").unwrap());
        let (p, l) = (FloatRunner::new(&probabilities).unwrap(), FloatRunner::new(&labels).unwrap());
        let want = rows(&case["probabilities"]);
        for (i, x) in rows(&case["inputs"]).iter().enumerate() {
            close_to_onnxruntime(&p.run(x).unwrap(), &want[i]).unwrap_or_else(|e| panic!("{name}, x = {x:?}: {e}"));
            assert_eq!(l.run(x).unwrap(), [case["labels"][i].as_i64().unwrap() as f32], "{name}, x = {x:?}: label");
        }
    }
}
