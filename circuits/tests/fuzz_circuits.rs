//! Differential fuzzing of the circuits against the integer reference: each
//! mutated fixture model (`model/tests/mutation`) that imports, quantizes and
//! runs is laid out as a circuit (with and without the dot-product gate, with a
//! private, public or hashed input) whose outputs must equal the reference's and
//! whose MockProver run must be satisfied. A mismatch or an unsatisfied
//! constraint is a completeness bug; a model the circuits refuse must be a
//! typed error. `CIPHERPROOF_FUZZ_ITERS` (default 12 per model) runs longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../model/tests/mutation/mod.rs"]
mod mutation;

use cipherproof_circuits::{InputVisibility, ModelCircuit};
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize};
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::halo2_proofs::dev::MockProver;
use mutation::{Rng, campaign};

const MODELS: &[&str] = &[
    "ezkl/1l_conv/network.onnx",
    "ezkl/1l_mlp/network.onnx",
    "ezkl/2l_relu_sigmoid_small/network.onnx",
    "ops_zoo/model.onnx",
    "iris_tanh_mlp/model.onnx",
    "wine_sigmoid_mlp/model.onnx",
    "ezkl/decision_tree/network.onnx",
];

const K: u32 = 14;

/// Graphs above this many values are skipped (MockProver time, not a finding).
const MOCK_LIMIT: usize = 20_000;

fn check(bytes: &[u8], rng: &mut Rng) -> &'static str {
    let Ok(graph) = import_onnx(bytes) else {
        return "import error";
    };
    if graph.values.iter().map(|v| v.numel()).sum::<usize>() > MOCK_LIMIT {
        return "too large to mock";
    }
    let numel = graph.input().numel();
    let samples: Vec<Vec<f32>> = (0..3)
        .map(|_| {
            (0..numel)
                .map(|_| ((rng.next() % 2001) as f32 - 1000.0) / 1000.0)
                .collect()
        })
        .collect();
    let Ok(model) = quantize(&graph, &samples, &QuantConfig::default()) else {
        return "quantize error";
    };
    let Ok(runner) = IntegerRunner::new(&model) else {
        return "integer setup error";
    };
    let Ok(x) = runner.quantize_input(0, &samples[1]) else {
        return "input error";
    };
    let Ok(want) = runner.run(&x) else {
        return "integer run error";
    };
    let width = [0, 3, 6][rng.below(3)];
    let visibility = [
        InputVisibility::Private,
        InputVisibility::Public,
        InputVisibility::Hashed,
    ][rng.below(3)];
    let mut b = ModelCircuit::new(CircuitBuilderStage::Mock, K, 8).with_dot_width(width);
    let witness = match b.assign(&model, &x, visibility) {
        Ok(w) => w,
        Err(_) => return "circuit error",
    };
    assert_eq!(
        witness.output_values, want,
        "circuit outputs differ from the reference"
    );
    if b.calculate_params().is_err() {
        return "too large for k";
    }
    let instances = b.instances();
    if let Err(failures) = MockProver::run(K, &b, vec![instances]).unwrap().verify() {
        let first: Vec<String> = failures.iter().take(3).map(|f| format!("{f:?}")).collect();
        panic!(
            "constraints not satisfied ({} failures): {first:?}",
            failures.len()
        );
    }
    "satisfied"
}

#[test]
fn mutated_models_prove_what_the_reference_computes() {
    campaign(MODELS, 12, check);
}
