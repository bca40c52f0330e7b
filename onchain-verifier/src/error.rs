//! The one error type of the on-chain crate.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OnchainError {
    /// The pinned solc-js (or Node.js) is not installed where we look for it.
    #[error(
        "the pinned Solidity compiler is not installed ({reason}); run scripts/node-tools.sh \
         or set CIPHERPROOF_NODE_TOOLS to a directory holding node_modules/solc"
    )]
    SolcMissing { reason: String },

    /// solc ran but reported errors, or returned something unexpected.
    #[error("solc failed on {contract}: {reason}")]
    Solc { contract: String, reason: String },

    /// A deployed contract's runtime code exceeds EIP-170's limit.
    #[error("{contract} runtime bytecode is {size} bytes, over the EIP-170 limit of {limit}")]
    CodeTooLarge {
        contract: String,
        size: usize,
        limit: usize,
    },

    /// The in-process EVM rejected a deployment.
    #[error("deploying {contract} failed: {reason}")]
    Deploy { contract: String, reason: String },

    /// Malformed proof or instances for calldata.
    #[error("invalid proof data: {0}")]
    InvalidProof(String),

    /// A JSON-RPC request failed (connection, rejected transaction, ...).
    #[error("{what}: {reason}")]
    Rpc { what: String, reason: String },

    /// No signing key for a chain other than anvil.
    #[error(
        "chain {chain_id} needs a signing key: pass --private-key or set CIPHERPROOF_PRIVATE_KEY \
         (only anvil's chain 31337 has a default development key)"
    )]
    MissingKey { chain_id: u64 },

    /// The signing key is not a 32-byte hex secp256k1 key (the key itself is never echoed).
    #[error("the private key is not a 32-byte hex secp256k1 key")]
    BadKey,

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Prover(#[from] cipherproof_prover::ProverError),
}

pub type Result<T, E = OnchainError> = std::result::Result<T, E>;

pub(crate) fn io_err(
    path: impl AsRef<std::path::Path>,
) -> impl FnOnce(std::io::Error) -> OnchainError {
    let path = path.as_ref().display().to_string();
    move |source| OnchainError::Io { path, source }
}
