//! Shared by the contract tests: one hashed-input model compiled, proven and
//! its verifier built, plus the compiled contracts.

#![allow(dead_code)]

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy_sol_types::SolValue;
use cipherproof_circuits::InputVisibility;
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_onchain::contracts::{Contracts, compile_contracts};
use cipherproof_onchain::solc::SolcSettings;
use cipherproof_onchain::solidity::instance_word;
use cipherproof_onchain::verifier;
use cipherproof_prover::compile::{self, CompileOptions, SrsSource};
use cipherproof_prover::prove;
use cipherproof_testkit::{fixture as testdata, samples};

/// A hashed-input model's proof, verifier and the compiled contracts, made once per test process.
pub struct Artifacts {
    pub verifier: Vec<u8>,
    pub contracts: Contracts,
    pub model_id: B256,
    pub vk_hash: B256,
    pub instances: Vec<U256>,
    pub proof: Bytes,
}

pub fn artifacts() -> &'static Artifacts {
    static A: std::sync::OnceLock<Artifacts> = std::sync::OnceLock::new();
    A.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("cipherproof-contracts-{}", std::process::id()));
        let cache = dir.join("cache");
        let name = "breast_cancer_lr";
        let graph =
            import_onnx(&std::fs::read(testdata(&format!("{name}/model.onnx"))).unwrap()).unwrap();
        let cal = samples(&testdata(&format!("{name}/calibration.json")), "inputs");
        let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
        let opts = CompileOptions {
            srs: SrsSource::UnsafeDev,
            cache_dir: cache.clone(),
            max_k: 20,
            max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
            input_visibility: InputVisibility::Hashed,
            tune: 0,
        };
        let (c, _) = compile::compile(&model, &dir.join("m"), &opts).unwrap();
        let x = &samples(&testdata(&format!("{name}/test.json")), "inputs")[0];
        let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &cache).unwrap();
        let pk = compile::proving_key(&c, &params, &cache).unwrap();
        let p = prove::prove(&c, &params, &pk, &quantize_input(&c.model, 0, x).unwrap()).unwrap();
        let v = verifier::build(&c, &params, SolcSettings::default()).unwrap();
        Artifacts {
            verifier: v.contract.creation.clone(),
            contracts: compile_contracts().unwrap(),
            model_id: B256::from_slice(&hex::decode(&c.circuit.model_id).unwrap()),
            vk_hash: keccak256(std::fs::read(dir.join("m/vk.bin")).unwrap()),
            instances: p.instance_values().unwrap()[0]
                .iter()
                .map(instance_word)
                .collect(),
            proof: p.proof_bytes().unwrap().into(),
        }
    })
}

/// The oracle's eth_sign over keccak256(`message`), as 65 bytes r ‖ s ‖ v.
fn sign(key: &PrivateKeySigner, message: &[u8]) -> Bytes {
    let digest = keccak256(message);
    key.sign_message_sync(digest.as_slice())
        .unwrap()
        .as_bytes()
        .to_vec()
        .into()
}

/// An `OracleDataVerifier` ownership proof of `hashes`, signed by `key`.
pub fn ownership_proof(
    key: &PrivateKeySigner,
    chain_id: u64,
    verifier: Address,
    hashes: &[B256],
    nonce: u64,
) -> Bytes {
    let msg = (
        U256::from(chain_id),
        verifier,
        "ownership".to_string(),
        hashes.to_vec(),
        U256::from(nonce),
    )
        .abi_encode_params();
    (hashes.to_vec(), U256::from(nonce), sign(key, &msg))
        .abi_encode_params()
        .into()
}

/// An `OracleDataVerifier` transfer proof (`old` re-encrypted as `new`), signed by `key`.
pub fn transfer_proof(
    key: &PrivateKeySigner,
    chain_id: u64,
    verifier: Address,
    old: &[B256],
    new: &[B256],
    nonce: u64,
) -> Bytes {
    let (pubkey, sealed) = (Bytes::from(vec![4u8; 33]), Bytes::from(vec![5u8; 48]));
    let msg = (
        U256::from(chain_id),
        verifier,
        "transfer".to_string(),
        old.to_vec(),
        new.to_vec(),
        pubkey.clone(),
        sealed.clone(),
        U256::from(nonce),
    )
        .abi_encode_params();
    (
        old.to_vec(),
        new.to_vec(),
        pubkey,
        sealed,
        U256::from(nonce),
        sign(key, &msg),
    )
        .abi_encode_params()
        .into()
}
