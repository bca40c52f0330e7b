//! Every mutated model (`mutation/mod.rs`: odd attribute values, changed
//! dimensions, rewired inputs, swapped operators, missing nodes, truncated or
//! extreme tensors) is summarized, imported, run in float, quantized (calibrated,
//! and from interval bounds as `compile` does without calibration) and run in
//! integers without a panic: a typed error is fine. What it found is pinned in
//! `hostile_models.rs`. `CIPHERPROOF_FUZZ_ITERS` (default 300 per model) runs a
//! longer campaign.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod mutation;

use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::import_onnx;
use cipherproof_model::onnx::summary::summarize;
use cipherproof_model::quant::{QuantConfig, quantize, quantize_for_range};
use mutation::{Rng, campaign};

const MODELS: &[&str] = &[
    "ezkl/1l_conv/network.onnx",
    "ezkl/1l_mlp/network.onnx",
    "ezkl/1l_relu/network.onnx",
    "digits_mlp/model.onnx",
    "ezkl/2l_relu_sigmoid_small/network.onnx",
    "ezkl/3l_relu_conv_fc/network.onnx",
    "ezkl/linear_regression/network.onnx",
    "digits_cnn/model.onnx",
    "ops_zoo/model.onnx",
    "iris_tanh_mlp/model.onnx",
    "wine_sigmoid_mlp/model.onnx",
    "ezkl/decision_tree/network.onnx",
];

/// Largest value count the harness runs (a mutated but valid model may ask
/// for a legitimately huge input; running it is not what is tested here).
const RUN_LIMIT: usize = 1 << 20;

/// Runs every stage a user's file goes through; returns how far it got.
fn exercise(bytes: &[u8], rng: &mut Rng) -> &'static str {
    let _ = summarize(bytes);
    let Ok(graph) = import_onnx(bytes) else {
        return "import error";
    };
    let numel = graph.input().numel();
    if numel > RUN_LIMIT || graph.values.iter().any(|v| v.numel() > RUN_LIMIT) {
        return "too large to run";
    }
    let Ok(runner) = FloatRunner::new(&graph) else {
        return "float setup error";
    };
    let samples: Vec<Vec<f32>> = (0..2)
        .map(|s| {
            (0..numel)
                .map(|_| {
                    if s == 0 {
                        0.0
                    } else {
                        ((rng.next() % 2001) as f32 - 1000.0) / 1000.0
                    }
                })
                .collect()
        })
        .collect();
    if runner.run(&samples[1]).is_err() {
        return "float run error";
    }
    // `compile` without calibration: scales from interval bounds of the weights.
    if let Ok(m) = quantize_for_range(&graph, 1.0, &QuantConfig::default())
        && let Ok(ints) = IntegerRunner::new(&m)
        && let Ok(x) = ints.quantize_input(0, &samples[1])
    {
        let _ = ints.run(&x);
    }
    let Ok(model) = quantize(&graph, &samples, &QuantConfig::default()) else {
        return "quantize error";
    };
    let Ok(ints) = IntegerRunner::new(&model) else {
        return "integer setup error";
    };
    match ints.quantize_input(0, &samples[1]).map(|x| ints.run(&x)) {
        Ok(Ok(_)) => "ran",
        _ => "integer run error",
    }
}

#[test]
fn mutated_models_never_panic() {
    campaign(MODELS, 300, exercise);
}
