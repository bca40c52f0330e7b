//! The one error type of the circuits crate.

use thiserror::Error;

/// What can go wrong while laying a model out as a circuit.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CircuitError {
    /// An integer op that has no circuit yet.
    #[error("operator {op} (node '{node}') has no circuit yet")]
    UnsupportedOp { op: String, node: String },

    /// The input does not have the model's input length.
    #[error("input has {got} values but the model expects {expected}")]
    InputLength { expected: usize, got: usize },

    /// A value that the circuit would have to range-check is outside its range:
    /// no valid proof exists for this input.
    #[error(
        "value {value} at '{node}' is outside its {bits}-bit range; no proof exists for this input"
    )]
    OutOfRange { node: String, value: i64, bits: u32 },

    /// The model is too large for the configured maximum circuit size.
    #[error("the model needs 2^{needed} rows but the maximum is 2^{max}")]
    TooLarge { needed: u32, max: u32 },

    /// `assign_model` was given a builder that already holds cells (the
    /// public instances must be its first rows).
    #[error("the circuit builder already holds cells: lay a model out on a fresh builder")]
    BuilderInUse,

    /// The quantized model is malformed (e.g. a compiled model file edited by hand).
    #[error("node '{node}': {reason}")]
    InvalidModel { node: String, reason: String },

    /// The integer reference failed (its error names the node).
    #[error(transparent)]
    Model(#[from] cipherproof_model::ModelError),
}

pub type Result<T, E = CircuitError> = std::result::Result<T, E>;
