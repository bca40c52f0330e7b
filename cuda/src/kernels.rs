//! The CUDA source of our kernels and its run-time compilation by NVRTC.

use crate::error::{CudaError, Result};
use crate::probe::nvrtc_library;
use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};

/// The kernels (`dense_i64`, `conv2d_i64`), bit-exact with the model crate's integer reference.
pub const SOURCE: &str = include_str!("kernels.cu");

/// Kernel names in [`SOURCE`].
pub const DENSE: &str = "dense_i64";
pub const CONV2D: &str = "conv2d_i64";

/// Compiles [`SOURCE`] to PTX for compute capability `major.minor` (no GPU needed, only NVRTC).
pub fn compile(major: u32, minor: u32) -> Result<Ptx> {
    nvrtc_library()?;
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
        ..Default::default()
    };
    compile_ptx_with_opts(SOURCE, opts).map_err(|e| CudaError::Compile(e.to_string()))
}
