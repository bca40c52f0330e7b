//! The CUDA source of our kernels and its run-time compilation by NVRTC.

use crate::error::{CudaError, Result};
use crate::probe::nvrtc_library;
use cudarc::nvrtc::{CompileOptions, Ptx, compile_ptx_with_opts};

/// The kernels, bit-exact with the model crate's integer reference.
pub const SOURCE: &str = include_str!("kernels.cu");

/// Kernel names in [`SOURCE`].
pub const DENSE: &str = "dense_i64";
pub const CONV2D: &str = "conv2d_i64";
pub const RELU: &str = "relu_i64";
pub const POOL: &str = "pool_i64";
pub const LUT: &str = "lut_i64";
pub const RANGE_CHECK: &str = "range_check_i64";
pub const BINARY: &str = "binary_i64";
pub const WIDEN_I16: &str = "widen_i16";
pub const WIDEN_I32: &str = "widen_i32";
/// Every kernel in [`SOURCE`].
pub const ALL: [&str; 9] = [
    DENSE,
    CONV2D,
    RELU,
    POOL,
    LUT,
    RANGE_CHECK,
    BINARY,
    WIDEN_I16,
    WIDEN_I32,
];

/// Compiles [`SOURCE`] to PTX for compute capability `major.minor` (no GPU needed, only NVRTC).
pub fn compile(major: u32, minor: u32) -> Result<Ptx> {
    nvrtc_library()?;
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
        ..Default::default()
    };
    compile_ptx_with_opts(SOURCE, opts).map_err(|e| CudaError::Compile(e.to_string()))
}
