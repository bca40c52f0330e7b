//! What this machine offers: whether the CUDA driver and NVRTC libraries can be
//! loaded, and the devices the driver reports. Library presence is probed with
//! `dlopen` before cudarc is touched, because cudarc's dynamic loader panics
//! when a library is missing.

use crate::error::{CudaError, Result};
use cudarc::driver::CudaContext;
use cudarc::driver::sys::CUdevice_attribute;

/// Names cudarc's loader tries for the driver library (Linux).
const DRIVER_NAMES: &[&str] = &["libcuda.so", "libcuda.so.1"];
/// Names cudarc's loader tries for NVRTC 12.x (Linux).
const NVRTC_NAMES: &[&str] = &["libnvrtc.so", "libnvrtc.so.12"];

fn loadable(names: &[&str]) -> std::result::Result<(), String> {
    let mut last = String::new();
    for name in names {
        // SAFETY: opening a library runs its initialisers; these are NVIDIA's
        // driver / NVRTC libraries, the same ones cudarc would open.
        #[allow(unsafe_code)]
        match unsafe { libloading::Library::new(name) } {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// `Ok` when the CUDA driver library loads.
pub fn driver_library() -> Result<()> {
    loadable(DRIVER_NAMES).map_err(CudaError::NoDriver)
}

/// `Ok` when the NVRTC library loads.
pub fn nvrtc_library() -> Result<()> {
    loadable(NVRTC_NAMES).map_err(CudaError::NoNvrtc)
}

/// One CUDA device as the driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub ordinal: usize,
    pub name: String,
    /// Compute capability (major, minor).
    pub compute_capability: (u32, u32),
    pub total_memory_bytes: u64,
    pub free_memory_bytes: u64,
}

impl DeviceInfo {
    /// `name (sm_XY, N GiB, M GiB free)`.
    pub fn describe(&self) -> String {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        format!(
            "{} (sm_{}{}, {:.1} GiB, {:.1} GiB free)",
            self.name,
            self.compute_capability.0,
            self.compute_capability.1,
            gib(self.total_memory_bytes),
            gib(self.free_memory_bytes)
        )
    }
}

/// The number of CUDA devices (an error when the driver is missing).
pub fn device_count() -> Result<usize> {
    driver_library()?;
    Ok(CudaContext::device_count()? as usize)
}

/// Opens a context on `ordinal` after checking the driver and the device exist.
pub fn open(ordinal: usize) -> Result<std::sync::Arc<CudaContext>> {
    let count = device_count()?;
    if ordinal >= count {
        return Err(CudaError::NoDevice { ordinal, count });
    }
    Ok(CudaContext::new(ordinal)?)
}

/// Name, compute capability and memory of an open context's device.
pub fn describe(ctx: &CudaContext) -> Result<DeviceInfo> {
    let major = ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
    let minor = ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
    let (free, total) = cudarc::driver::result::mem_get_info()?;
    Ok(DeviceInfo {
        ordinal: ctx.ordinal(),
        name: ctx.name()?,
        compute_capability: (major as u32, minor as u32),
        total_memory_bytes: total as u64,
        free_memory_bytes: free as u64,
    })
}

/// Every device the driver reports (empty when there is no driver).
pub fn devices() -> Result<Vec<DeviceInfo>> {
    let count = match device_count() {
        Err(CudaError::NoDriver(_)) => return Ok(Vec::new()),
        count => count?,
    };
    (0..count)
        .map(|i| describe(&*CudaContext::new(i)?))
        .collect()
}
