//! The Solidity verifier of a compiled model, generated from its verifying key
//! by snark-verifier's EVM loader (SHPLONK, Keccak transcript: the transcript
//! `prove` uses, so the same proof bytes verify natively and on-chain).
//!
//! The contract takes `instances ‖ proof` as raw calldata (each instance a
//! 32-byte big-endian word, see [`calldata`]), returns nothing on success and
//! reverts on any failure.

use cipherproof_prover::compile::Compiled;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fq, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use halo2_base::halo2_proofs::poly::commitment::ParamsProver;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use snark_verifier_sdk::snark_verifier::loader::evm::{EvmLoader, encode_calldata};
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use snark_verifier_sdk::snark_verifier::system::halo2::{Config, compile};
use snark_verifier_sdk::snark_verifier::verifier::SnarkVerifier;
use snark_verifier_sdk::{PlonkVerifier, SHPLONK};
use std::rc::Rc;

/// Solidity source of the verifier for `vk` with one column of `num_instances` instances.
pub fn verifier_source(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> Result<String, String> {
    let protocol = compile(
        params,
        vk,
        Config::kzg().with_num_instance(vec![num_instances]),
    );
    let dk = (params.get_g()[0], params.g2(), params.s_g2()).into();
    let loader = EvmLoader::new::<Fq, Fr>();
    let protocol = protocol.loaded(&loader);
    let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
    let instances = transcript.load_instances(vec![num_instances]);
    let proof = PlonkVerifier::<SHPLONK>::read_proof(&dk, &protocol, &instances, &mut transcript)
        .map_err(|e| format!("{e:?}"))?;
    PlonkVerifier::<SHPLONK>::verify(&dk, &protocol, &instances, &proof)
        .map_err(|e| format!("{e:?}"))?;
    Ok(loader.solidity_code())
}

/// The verifier source of a compiled model.
pub fn model_verifier_source(c: &Compiled, params: &ParamsKZG<Bn256>) -> crate::Result<String> {
    verifier_source(params, &c.vk, c.num_instances()).map_err(|reason| crate::OnchainError::Solc {
        contract: "Verifier".into(),
        reason: format!("generating the verifier: {reason}"),
    })
}

/// A field element as the 32-byte big-endian word the verifier (and the registry's
/// `uint256[] instances`) reads.
pub fn instance_word(f: &Fr) -> alloy::primitives::U256 {
    let mut be = f.to_bytes();
    be.reverse();
    alloy::primitives::U256::from_be_bytes(be)
}

/// Calldata of the verifier: instances (32-byte big-endian words) then the proof bytes.
pub fn calldata(instances: &[Fr], proof: &[u8]) -> Vec<u8> {
    encode_calldata(&[instances.to_vec()], proof)
}
