//! Native verification of a proof file against a compiled model.

use crate::artifact::{InputClaim, ProofFile};
use crate::compile::Compiled;
use crate::error::{ProverError, Result};
use cipherproof_circuits::InputVisibility;
use cipherproof_circuits::packing;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::verify_proof;
use halo2_base::halo2_proofs::poly::commitment::ParamsProver;
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::VerifierSHPLONK;
use halo2_base::halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_base::halo2_proofs::transcript::TranscriptReadBuffer;
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

/// Checks that `proof` is a valid proof, for this model, of its stated outputs.
pub fn verify(c: &Compiled, params: &ParamsKZG<Bn256>, proof: &ProofFile) -> Result<()> {
    if proof.model_id != c.circuit.model_id {
        return Err(ProverError::InvalidProof(format!(
            "the proof is for model {}, not for this model ({})",
            proof.model_id, c.circuit.model_id
        )));
    }
    let instances = proof.instance_values()?;
    let column = match instances.as_slice() {
        [one] => one,
        _ => {
            return Err(ProverError::InvalidProof(format!(
                "expected 1 instance column, found {}",
                instances.len()
            )));
        }
    };
    let claimed = matches!(
        (&proof.input, c.circuit.input_visibility),
        (InputClaim::Private, InputVisibility::Private)
            | (InputClaim::Public { .. }, InputVisibility::Public)
            | (InputClaim::Hashed { .. }, InputVisibility::Hashed)
    );
    if !claimed {
        return Err(ProverError::InvalidProof(format!(
            "the proof's input claim does not fit this model's {:?} input",
            c.circuit.input_visibility
        )));
    }
    let mut stated = proof.input.instances().ok_or_else(|| {
        ProverError::InvalidProof("the input commitment is not a field element".into())
    })?;
    let out_bits = c.model.values[c.model.output].bits;
    let packed = packing::pack(&proof.quantized_outputs, out_bits).ok_or_else(|| {
        ProverError::InvalidProof(format!(
            "quantized_outputs outside the model's {out_bits}-bit output range"
        ))
    })?;
    stated.extend(packed);
    if &stated != column {
        return Err(ProverError::InvalidProof(
            "the stated input and quantized_outputs do not match the public instances".into(),
        ));
    }
    let bytes = proof.proof_bytes()?;
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verify_bytes(c, params, &bytes, column)
    }))
    .map_err(|_| ProverError::InvalidProof("malformed proof bytes".into()))?;
    if ok {
        Ok(())
    } else {
        Err(ProverError::InvalidProof(
            "the proof does not verify for these public outputs".into(),
        ))
    }
}

fn verify_bytes(c: &Compiled, params: &ParamsKZG<Bn256>, proof: &[u8], instances: &[Fr]) -> bool {
    let mut transcript =
        <EvmTranscript<G1Affine, NativeLoader, &[u8], Vec<u8>> as TranscriptReadBuffer<
            _,
            G1Affine,
            _,
        >>::init(proof);
    verify_proof::<
        KZGCommitmentScheme<Bn256>,
        VerifierSHPLONK<'_, Bn256>,
        _,
        EvmTranscript<G1Affine, NativeLoader, &[u8], Vec<u8>>,
        SingleStrategy<'_, Bn256>,
    >(
        params.verifier_params(),
        &c.vk,
        SingleStrategy::new(params),
        &[&[instances]],
        &mut transcript,
    )
    .is_ok()
}
