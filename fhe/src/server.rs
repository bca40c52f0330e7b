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
    let lwe_size = LweDimension(program.params.dimension).to_lwe_size();
    for (s, list) in input.samples.iter().enumerate() {
        if list.lwe_size() != lwe_size
            || list.lwe_ciphertext_count().0 != program.layer.inputs
            || !list.ciphertext_modulus().is_native_modulus()
        {
            return Err(FheError::Mismatch(format!(
                "sample {s}: {} ciphertexts of dimension {}; the model takes {} of dimension {}",
                list.lwe_ciphertext_count().0,
                list.lwe_size().to_lwe_dimension().0,
                program.layer.inputs,
                program.params.dimension
            )));
        }
    }
    Ok(())
}

fn evaluate_one(program: &FheProgram, seeded: &SeededLweCiphertextListOwned<u64>) -> LweCiphertextListOwned<u64> {
    let inputs = seeded.clone().decompress_into_lwe_ciphertext_list();
    let layer = &program.layer;
    let mut out = LweCiphertextList::new(
        0u64,
        inputs.lwe_size(),
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
