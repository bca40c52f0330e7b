//! The one error type of the CUDA crate.

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CudaError {
    /// The CUDA driver library (libcuda) cannot be loaded: no NVIDIA driver on this machine.
    #[error("no CUDA driver: {0}")]
    NoDriver(String),

    /// NVRTC (libnvrtc) cannot be loaded, so kernels cannot be compiled.
    #[error(
        "no NVRTC library: {0} (install the pinned nvidia-cuda-nvrtc-cu12 wheel or a CUDA toolkit and put its lib directory on LD_LIBRARY_PATH)"
    )]
    NoNvrtc(String),

    /// The driver loaded but reports no device with this ordinal.
    #[error("no CUDA device {ordinal} ({count} present)")]
    NoDevice { ordinal: usize, count: usize },

    /// A CUDA driver call failed.
    #[error("CUDA driver: {0}")]
    Driver(String),

    /// NVRTC rejected the kernel source.
    #[error("NVRTC compile of the kernels failed: {0}")]
    Compile(String),

    /// The model or batch cannot run on the GPU path as given.
    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Model(#[from] cipherproof_model::ModelError),
}

impl From<cudarc::driver::DriverError> for CudaError {
    fn from(e: cudarc::driver::DriverError) -> Self {
        CudaError::Driver(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, CudaError>;
