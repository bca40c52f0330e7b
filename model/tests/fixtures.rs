//! The trained fixtures: float outputs match onnxruntime, and the quantized
//! model (calibrated on training samples) agrees with the float argmax.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod common;

use cipherproof_model::exec::argmax;
use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_model::{Graph, import_onnx};
use common::*;

fn load(name: &str) -> (Graph, Vec<Vec<f32>>, Vec<usize>, Vec<Vec<f32>>) {
    let dir = testdata().join(name);
    let graph = import_onnx(&std::fs::read(dir.join("model.onnx")).unwrap()).unwrap();
    let test = read_json(&dir.join("test.json"));
    let labels = test["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let cal = rows(&read_json(&dir.join("calibration.json"))["inputs"]);
    (graph, rows(&test["inputs"]), labels, cal)
}

#[test]
fn float_outputs_match_onnxruntime_on_every_test_sample() {
    for (name, _) in TRAINED {
        let (graph, inputs, _, _) = load(name);
        let ort = rows(&read_json(&testdata().join(name).join("ort.json"))["outputs"]);
        assert_eq!(ort.len(), inputs.len(), "{name}");
        let runner = FloatRunner::new(&graph).unwrap();
        for (i, (x, expected)) in inputs.iter().zip(&ort).enumerate() {
            close_to_onnxruntime(&runner.run(x).unwrap(), expected)
                .unwrap_or_else(|e| panic!("{name} sample {i}: {e}"));
        }
    }
}

#[test]
fn quantized_argmax_agrees_with_float_on_test_sets() {
    for (name, min_agreement) in TRAINED {
        let (graph, inputs, labels, cal) = load(name);
        let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
        let float = FloatRunner::new(&graph).unwrap();
        let integer = IntegerRunner::new(&model).unwrap();
        let (mut agree, mut correct) = (0, 0);
        for (i, x) in inputs.iter().enumerate() {
            let f = float
                .run_all(x)
                .unwrap()
                .swap_remove(graph.integer_output());
            let q = integer.run(&integer.quantize_input(i, x).unwrap()).unwrap();
            agree += usize::from(argmax(&f) == argmax(&q));
            correct += usize::from(argmax(&q) == Some(labels[i]));
        }
        let rate = agree as f64 / inputs.len() as f64;
        println!(
            "{name}: agreement {agree}/{} = {rate:.4}, quantized accuracy {:.4}",
            inputs.len(),
            correct as f64 / inputs.len() as f64
        );
        assert!(
            rate >= *min_agreement,
            "{name}: agreement {rate} < {min_agreement}"
        );
    }
}

#[test]
fn digits_mlp_uses_all_450_test_images() {
    let (_, inputs, labels, _) = load("digits_mlp");
    assert_eq!((inputs.len(), labels.len()), (450, 450));
}

#[test]
fn batch_norm_is_folded_into_the_conv() {
    let (graph, ..) = load("digits_cnn");
    let kinds: Vec<&str> = graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(
        kinds,
        ["Conv", "Relu", "MaxPool", "Reshape", "Dense", "Softmax"]
    );
}

#[test]
fn matmul_plus_bias_becomes_one_dense_layer() {
    let (graph, ..) = load("iris_tanh_mlp");
    let kinds: Vec<&str> = graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Dense", "Tanh", "Dense"]);
}

#[test]
fn integer_model_is_deterministic_and_serializable() {
    let (graph, inputs, _, cal) = load("digits_cnn");
    let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let back: cipherproof_model::quant::QuantModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    let a = IntegerRunner::new(&model).unwrap();
    let b = IntegerRunner::new(&back).unwrap();
    let q = a.quantize_input(0, &inputs[0]).unwrap();
    assert_eq!(a.run_all(&q).unwrap(), b.run_all(&q).unwrap());
}

#[test]
fn fixture_checksums_match() {
    use sha2::{Digest, Sha256};
    let mut dirs = vec![];
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let p = entry.unwrap().path();
        if p.join("SHA256SUMS").exists() {
            dirs.push(p.clone());
        }
        if p.is_dir() {
            for sub in std::fs::read_dir(&p).unwrap() {
                let s = sub.unwrap().path();
                if s.join("SHA256SUMS").exists() {
                    dirs.push(s);
                }
            }
        }
    }
    assert!(dirs.len() >= 17, "found {} fixture directories", dirs.len());
    for dir in dirs {
        for line in std::fs::read_to_string(dir.join("SHA256SUMS"))
            .unwrap()
            .lines()
        {
            let (digest, file) = line.split_once("  ").unwrap();
            let actual = format!(
                "{:x}",
                Sha256::digest(std::fs::read(dir.join(file)).unwrap())
            );
            assert_eq!(
                actual,
                digest,
                "{}/{file} changed: rerun its gen.py",
                dir.display()
            );
        }
    }
}
