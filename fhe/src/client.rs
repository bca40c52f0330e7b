//! The client side: encrypt quantized inputs under the secret key, decrypt the
//! server's accumulators and finish the model in clear (its requantization).

use crate::encoding::{decode, encode};
use crate::error::{FheError, Result};
use crate::program::FheProgram;
use crate::wire::{ClientKeyFile, EncryptedInputs, EncryptedOutputs};
use cipherproof_model::quant::fixed::signed_range;
use rayon::prelude::*;
use tfhe::core_crypto::prelude::*;

/// Encrypts quantized input vectors, packed N to a seeded GLWE ciphertext (samples in parallel).
pub fn encrypt(program: &FheProgram, key: &ClientKeyFile, inputs: &[Vec<i64>]) -> Result<EncryptedInputs> {
    key.check(program)?;
    let (lo, hi) = signed_range(program.input_bits);
    for (s, x) in inputs.iter().enumerate() {
        if x.len() != program.inputs() {
            return Err(FheError::InvalidInput(format!(
                "sample {s} has {} values; the model takes {}",
                x.len(),
                program.inputs()
            )));
        }
        if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| **v < lo || **v > hi) {
            return Err(FheError::InvalidInput(format!(
                "sample {s} value {i} = {v} is outside the model's {}-bit input range",
                program.input_bits
            )));
        }
    }
    let log_delta = program.layers[0].log_delta;
    let noise = program.params.noise();
    let n = program.params.dimension;
    let glwe_key = GlweSecretKey::from_container(key.secret.as_ref(), PolynomialSize(n));
    let samples = inputs
        .par_iter()
        .map(|x| {
            let mut seeder = new_seeder();
            let seeder = seeder.as_mut();
            x.chunks(n)
                .map(|chunk| {
                    let mut coefficients = vec![0u64; n];
                    for (c, &v) in coefficients.iter_mut().zip(chunk) {
                        *c = encode(v, log_delta).0;
                    }
                    let mut ct = SeededGlweCiphertext::new(
                        0u64,
                        GlweSize(2),
                        PolynomialSize(n),
                        seeder.seed().into(),
                        CiphertextModulus::new_native(),
                    );
                    encrypt_seeded_glwe_ciphertext(
                        &glwe_key,
                        &mut ct,
                        &PlaintextList::from_container(coefficients),
                        noise,
                        seeder,
                    );
                    ct
                })
                .collect()
        })
        .collect();
    Ok(EncryptedInputs {
        model_id: program.model_id.clone(),
        key_id: key.key_id.clone(),
        samples,
    })
}

/// Decrypts the accumulators of each sample (before the client's requantization).
pub fn decrypt_accumulators(program: &FheProgram, key: &ClientKeyFile, out: &EncryptedOutputs) -> Result<Vec<Vec<i64>>> {
    key.check(program)?;
    if out.model_id != program.model_id || out.key_id != key.key_id {
        return Err(FheError::Mismatch(
            "these results were computed for another model or under another key".into(),
        ));
    }
    out.samples
        .iter()
        .enumerate()
        .map(|(s, list)| {
            if list.lwe_size().to_lwe_dimension() != key.secret.lwe_dimension()
                || list.lwe_ciphertext_count().0 != program.outputs()
            {
                return Err(FheError::Mismatch(format!(
                    "result {s}: {} ciphertexts of dimension {}; expected {} of dimension {}",
                    list.lwe_ciphertext_count().0,
                    list.lwe_size().to_lwe_dimension().0,
                    program.outputs(),
                    key.secret.lwe_dimension().0
                )));
            }
            let mut plain = PlaintextList::new(0u64, PlaintextCount(program.outputs()));
            decrypt_lwe_ciphertext_list(&key.secret, list, &mut plain);
            Ok(plain
                .iter()
                .map(|p| decode(Plaintext(*p.0), program.budget.log_delta))
                .collect())
        })
        .collect()
}

/// Decrypts and finishes: exactly the plaintext integer model's outputs.
pub fn decrypt(program: &FheProgram, key: &ClientKeyFile, out: &EncryptedOutputs) -> Result<Vec<Vec<i64>>> {
    decrypt_accumulators(program, key, out)?
        .iter()
        .map(|acc| program.finish(acc))
        .collect()
}
