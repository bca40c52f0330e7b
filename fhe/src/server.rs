//! The server side: the model's dot products on ciphertexts (cleartext
//! weights, plaintext bias, no bootstrapping), samples in parallel. The server
//! never holds a secret key: its key file only binds parameters, model and owner.

use crate::encoding::encode;
use crate::error::{FheError, Result};
use crate::program::FheProgram;
use crate::wire::{EncryptedInputs, EncryptedOutputs, ServerKeyFile};
use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_scalar_mul_assign;
use tfhe::core_crypto::prelude::*;

fn check_inputs(program: &FheProgram, key: &ServerKeyFile, input: &EncryptedInputs) -> Result<()> {
    key.check(program)?;
    if input.model_id != program.model_id {
        return Err(FheError::Mismatch(format!(
            "the ciphertexts are for model {}, not {}",
            input.model_id, program.model_id
        )));
    }
    if input.key_id != key.key_id {
        return Err(FheError::Mismatch(
            "the ciphertexts were encrypted under another key than this server key's".into(),
        ));
    }
    let n = program.params.dimension;
    let chunks = program.layer.inputs.div_ceil(n);
    for (s, cts) in input.samples.iter().enumerate() {
        let fits = |ct: &SeededGlweCiphertextOwned<u64>| {
            ct.glwe_size() == GlweSize(2)
                && ct.polynomial_size() == PolynomialSize(n)
                && ct.ciphertext_modulus().is_native_modulus()
        };
        if cts.len() != chunks || !cts.iter().all(fits) {
            return Err(FheError::Mismatch(format!(
                "sample {s}: {} ciphertexts; the model takes {chunks} GLWE ciphertext(s) of polynomial size {n}",
                cts.len()
            )));
        }
    }
    Ok(())
}

/// Unpacks the inputs: one LWE ciphertext per coefficient (sample extraction), same key.
fn unpack(program: &FheProgram, seeded: &[SeededGlweCiphertextOwned<u64>]) -> Vec<LweCiphertextOwned<u64>> {
    let n = program.params.dimension;
    let lwe_size = LweDimension(n).to_lwe_size();
    let mut out = Vec::with_capacity(program.layer.inputs);
    for (c, ct) in seeded.iter().enumerate() {
        let glwe = ct.clone().decompress_into_glwe_ciphertext();
        for j in 0..n.min(program.layer.inputs - c * n) {
            let mut lwe = LweCiphertext::new(0u64, lwe_size, CiphertextModulus::new_native());
            extract_lwe_sample_from_glwe_ciphertext(&glwe, &mut lwe, MonomialDegree(j));
            out.push(lwe);
        }
    }
    out
}

fn evaluate_one(program: &FheProgram, seeded: &[SeededGlweCiphertextOwned<u64>]) -> LweCiphertextListOwned<u64> {
    let inputs = unpack(program, seeded);
    let layer = &program.layer;
    let mut out = LweCiphertextList::new(
        0u64,
        LweDimension(program.params.dimension).to_lwe_size(),
        LweCiphertextCount(layer.outputs),
        CiphertextModulus::new_native(),
    );
    for ((mut acc, row), &b) in out
        .iter_mut()
        .zip(layer.weights.chunks_exact(layer.inputs))
        .zip(&layer.bias)
    {
        for (ct, &w) in inputs.iter().zip(row) {
            if w != 0 {
                slice_wrapping_add_scalar_mul_assign(acc.as_mut(), ct.as_ref(), w as u64);
            }
        }
        lwe_ciphertext_plaintext_add_assign(&mut acc, encode(b, program.budget.log_delta));
    }
    out
}

/// Evaluates the model on every sample.
pub fn evaluate(program: &FheProgram, key: &ServerKeyFile, input: &EncryptedInputs) -> Result<EncryptedOutputs> {
    check_inputs(program, key, input)?;
    Ok(EncryptedOutputs {
        model_id: program.model_id.clone(),
        key_id: key.key_id.clone(),
        samples: input.samples.par_iter().map(|s| evaluate_one(program, s)).collect(),
    })
}
