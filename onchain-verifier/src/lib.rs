//! # cipherproof-onchain
//!
//! Proofs on EVM chains. For a compiled model ([`cipherproof_prover::compile`])
//! this crate generates its Solidity verifier from the verifying key
//! ([`solidity`]: snark-verifier's EVM loader, SHPLONK over the same Keccak
//! transcript as `prove`), compiles it with the pinned solc-js 0.8.19 from npm
//! ([`solc`]; never downloaded at run time), checks the EIP-170 size limit, and
//! runs it in an in-process EVM ([`evm`], revm) to verify proofs and measure gas.
//! [`contracts`] holds the registry, settlement and ERC-7857 agent contracts;
//! [`chain`] deploys them and a model's verifier to any JSON-RPC chain (alloy).

pub mod chain;
pub mod contracts;
pub mod error;
pub mod evm;
pub mod solc;
pub mod solidity;
pub mod verifier;

pub use error::{OnchainError, Result};
