//! `cipherproof-cuda`: the GPU side of cipherproof, with the CPU always there.
//!
//! - [`probe`]: whether this machine can load the CUDA driver and NVRTC, and its
//!   devices (name, compute capability, memory). cudarc loads both libraries at
//!   run time, so this crate builds and its CPU path runs without any CUDA.
//! - [`kernels`]: our CUDA C source, compiled at run time by NVRTC for the device's
//!   compute capability (no nvcc, no toolkit at build time).
//! - [`witness`]: the integer witness of a quantized model for a batch of inputs,
//!   values kept on the GPU from the input to the output (Dense, Conv, ReLU,
//!   pooling, tables, range checks as kernels), bit-exact with the model crate's
//!   reference ([`witness::cpu_batch`] is the CPU path).
//!   A host-side plan per model (`plan`) fuses ReLUs, frees each value after
//!   its last reader and splits a batch into chunks that fit the device's
//!   memory budget.
//! - [`backend`]: `cpu | cuda | auto`, resolved against the machine.
//!
//! The GPU halo2 prover is `cipherproof-prover`'s `gpu` module (feature `cuda`,
//! halo2-axiom-gpu); `docs/GPU.md` has both.

pub mod backend;
pub mod error;
pub mod kernels;
#[cfg(test)]
mod emulator;
mod launch;
mod plan;
pub mod probe;
#[cfg(test)]
mod test_models;
pub mod witness;

pub use backend::{Backend, Resolved};
pub use error::{CudaError, Result};
pub use probe::DeviceInfo;
pub use witness::{DeviceModel, GpuWitness, cpu_batch};
