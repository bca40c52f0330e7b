//! EZKL's example models, used as they are: each runs (float within 1e-4 of
//! onnxruntime or onnx's reference, quantized argmax equal). The lstm example has its
//! own tests (`lstm.rs`).

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
use cipherproof_model::import_onnx;
use common::*;

const SUPPORTED: &[&str] = &[
    "1l_conv",
    "1l_mlp",
    "1l_relu",
    "2l_relu_sigmoid_small",
    "3l_relu_conv_fc",
    "digits_mlp",
    "lenet_5",
    "linear_regression",
];

/// hummingbird's xgboost export (tree traversal: comparisons, GatherElements of the input by
/// computed feature indices, gathers from node tables, ReduceSum, Softmax, ArgMax) has two
/// outputs, the class and the probabilities: import asks which one, and the class (its
/// Softmax then dropped before the ArgMax) equals onnx's reference on every iris sample.
#[test]
fn xgboost_proves_the_output_it_is_told_and_matches_the_reference() {
    let dir = testdata().join("ezkl/xgboost");
    let bytes = std::fs::read(dir.join("network.onnx")).unwrap();
    let err = import_onnx(&bytes).unwrap_err().to_string();
    assert!(err.contains("pick it with --output (output, onnx::ArgMax_73)"), "{err}");
    let wrong = cipherproof_model::ImportOptions {
        output: Some("probabilities".into()),
    };
    let err = cipherproof_model::import_onnx_with(&bytes, &wrong).unwrap_err().to_string();
    assert!(err.contains("no output named 'probabilities'"), "{err}");
    let opts = cipherproof_model::ImportOptions {
        output: Some("output".into()),
    };
    let graph = cipherproof_model::import_onnx_with(&bytes, &opts).unwrap();
    assert!(graph.nodes.iter().all(|n| n.op.kind() != "Softmax"));
    equals_the_reference(&graph, &dir);
}

/// The hummingbird-exported decision tree (comparisons, int8 MatMuls, Equal, And, ArgMax,
/// Gather from constant tables) against onnx's reference evaluator on all 150 iris samples
/// and the example input (onnxruntime cannot load it): the float model and the integer
/// model give the same class on every one.
#[test]
fn decision_tree_matches_the_onnx_reference_on_every_iris_sample() {
    let dir = testdata().join("ezkl/decision_tree");
    let graph = import_onnx(&std::fs::read(dir.join("network.onnx")).unwrap()).unwrap();
    equals_the_reference(&graph, &dir);
}

/// The float model, and the integer model calibrated on the same inputs, give exactly the
/// outputs of `dir/reference.json` on every one of its inputs.
fn equals_the_reference(graph: &cipherproof_model::Graph, dir: &std::path::Path) {
    let reference = read_json(&dir.join("reference.json"));
    let inputs = rows(&reference["inputs"]);
    let expected = rows(&reference["outputs"]);
    let float = FloatRunner::new(graph).unwrap();
    for (x, want) in inputs.iter().zip(&expected) {
        assert_eq!(&float.run(x).unwrap(), want, "float model on {x:?}");
    }
    let model = quantize(graph, &inputs, &QuantConfig::default()).unwrap();
    let integer = IntegerRunner::new(&model).unwrap();
    for (i, (x, want)) in inputs.iter().zip(&expected).enumerate() {
        let q = integer.run(&integer.quantize_input(i, x).unwrap()).unwrap();
        let got = cipherproof_model::exec::integer::dequantize_output(&model, &q);
        let want: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
        assert_eq!(got, want, "integer model on {x:?}");
    }
}

#[test]
fn supported_examples_match_onnxruntime_and_quantize() {
    for name in SUPPORTED {
        let dir = testdata().join("ezkl").join(name);
        let graph = import_onnx(&std::fs::read(dir.join("network.onnx")).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let input = rows(&read_json(&dir.join("input.json"))["input_data"]).swap_remove(0);
        let ort = rows(&read_json(&dir.join("ort.json"))["outputs"]).swap_remove(0);
        let float = FloatRunner::new(&graph).unwrap().run(&input).unwrap();
        close_to_onnxruntime(&float, &ort).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = quantize(
            &graph,
            std::slice::from_ref(&input),
            &QuantConfig::default(),
        )
        .unwrap();
        let integer = IntegerRunner::new(&model).unwrap();
        let q = integer
            .run(&integer.quantize_input(0, &input).unwrap())
            .unwrap();
        let f = FloatRunner::new(&graph)
            .unwrap()
            .run_all(&input)
            .unwrap()
            .swap_remove(graph.integer_output());
        assert_eq!(argmax(&q), argmax(&f), "{name}");
    }
}

/// Sigmoid tables span their input's calibrated range at the capped step: the
/// 2l_relu_sigmoid_small sigmoid (inputs within ±1.35, one bit of headroom) gets
/// 2^10 entries at step 2^-7 instead of 2^12 at 2^-9; uncapped, the old size.
#[test]
fn lookup_tables_are_sized_to_the_input_range_at_the_capped_step() {
    use cipherproof_model::quant::QOp;
    let dir = testdata().join("ezkl/2l_relu_sigmoid_small");
    let graph = import_onnx(&std::fs::read(dir.join("network.onnx")).unwrap()).unwrap();
    let input = rows(&read_json(&dir.join("input.json"))["input_data"]).swap_remove(0);
    let table = |config: &QuantConfig| {
        let model = quantize(&graph, std::slice::from_ref(&input), config).unwrap();
        let (in_scale, lut) = model
            .nodes
            .iter()
            .find_map(|n| match &n.op {
                QOp::Lut {
                    in_shift, table, ..
                } => Some((
                    model.values[n.inputs[0]].scale - *in_shift as i32,
                    table.len(),
                )),
                _ => None,
            })
            .unwrap();
        (in_scale, lut, model)
    };
    let (scale, size, model) = table(&QuantConfig::default());
    assert_eq!((scale, size), (7, 1 << 10));
    let uncapped = QuantConfig {
        lut_max_scale: i32::MAX,
        ..QuantConfig::default()
    };
    let (scale, size, _) = table(&uncapped);
    assert_eq!((scale, size), (9, 1 << 12));
    // The smaller table still gives the float model's answer within a table step.
    let integer = IntegerRunner::new(&model).unwrap();
    let q = integer
        .run(&integer.quantize_input(0, &input).unwrap())
        .unwrap();
    let f = FloatRunner::new(&graph).unwrap().run(&input).unwrap();
    let s = model.output_info().scale;
    for (q, f) in q.iter().zip(&f) {
        assert!(
            (*q as f64 * 2f64.powi(-s) - f64::from(*f)).abs() < 2f64.powi(-8),
            "{q} vs {f}"
        );
    }
}
