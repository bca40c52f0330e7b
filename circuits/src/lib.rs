//! # cipherproof-circuits
//!
//! halo2 circuits (halo2-base on halo2-axiom: KZG over BN254) for the integer
//! models of `cipherproof-model`. [`ModelCircuit`] lays a
//! [`QuantModel`](cipherproof_model::quant::QuantModel) out on halo2-base's
//! columns plus fixed activation tables ([`lut`]), op by op, with exactly the fixed-point semantics of the
//! model crate's integer reference (`docs/QUANTIZATION.md`): the proven outputs
//! are bit-for-bit the reference's `quantized_outputs`.
//!
//! Weights are circuit constants (they are part of the verifying key); the
//! input is private, public, or committed to with Poseidon ([`visibility`]);
//! the outputs are public instances after the input's, packed several to a
//! word ([`packing`]) and bound by a gate rather than the permutation
//! ([`public`]).
//! Every activation is range-checked to its bit-width with limb lookups.
//! Dense and conv sums go on halo2-base's gate or, when the planner finds it
//! cheaper, on a wide dot-product gate ([`dot`]).

pub mod chips;
pub mod circuit;
pub mod constants;
pub mod dot;
pub mod error;
pub mod field;
pub mod layout;
pub mod lut;
pub mod packing;
pub mod planner;
pub mod public;
pub mod size;
pub mod visibility;

pub use circuit::{ModelCircuit, ModelCircuitParams};
pub use error::CircuitError;
pub use layout::{ModelWitness, assign_model};
pub use visibility::InputVisibility;
