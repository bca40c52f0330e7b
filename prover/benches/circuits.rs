//! Criterion benches of the circuits, per chip family, on the smallest model
//! that isolates each (EZKL's examples and our fixtures): layout (witness
//! generation) and a full SHPLONK proof with cached keys.
//!
//! `cargo bench -p cipherproof-prover --bench circuits`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use cipherproof_circuits::{InputVisibility, ModelCircuit};
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_prover::compile::{self, CompileOptions, SrsSource};
use cipherproof_prover::prove;
use cipherproof_testkit::{fixture, samples};
use criterion::{Criterion, criterion_group, criterion_main};
use halo2_base::gates::circuit::CircuitBuilderStage;

/// (chip family, model directory, ONNX file, input file, input key)
const CASES: [(&str, &str, &str, &str, &str); 5] = [
    (
        "dense+relu",
        "ezkl/1l_mlp",
        "network.onnx",
        "input.json",
        "input_data",
    ),
    (
        "conv",
        "ezkl/1l_conv",
        "network.onnx",
        "input.json",
        "input_data",
    ),
    (
        "relu",
        "ezkl/1l_relu",
        "network.onnx",
        "input.json",
        "input_data",
    ),
    (
        "table-sigmoid",
        "wine_sigmoid_mlp",
        "model.onnx",
        "calibration.json",
        "inputs",
    ),
    (
        "mlp-64-32-10",
        "digits_mlp",
        "model.onnx",
        "calibration.json",
        "inputs",
    ),
];

fn model(dir: &str, onnx: &str, input: &str, key: &str) -> (QuantModel, Vec<i64>) {
    let graph = import_onnx(&std::fs::read(fixture(&format!("{dir}/{onnx}"))).unwrap()).unwrap();
    let xs = samples(&fixture(&format!("{dir}/{input}")), key);
    let m = quantize(&graph, &xs, &QuantConfig::default()).unwrap();
    let q = quantize_input(&m, 0, &xs[0]).unwrap();
    (m, q)
}

fn benches(c: &mut Criterion) {
    let cache = std::env::temp_dir().join("cipherproof-bench-circuits");
    for (family, dir, onnx, input, key) in CASES {
        let (m, q) = model(dir, onnx, input, key);
        c.bench_function(&format!("layout/{family}"), |b| {
            b.iter(|| {
                let mut circuit = ModelCircuit::new(CircuitBuilderStage::Mock, 17, 8);
                circuit.assign(&m, &q, InputVisibility::Private).unwrap()
            })
        });
        let opts = CompileOptions {
            srs: SrsSource::UnsafeDev,
            cache_dir: cache.clone(),
            max_k: 20,
            max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
            input_visibility: InputVisibility::Private,
            tune: 0,
        };
        let out = cache.join(dir.replace('/', "_"));
        let (compiled, _) = compile::compile(&m, &out, &opts).unwrap();
        let params =
            compile::load_params(&compiled.circuit.srs, compiled.circuit.shape.k(), &cache)
                .unwrap();
        let pk = compile::proving_key(&compiled, &params, &cache).unwrap();
        let mut group = c.benchmark_group("prove");
        group.sample_size(10);
        group.bench_function(family, |b| {
            b.iter(|| prove::prove(&compiled, &params, &pk, &q).unwrap())
        });
        group.finish();
    }
}

criterion_group!(circuits, benches);
criterion_main!(circuits);
