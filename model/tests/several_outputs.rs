//! Several ONNX outputs proven together (`--output a,b`): each is flattened and the
//! flat parts concatenated in the order named. EZKL's lstm with Y, Y_h and Y_c gives
//! each output's own values (float and quantized); a tree classifier's label beside its
//! probabilities keeps the label exact (its index is multiplied up to the probabilities'
//! scale instead of the probabilities being rounded to integers); bad lists are refused
//! by name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::{IntegerRunner, dequantize_output};
use cipherproof_model::onnx::summary::summarize;
use cipherproof_model::quant::{QOp, QuantConfig, quantize};
use cipherproof_model::{Graph, ImportOptions, import_onnx_with};
use common::*;

fn import(dir: &str, file: &str, output: &str) -> cipherproof_model::Result<Graph> {
    let bytes = std::fs::read(testdata().join(dir).join(file)).unwrap();
    import_onnx_with(
        &bytes,
        &ImportOptions {
            output: Some(output.into()),
        },
    )
}

fn lstm(output: &str) -> cipherproof_model::Result<Graph> {
    import("ezkl/lstm", "network.onnx", output)
}

#[test]
fn the_lstms_three_outputs_together_are_each_outputs_values_in_order() {
    let graph = lstm("output,78,79").unwrap();
    assert_eq!(graph.output_info().name, "output,78,79");
    let parts: Vec<Graph> = ["output", "78", "79"].map(|n| lstm(n).unwrap()).into();
    let sizes: Vec<usize> = parts.iter().map(|g| g.output_info().numel()).collect();
    assert_eq!(graph.output_info().shape, [sizes.iter().sum::<usize>()]);
    let reference = read_json(&testdata().join("ezkl/lstm/reference.json"));
    let inputs = rows(&reference["inputs"]);
    let want: Vec<Vec<f32>> = (0..inputs.len())
        .map(|i| {
            ["output", "78", "79"]
                .iter()
                .flat_map(|n| rows(&reference["outputs"][n])[i].clone())
                .collect()
        })
        .collect();
    let float = FloatRunner::new(&graph).unwrap();
    let singles: Vec<FloatRunner> = parts.iter().map(|g| FloatRunner::new(g).unwrap()).collect();
    for (x, want) in inputs.iter().zip(&want) {
        let got = float.run(x).unwrap();
        let joined: Vec<f32> = singles.iter().flat_map(|r| r.run(x).unwrap()).collect();
        assert_eq!(got, joined);
        close_to_onnxruntime(&got, want).unwrap();
    }
    let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
    let integer = IntegerRunner::new(&model).unwrap();
    for (i, (x, want)) in inputs.iter().zip(&want).enumerate() {
        let q = integer.run(&integer.quantize_input(i, x).unwrap()).unwrap();
        let got = dequantize_output(&model, &q);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - f64::from(*w)).abs() < 0.01, "{got:?} vs {want:?}");
        }
    }
}

/// The label (an ArgMax index, scale 2^0) beside probabilities (a fine scale): the joined
/// output keeps the probabilities' scale and the label still decodes exactly.
#[test]
fn a_label_beside_probabilities_stays_exact_and_the_probabilities_fine() {
    let dir = "breast_cancer_tree_onnxml";
    let graph = import(dir, "model.onnx", "label,probabilities").unwrap();
    assert_eq!(graph.output_info().shape, [3]);
    let inputs = rows(&read_json(&testdata().join(dir).join("test.json"))["inputs"]);
    let ort = rows(&read_json(&testdata().join(dir).join("ort.json"))["outputs"]);
    let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
    let concat = model.nodes.last().unwrap();
    match &concat.op {
        QOp::Concat { shifts, .. } => assert!(shifts[0] < 0, "label not multiplied up: {shifts:?}"),
        other => panic!("last op {other:?}"),
    }
    let float = FloatRunner::new(&graph).unwrap();
    let integer = IntegerRunner::new(&model).unwrap();
    for (i, (x, probs)) in inputs.iter().zip(&ort).enumerate() {
        let label = cipherproof_model::exec::argmax(probs).unwrap() as f32;
        let want: Vec<f32> = std::iter::once(label)
            .chain(probs.iter().copied())
            .collect();
        close_to_onnxruntime(&float.run(x).unwrap(), &want).unwrap();
        let q = integer.run(&integer.quantize_input(i, x).unwrap()).unwrap();
        let got = dequantize_output(&model, &q);
        assert_eq!(got[0], f64::from(label), "sample {i}: {got:?}");
        for (g, w) in got[1..].iter().zip(probs) {
            assert!(
                (g - f64::from(*w)).abs() < 0.01,
                "sample {i}: {got:?} vs {probs:?}"
            );
        }
    }
}

#[test]
fn bad_output_lists_are_refused_by_name() {
    let err = |r: cipherproof_model::Result<Graph>| r.unwrap_err().to_string();
    let twice = err(lstm("output,78,output"));
    assert!(twice.contains("output 'output' is named twice"), "{twice}");
    let missing = err(lstm("output,Y_h"));
    assert!(
        missing.contains("no output named 'Y_h' (outputs: output, 78, 79)"),
        "{missing}"
    );
    let empty = err(lstm("output,"));
    assert!(empty.contains("no output named ''"), "{empty}");
    // Probabilities computed by a Softmax can be proven alone, not beside the label.
    let softmax = err(import(
        "iris_gbt_onnxml",
        "model.onnx",
        "label,probabilities",
    ));
    assert!(softmax.contains("can only be proven alone"), "{softmax}");
    assert!(import("iris_gbt_onnxml", "model.onnx", "probabilities").is_ok());
}

/// `inspect` counts the numbers a tree ensemble holds in its attributes (thresholds and
/// leaf weights), which it has instead of initializers: 29 node thresholds and 15 leaf
/// weights (its 29 hit rates are not parameters).
#[test]
fn inspect_counts_a_tree_ensembles_attribute_parameters() {
    let bytes = std::fs::read(testdata().join("breast_cancer_tree_onnxml/model.onnx")).unwrap();
    assert_eq!(summarize(&bytes).unwrap().parameter_count, 29 + 15);
}
