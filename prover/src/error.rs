//! The one error type of the prover crate.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProverError {
    #[error(transparent)]
    Circuit(#[from] cipherproof_circuits::CircuitError),

    #[error(transparent)]
    Model(#[from] cipherproof_model::ModelError),

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A file that exists but is not what it should be (corrupt, truncated, other version).
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },

    /// The SRS is smaller than the circuit needs.
    #[error("the SRS in {path} supports circuits up to 2^{has} rows; this model needs 2^{needs}")]
    SrsTooSmall { path: String, has: u32, needs: u32 },

    /// halo2 refused to generate keys or a proof.
    #[error("halo2 {stage} failed: {reason}")]
    Halo2 { stage: &'static str, reason: String },

    /// The CUDA prover failed (no device, out of device memory, a CUDA error or
    /// a panic inside it): the same proof may still succeed on the CPU.
    #[error("GPU {stage} failed: {reason}")]
    Gpu { stage: &'static str, reason: String },

    /// This CPU cannot run this build's field arithmetic (see [`crate::cpu`]).
    #[error("unsupported CPU: {0}")]
    CpuUnsupported(String),

    /// The proof does not verify, with the reason.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
}

pub type Result<T, E = ProverError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ProverError + '_ {
    move |source| ProverError::Io {
        path: path.display().to_string(),
        source,
    }
}
