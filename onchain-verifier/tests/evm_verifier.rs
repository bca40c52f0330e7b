//! Generated verifiers, compiled by the pinned solc and run in revm: a valid
//! proof passes; flipped bytes, changed instances and another model's proof revert.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_circuits::InputVisibility;
use cipherproof_circuits::field::fr_i64;
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_onchain::solc::{EIP170_LIMIT, SolcSettings};
use cipherproof_onchain::solidity::calldata;
use cipherproof_onchain::verifier::{self, ModelVerifier};
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::compile::{self, CompileOptions, Compiled, SrsSource};
use cipherproof_prover::prove;
use cipherproof_testkit::{fixture as testdata, samples};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cipherproof-onchain-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn quantized(name: &str) -> QuantModel {
    let graph =
        import_onnx(&std::fs::read(testdata(&format!("{name}/model.onnx"))).unwrap()).unwrap();
    let cal = samples(&testdata(&format!("{name}/calibration.json")), "inputs");
    quantize(&graph, &cal, &QuantConfig::default()).unwrap()
}

struct Model {
    compiled: Compiled,
    proof: ProofFile,
    verifier: ModelVerifier,
}

fn model(name: &str, cache: &Path) -> Model {
    let opts = CompileOptions {
        srs: SrsSource::UnsafeDev,
        cache_dir: cache.to_path_buf(),
        max_k: 20,
        max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
        input_visibility: InputVisibility::Private,
        tune: 0,
    };
    let (compiled, _) = compile::compile(&quantized(name), &scratch(name), &opts).unwrap();
    let x = &samples(&testdata(&format!("{name}/test.json")), "inputs")[0];
    let q = quantize_input(&compiled.model, 0, x).unwrap();
    let params =
        compile::load_params(&compiled.circuit.srs, compiled.circuit.shape.k(), cache).unwrap();
    let pk = compile::proving_key(&compiled, &params, cache).unwrap();
    let proof = prove::prove(&compiled, &params, &pk, &q).unwrap();
    let verifier = verifier::build(&compiled, &params, SolcSettings::default()).unwrap();
    Model {
        compiled,
        proof,
        verifier,
    }
}

struct Setup {
    mlp: Model,
    lr: Model,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let cache = scratch("cache");
        Setup {
            mlp: model("digits_mlp", &cache),
            lr: model("breast_cancer_lr", &cache),
        }
    })
}

fn parts(p: &ProofFile) -> (Vec<cipherproof_circuits::field::Fr>, Vec<u8>) {
    (
        p.instance_values().unwrap()[0].clone(),
        p.proof_bytes().unwrap(),
    )
}

#[test]
fn a_valid_proof_verifies_on_the_evm() {
    let s = setup();
    for m in [&s.mlp, &s.lr] {
        let size = m.verifier.contract.runtime.len();
        assert!(size > 1000 && size <= EIP170_LIMIT, "{size} bytes");
        let out = m.verifier.check(&m.proof).unwrap();
        assert!(
            out.success,
            "{}: valid proof reverted",
            m.compiled.circuit.model_id
        );
        assert!(out.gas_used > 21_000, "{out:?}");
    }
}

#[test]
fn flipped_proof_bytes_revert() {
    let m = &setup().mlp;
    let (instances, proof) = parts(&m.proof);
    for i in [0, 31, proof.len() / 2, proof.len() - 1] {
        let mut bad = proof.clone();
        bad[i] ^= 1;
        let out = m
            .verifier
            .check_calldata(calldata(&instances, &bad))
            .unwrap();
        assert!(!out.success, "byte {i} flipped but accepted");
    }
    // Truncated and empty calldata too.
    let out = m
        .verifier
        .check_calldata(calldata(&instances, &proof[..proof.len() - 32]))
        .unwrap();
    assert!(!out.success);
    assert!(!m.verifier.check_calldata(Vec::new()).unwrap().success);
}

#[test]
fn a_changed_public_output_reverts() {
    let m = &setup().mlp;
    let (mut instances, proof) = parts(&m.proof);
    let last = instances.len() - 1;
    instances[last] += fr_i64(1);
    assert!(
        !m.verifier
            .check_calldata(calldata(&instances, &proof))
            .unwrap()
            .success
    );
}

#[test]
fn a_proof_of_another_model_reverts() {
    let s = setup();
    let (instances, proof) = parts(&s.lr.proof);
    // Pad or cut the instances to the MLP verifier's count: still not its proof.
    let mut column = instances.clone();
    column.resize(s.mlp.compiled.num_instances(), fr_i64(0));
    assert!(
        !s.mlp
            .verifier
            .check_calldata(calldata(&column, &proof))
            .unwrap()
            .success
    );
    assert!(!s.mlp.verifier.check(&s.lr.proof).unwrap().success);
}

#[test]
fn written_files_hold_source_and_bytecode() {
    let m = &setup().lr;
    let out = scratch("files");
    m.verifier.write(&out).unwrap();
    let source = std::fs::read_to_string(out.join("Verifier.sol")).unwrap();
    assert!(source.contains("pragma solidity 0.8.19") && source.contains("contract Halo2Verifier"));
    let runtime = hex::decode(std::fs::read_to_string(out.join("Verifier.bin")).unwrap()).unwrap();
    assert_eq!(runtime, m.verifier.contract.runtime);
}
