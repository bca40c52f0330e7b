//! EZKL's example models, used as they are: each runs (float within 1e-4 of
//! onnxruntime, quantized argmax equal) or fails naming its unsupported operator.

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
use cipherproof_model::{ModelError, import_onnx};
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
const UNSUPPORTED: &[(&str, &str)] = &[
    ("decision_tree", "Less"),
    ("lstm", "LSTM"),
    ("xgboost", "Less"),
];

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

#[test]
fn unsupported_examples_name_the_operator_and_node() {
    for (name, op) in UNSUPPORTED {
        let bytes = std::fs::read(testdata().join("ezkl").join(name).join("network.onnx")).unwrap();
        match import_onnx(&bytes) {
            Err(e @ ModelError::UnsupportedOp { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&format!("unsupported operator {op} (node '")),
                    "{name}: {msg}"
                );
            }
            other => panic!("{name}: expected UnsupportedOp, got {other:?}"),
        }
    }
}
