//! Where work runs: the CPU always, a CUDA device when one is present.

use crate::error::{CudaError, Result};
use crate::probe::{device_count, nvrtc_library};

/// A backend choice as users write it (`--backend cpu|cuda|auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    Cpu,
    Cuda,
    /// CUDA when a device and NVRTC are present, else the CPU.
    #[default]
    Auto,
}

impl std::str::FromStr for Backend {
    type Err = CudaError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(Backend::Cpu),
            "cuda" => Ok(Backend::Cuda),
            "auto" => Ok(Backend::Auto),
            other => Err(CudaError::Invalid(format!(
                "unknown backend {other:?} (expected cpu, cuda or auto)"
            ))),
        }
    }
}

/// The backend that will actually run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Cpu { reason: String },
    Cuda { ordinal: usize },
}

impl Backend {
    /// Resolves `auto` against this machine; `cuda` fails with the reason when it cannot run.
    pub fn resolve(self) -> Result<Resolved> {
        let cuda = || -> Result<Resolved> {
            if device_count()? == 0 {
                return Err(CudaError::NoDevice {
                    ordinal: 0,
                    count: 0,
                });
            }
            nvrtc_library()?;
            Ok(Resolved::Cuda { ordinal: 0 })
        };
        match self {
            Backend::Cpu => Ok(Resolved::Cpu {
                reason: "asked for".into(),
            }),
            Backend::Cuda => cuda(),
            Backend::Auto => Ok(cuda().unwrap_or_else(|e| Resolved::Cpu {
                reason: e.to_string(),
            })),
        }
    }
}
