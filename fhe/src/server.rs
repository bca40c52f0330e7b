//! The server side: each layer's dot products on ciphertexts (cleartext
//! weights, plaintext bias), hidden layers requantized by bootstrapping
//! ([`crate::bootstrap`]), samples and values in parallel. The server never
//! holds a secret key: its key file binds parameters, model and owner, and
//! carries the (public) bootstrapping keys.

use crate::encoding::encode;
use crate::error::{FheError, Result};
use crate::bootstrap::{Evaluator, LayerTables};
use crate::program::{EncLayer, FheProgram};
use crate::wire::{EncryptedInputs, EncryptedOutputs, ServerKeyFile, seed_starts_fresh};
use rayon::prelude::*;
use tfhe::core_crypto::algorithms::slice_algorithms::slice_wrapping_add_scalar_mul_assign;
use tfhe::core_crypto::prelude::*;

fn check_inputs(program: &FheProgram, key_id: &str, input: &EncryptedInputs) -> Result<()> {
    if input.model_id != program.model_id {
        return Err(FheError::Mismatch(format!(
            "the ciphertexts are for model {}, not {}",
            input.model_id, program.model_id
        )));
    }
    if input.key_id != key_id {
        return Err(FheError::Mismatch(
            "the ciphertexts were encrypted under another key than this server key's".into(),
        ));
    }
    let n = program.params.dimension;
    let chunks = program.inputs().div_ceil(n);
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
        if !cts.iter().all(|ct| seed_starts_fresh(&ct.compression_seed())) {
            return Err(FheError::Mismatch(format!(
                "sample {s}: a ciphertext's mask seed does not start at the generator's first index \
                 (tampered ciphertext)"
            )));
        }
    }
    Ok(())
}

/// Unpacks the inputs: one LWE ciphertext per coefficient (sample extraction), same key.
fn unpack(program: &FheProgram, seeded: &[SeededGlweCiphertextOwned<u64>]) -> Vec<LweCiphertextOwned<u64>> {
    let n = program.params.dimension;
    let inputs = program.inputs();
    let lwe_size = LweDimension(n).to_lwe_size();
    let mut out = Vec::with_capacity(inputs);
    for (c, ct) in seeded.iter().enumerate() {
        let glwe = ct.clone().decompress_into_glwe_ciphertext();
        for j in 0..n.min(inputs - c * n) {
            let mut lwe = LweCiphertext::new(0u64, lwe_size, CiphertextModulus::new_native());
            extract_lwe_sample_from_glwe_ciphertext(&glwe, &mut lwe, MonomialDegree(j));
            out.push(lwe);
        }
    }
    out
}

/// A layer's accumulators `Σ w·x + b` at the layer's Δ.
fn dot_products(program: &FheProgram, layer: &EncLayer, inputs: &[LweCiphertextOwned<u64>]) -> Vec<LweCiphertextOwned<u64>> {
    let dot = &layer.dot;
    dot.rows()
        .zip(&dot.bias)
        .map(|(row, &b)| {
            let mut acc = LweCiphertext::new(0u64, LweDimension(program.params.dimension).to_lwe_size(), CiphertextModulus::new_native());
            for (ct, &w) in inputs.iter().zip(row) {
                if w != 0 {
                    slice_wrapping_add_scalar_mul_assign(acc.as_mut(), ct.as_ref(), w as u64);
                }
            }
            lwe_ciphertext_plaintext_add_assign(&mut acc, encode(b, layer.log_delta));
            acc
        })
        .collect()
}

/// A server ready to evaluate one program: keys checked and, for hidden layers, expanded
/// (about a second and a few hundred MB for an MLP: keep it for the key's lifetime).
#[derive(Debug)]
pub struct Server {
    program: FheProgram,
    key_id: String,
    evaluator: Option<(Evaluator, Vec<Option<LayerTables>>)>,
}

impl Server {
    pub fn program(&self) -> &FheProgram {
        &self.program
    }

    pub fn new(program: &FheProgram, key: &ServerKeyFile) -> Result<Self> {
        key.check(program)?;
        let evaluator = match (&program.pbs, &key.eval) {
            (Some(p), Some(eval)) => {
                let e = Evaluator::new(eval, p, program.params.dimension)?;
                let tables = program.layers.iter().map(|l| l.requant.as_ref().map(|rq| e.tables(l, rq))).collect();
                Some((e, tables))
            }
            _ => None,
        };
        Ok(Self {
            program: program.clone(),
            key_id: key.key_id.clone(),
            evaluator,
        })
    }

    fn evaluate_one(&self, seeded: &[SeededGlweCiphertextOwned<u64>]) -> LweCiphertextListOwned<u64> {
        let program = &self.program;
        let mut x = unpack(program, seeded);
        for (i, layer) in program.layers.iter().enumerate() {
            if let (Some(rq), Some((e, tables))) = (&layer.requant, &self.evaluator)
                && let Some(Some(t)) = tables.get(i)
            {
                x = match &rq.split {
                    Some(split) => e.split_tests(layer, rq, split, t, &x),
                    None => dot_products(program, layer, &x)
                        .into_par_iter()
                        .enumerate()
                        .map_init(|| e.scratch(), |s, (j, ct)| e.requantize(s, layer, rq, t, j, ct))
                        .collect(),
                };
                continue;
            }
            let acc = dot_products(program, layer, &x);
            // The last layer (Server::new refused hidden layers without keys).
            let data = acc.iter().flat_map(|c| c.as_ref().iter().copied()).collect();
            return LweCiphertextList::from_container(data, LweDimension(program.params.dimension).to_lwe_size(), CiphertextModulus::new_native());
        }
        LweCiphertextList::new(0u64, LweDimension(program.params.dimension).to_lwe_size(), LweCiphertextCount(0), CiphertextModulus::new_native())
    }

    /// Evaluates the model on every sample (samples, and a layer's values, in parallel).
    pub fn evaluate(&self, input: &EncryptedInputs) -> Result<EncryptedOutputs> {
        check_inputs(&self.program, &self.key_id, input)?;
        Ok(EncryptedOutputs {
            model_id: self.program.model_id.clone(),
            key_id: self.key_id.clone(),
            samples: input.samples.par_iter().map(|s| self.evaluate_one(s)).collect(),
        })
    }
}

/// Evaluates the model on every sample (expanding the keys first; see [`Server`] to reuse them).
pub fn evaluate(program: &FheProgram, key: &ServerKeyFile, input: &EncryptedInputs) -> Result<EncryptedOutputs> {
    Server::new(program, key)?.evaluate(input)
}
