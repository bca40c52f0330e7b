//! The one error type of the gateway library, and its mapping to gRPC statuses
//! (bad input: INVALID_ARGUMENT with google.rpc.BadRequest details).

use cipherproof_model::ModelError;
use cipherproof_onchain::OnchainError;
use cipherproof_prover::ProverError;
use thiserror::Error;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A request field is malformed or does not fit the model.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },

    /// Unknown, or owned by another tenant (indistinguishable on purpose).
    #[error("{what} {name:?} not found")]
    NotFound { what: &'static str, name: String },

    /// The caller may see the object but not act for it (another party of a study).
    #[error("permission denied: {0}")]
    PermissionDenied(String),

    #[error("unauthenticated: {0}")]
    Unauthenticated(String),

    /// The proof queue is full (shed load; retry later).
    #[error("{0}")]
    Exhausted(String),

    /// A route whose engine is not built into this gateway.
    #[error("{0}")]
    Unimplemented(String),

    /// The object exists already, in another form (a study id taken, a second decryption share).
    #[error("{0}")]
    Conflict(String),

    /// The request is valid but the object is in the wrong state (e.g. the proof of an unfinished job).
    #[error("{0}")]
    FailedPrecondition(String),

    /// The model or input is unusable (malformed ONNX, unsupported operator, wrong input).
    #[error(transparent)]
    Model(#[from] ModelError),

    #[error(transparent)]
    Prover(#[from] ProverError),

    #[error(transparent)]
    Onchain(#[from] OnchainError),

    #[error("job store: {0}")]
    Store(#[from] sqlx::Error),

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// Configuration that cannot be used (bad API-key file, database URL, TLS files).
    #[error("configuration: {0}")]
    Config(String),

    /// Stored data that is not what it should be.
    #[error("corrupt {what}: {reason}")]
    Corrupt { what: String, reason: String },

    /// A blocking task panicked or was cancelled.
    #[error("internal: {0}")]
    Internal(String),
}

pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

impl GatewayError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: &'static str, name: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            name: name.into(),
        }
    }

    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// The gRPC code this error answers with.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } | Self::Model(_) => Code::InvalidArgument,
            Self::Prover(ProverError::Model(_) | ProverError::Circuit(_)) => Code::InvalidArgument,
            Self::NotFound { .. } => Code::NotFound,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::Exhausted(_) => Code::ResourceExhausted,
            Self::Unimplemented(_) => Code::Unimplemented,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Conflict(_) => Code::AlreadyExists,
            Self::Onchain(_) => Code::Unavailable,
            _ => Code::Internal,
        }
    }
}

/// The request field an input error is about, for BadRequest details.
fn field_of(e: &GatewayError) -> &str {
    match e {
        GatewayError::InvalidArgument { field, .. } => field,
        GatewayError::Model(
            ModelError::MalformedOnnx(_)
            | ModelError::UnsupportedOp { .. }
            | ModelError::UnsupportedAttribute { .. }
            | ModelError::InvalidGraph { .. }
            | ModelError::DynamicShape { .. }
            | ModelError::NonFiniteWeight { .. },
        ) => "onnx",
        _ => "input",
    }
}

impl From<GatewayError> for Status {
    fn from(e: GatewayError) -> Self {
        let code = e.code();
        let message = e.to_string();
        if code == Code::InvalidArgument {
            let details = ErrorDetails::with_bad_request_violation(field_of(&e), message.clone());
            return Status::with_error_details(code, message, details);
        }
        if code == Code::Internal {
            tracing::error!(error = %message, "internal error");
        }
        Status::new(code, message)
    }
}
