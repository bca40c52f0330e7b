//! # cipherproof-fhe
//!
//! Encrypted inference of cipherproof's quantized models on TFHE ciphertexts
//! (`tfhe` 1.8, `core_crypto` level: plain LWE arithmetic with cleartext
//! weights, no bootstrapping, for linear layers).
//!
//! * [`params`]: the LWE parameter set and the noise budget of a model (Δ, the
//!   worst-case and Gaussian-estimated error, the failure probability).
//! * [`program`]: which quantized models run encrypted, as a list of
//!   encrypted dot products plus the cleartext requantization the client applies.
//! * [`keys`]: client keys (the LWE secret key), server keys (parameters and
//!   the model and owner they are bound to), key ids.
//! * [`client`] and [`server`]: encrypt, evaluate, decrypt; batches run in parallel.
//! * [`study`]: multi-party encrypted analytics with a decryption key split
//!   into additive shares (n-of-n).
//! * [`wire`]: every file is tfhe's safe serialization: size-limited,
//!   versioned, and named, so a ciphertext is never read as a key.
//!
//! The decrypted result equals the plaintext integer model exactly: the
//! server computes the accumulators `Σ w·x + b` of the model's Dense layer on
//! ciphertexts; the client decrypts them and applies the model's own
//! requantization (`round_shift`). Models with activations between layers
//! need programmable bootstrapping, which is not built yet: they are refused
//! with an error naming the node.

pub mod bootstrap;
pub mod client;
pub mod encoding;
pub mod error;
pub mod keys;
pub mod params;
pub mod program;
pub mod server;
pub mod study;
pub mod wire;

pub use error::FheError;
