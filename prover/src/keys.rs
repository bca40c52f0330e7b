//! Key generation and (de)serialization of proving and verifying keys.

use crate::circuit::{CellCounts, CircuitShape, counts_of, keygen_circuit};
use crate::error::{ProverError, Result, io_err};
use cipherproof_circuits::{InputVisibility, ModelCircuit, ModelCircuitParams};
use cipherproof_model::quant::QuantModel;
use halo2_base::halo2_proofs::SerdeFormat;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::{ProvingKey, VerifyingKey, keygen_pk, keygen_vk_custom};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use std::path::Path;

/// Keys, the circuit shape they were made for, and its cell counts.
#[derive(Debug)]
pub struct Keys {
    pub pk: ProvingKey<G1Affine>,
    pub shape: CircuitShape,
    pub counts: CellCounts,
}

/// Generates the verifying and proving keys of `model` at 2^k rows (dense/conv
/// sums on the dot-product gate at `dot_width` inputs per row, or 0 for none).
pub fn generate(
    params: &ParamsKZG<Bn256>,
    model: &QuantModel,
    visibility: InputVisibility,
    k: u32,
    lookup_bits: usize,
    dot_width: usize,
) -> Result<Keys> {
    let (circuit, circuit_params) = keygen_circuit(model, visibility, k, lookup_bits, dot_width)?;
    // Selector compression: mutually exclusive simple selectors (e.g. the public
    // instance gate's and the first gate column's) share one fixed column, one
    // commitment fewer in every proof and verifier.
    let vk = keygen_vk_custom(params, &circuit, true).map_err(|e| ProverError::Halo2 {
        stage: "keygen_vk",
        reason: format!("{e:?}"),
    })?;
    let pk = keygen_pk(params, vk, &circuit).map_err(|e| ProverError::Halo2 {
        stage: "keygen_pk",
        reason: format!("{e:?}"),
    })?;
    let shape = CircuitShape {
        params: circuit_params,
        break_points: circuit.break_points(),
    };
    Ok(Keys {
        pk,
        shape,
        counts: counts_of(&circuit, model),
    })
}

pub fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = vk.write(&mut out, SerdeFormat::RawBytes);
    out
}

pub fn write_pk(pk: &ProvingKey<G1Affine>, path: &Path) -> Result<()> {
    crate::atomic_file::write_atomically(path, |f| pk.write(f, SerdeFormat::RawBytes))
}

fn read_key<T>(path: &Path, read: impl FnOnce(&mut &[u8]) -> std::io::Result<T>) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let corrupt = || ProverError::Corrupt {
        path: path.display().to_string(),
        reason: "corrupt or incompatible key file".into(),
    };
    // halo2's readers panic on some malformed inputs: contain that.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&mut bytes.as_slice())))
        .map_err(|_| corrupt())?
        .map_err(|_| corrupt())
}

pub fn read_pk(path: &Path, params: ModelCircuitParams) -> Result<ProvingKey<G1Affine>> {
    read_key(path, |r| {
        ProvingKey::<G1Affine>::read::<_, ModelCircuit>(r, SerdeFormat::RawBytes, params)
    })
}

pub fn read_vk(path: &Path, params: ModelCircuitParams) -> Result<VerifyingKey<G1Affine>> {
    read_key(path, |r| {
        VerifyingKey::<G1Affine>::read::<_, ModelCircuit>(r, SerdeFormat::RawBytes, params)
    })
}
