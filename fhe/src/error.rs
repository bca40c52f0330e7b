//! The one error type of the FHE crate.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FheError {
    /// The model uses something encrypted evaluation cannot do (yet).
    #[error("node {node:?} ({op}): {reason}")]
    Unsupported {
        node: String,
        op: String,
        reason: String,
    },

    /// The model's accumulators or the noise do not fit the 64-bit torus.
    #[error("noise budget exceeded: {0}")]
    NoiseBudget(String),

    #[error(transparent)]
    Model(#[from] cipherproof_model::ModelError),

    /// A file or message that is not what it should be (truncated, corrupt, other version or kind, over the limit).
    #[error("{what}: {reason}")]
    Corrupt { what: String, reason: String },

    /// A key or ciphertext for other parameters, another model or another key.
    #[error("{0}")]
    Mismatch(String),

    /// Input values that cannot be encrypted as given (wrong count, out of range).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// Studies: a missing, duplicated or foreign decryption share, a bad party index.
    #[error("study: {0}")]
    Study(String),

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = FheError> = std::result::Result<T, E>;

pub(crate) fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> FheError {
    FheError::Corrupt {
        what: what.into(),
        reason: reason.to_string(),
    }
}
