//! Structured reference strings (KZG params over BN254).
//!
//! For development, [`unsafe_dev_srs`] derives params from a fixed public seed:
//! ANYONE CAN FORGE PROOFS against it. Production use loads a ceremony file in
//! halo2's params format with [`load_srs`] (e.g. a perpetual-powers-of-tau
//! conversion), downsized to the circuit's k.

use crate::error::{ProverError, Result, io_err};
use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::commitment::Params;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::Path;

/// Seed of the development SRS. Public on purpose: the toxic waste is known.
const UNSAFE_SEED: u64 = 0x6369_7068_6572_7072; // "cipherpr"

pub const UNSAFE_WARNING: &str = "UNSAFE development SRS (public seed): proofs against it can be forged. Use --srs with a ceremony file in production.";

/// Development params for 2^k rows, cached under `cache_dir`.
pub fn unsafe_dev_srs(k: u32, cache_dir: &Path) -> Result<ParamsKZG<Bn256>> {
    crate::cpu::check()?;
    let path = cache_dir.join(format!("unsafe-dev-k{k}.srs"));
    if path.exists() {
        return load_srs(&path, k);
    }
    let params = ParamsKZG::<Bn256>::setup(k, StdRng::seed_from_u64(UNSAFE_SEED));
    crate::atomic_file::write_atomically(&path, |f| params.write(f))?;
    Ok(params)
}

/// Loads params in halo2's format and downsizes them to `k`.
pub fn load_srs(path: &Path, k: u32) -> Result<ParamsKZG<Bn256>> {
    crate::cpu::check()?;
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let mut params = std::panic::catch_unwind(|| ParamsKZG::<Bn256>::read(&mut bytes.as_slice()))
        .map_err(|_| corrupt(path))?
        .map_err(|_| corrupt(path))?;
    if params.k() < k {
        return Err(ProverError::SrsTooSmall {
            path: path.display().to_string(),
            has: params.k(),
            needs: k,
        });
    }
    if params.k() > k {
        params.downsize(k);
    }
    Ok(params)
}

fn corrupt(path: &Path) -> ProverError {
    ProverError::Corrupt {
        path: path.display().to_string(),
        reason: "not a KZG params file in halo2's format".into(),
    }
}
