//! `cipherproof-cuda`: the GPU side of cipherproof, with the CPU always there.
//!
//! - [`probe`]: whether this machine can load the CUDA driver and NVRTC, and its
//!   devices (name, compute capability, memory). cudarc loads both libraries at
//!   run time, so this crate builds and its CPU path runs without any CUDA.
//! - [`kernels`]: our CUDA C source, compiled at run time by NVRTC for the device's
//!   compute capability (no nvcc, no toolkit at build time).
//! - [`witness`]: the integer witness of a quantized model for a batch of inputs,
//!   Dense and Conv layers on the GPU, bit-exact with the model crate's reference
//!   ([`witness::cpu_batch`] is the CPU path).
//! - [`backend`]: `cpu | cuda | auto`, resolved against the machine.
//!
//! The GPU halo2 prover is not here yet (see the issue "GPU" and `docs/GPU.md`).

pub mod backend;
pub mod error;
pub mod kernels;
pub mod probe;
pub mod witness;

pub use backend::{Backend, Resolved};
pub use error::{CudaError, Result};
pub use probe::DeviceInfo;
pub use witness::{GpuWitness, cpu_batch};
