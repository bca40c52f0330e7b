//! # cipherproof-fhe
//!
//! Encrypted inference of cipherproof's quantized models on TFHE ciphertexts
//! (`tfhe` 1.8, `core_crypto` level: LWE dot products with cleartext weights
//! for linear layers, programmable bootstrapping for hidden layers).
//!
//! * [`params`]: the LWE parameter set and the noise budget of a model (Δ, the
//!   worst-case and Gaussian-estimated error, the failure probability).
//! * [`program`]: which quantized models run encrypted (Dense layers with ReLU
//!   or a comparison between them: MLPs, trees in GEMM form),
//!   planned as dot products, bootstrapped requantizations of hidden layers
//!   (digits, windows, failure probabilities) and the client's final step.
//! * [`bootstrap`]: the exact requantization of hidden accumulators by
//!   keyswitch + programmable bootstrapping.
//! * [`keys`]: client keys (the LWE secret key), server keys (parameters and
//!   the model and owner they are bound to), key ids.
//! * [`client`] and [`server`]: encrypt, evaluate, decrypt; batches run in parallel.
//! * [`study`]: multi-party encrypted analytics with a decryption key split
//!   into additive shares (n-of-n).
//! * [`wire`]: every file is tfhe's safe serialization: size-limited,
//!   versioned, and named, so a ciphertext is never read as a key.
//!
//! The decrypted result equals the plaintext integer model exactly, for every
//! input in the model's range (up to each bootstrap's stated failure
//! probability): the server computes each layer's accumulators on ciphertexts
//! and requantizes hidden ones by bootstrapping; the client decrypts the last
//! layer's accumulators and applies its requantization (`round_shift`).

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
