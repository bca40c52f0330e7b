//! # cipherproof-prover
//!
//! Turns a quantized model into a proven computation: SRS handling ([`srs`]),
//! circuit sizing and key generation with an on-disk cache ([`compile`],
//! [`keys`]), SHPLONK proving over the Keccak (EVM) transcript ([`prove`]) so
//! the same proof verifies on-chain, on the CPU or (feature `cuda`) the GPU
//! ([`prove::Engine`]), native verification ([`verify`]), and the
//! versioned proof file ([`artifact`]).
//!
//! The model id binds a proof to one model: it hashes the quantized model and
//! the verifying key (whose fixed columns hold the weights).

pub mod artifact;
mod atomic_file;
pub mod circuit;
pub mod compile;
pub mod cpu;
pub mod error;
#[cfg(feature = "cuda")]
pub mod gpu;
pub mod keys;
pub mod prove;
pub mod srs;
pub mod verify;

pub use error::ProverError;
