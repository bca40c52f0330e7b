//! Which engine proves the gateway's jobs (`serve --backend cpu|cuda|auto`):
//! the CPU, or halo2-axiom-gpu's CUDA prover where the binary has it (feature
//! `cuda`) and a device is present. A GPU prover keeps its SRS's bases on the
//! device, so there is one per SRS and circuit size, built on a job's first
//! use and kept for the process; the device proves one job at a time, however
//! many `--workers` there are, while their witnesses are made on the CPU
//! outside that lock. Both engines prove with the same keys, and the worker
//! verifies every proof on the CPU either way.

use crate::error::{GatewayError, Result};
use crate::registry::ProverKeys;
use cipherproof_cuda::Backend;
use cipherproof_prover::ProverError;
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::compile::{Compiled, SrsSource};
use cipherproof_prover::prove::{self, Engine, HAS_CUDA_PROVER};
use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// "cpu" or "cuda": which engine made a proof.
pub type EngineName = &'static str;

/// A job's proof and how it was made.
#[derive(Debug)]
pub struct Proved {
    pub proof: ProofFile,
    /// The engine that made the proof.
    pub engine: EngineName,
    /// Under `auto`: the GPU failed this job (the reason is logged) and the
    /// CPU then proved it.
    pub gpu_failed: bool,
}

impl Proved {
    fn by(engine: EngineName, proof: ProofFile) -> Self {
        Self {
            proof,
            engine,
            gpu_failed: false,
        }
    }
}

/// A GPU prover, locked while it proves.
type SharedEngine = Arc<Mutex<Engine>>;

/// Where a gateway's jobs are proved, chosen once at start.
#[derive(Debug)]
pub struct Engines {
    /// The device, in words, when jobs go to the GPU.
    gpu: Option<String>,
    /// `auto`: a job the GPU fails is proved again on the CPU.
    cpu_fallback: bool,
    /// One GPU prover per SRS and circuit size; its lock makes the device's
    /// proofs one at a time.
    provers: Mutex<HashMap<(SrsSource, u32), SharedEngine>>,
}

fn no_cuda_prover() -> GatewayError {
    GatewayError::Config(
        "this binary has no CUDA prover: build it with `--features cuda` (docs/GPU.md)".into(),
    )
}

/// The device a CUDA prover would run on, in words, or why there is none.
pub fn cuda_device() -> Result<String> {
    if !HAS_CUDA_PROVER {
        return Err(no_cuda_prover());
    }
    let cuda = |e: cipherproof_cuda::CudaError| GatewayError::Config(format!("CUDA: {e}"));
    // The driver first: `devices` reads a missing driver as no devices.
    cipherproof_cuda::probe::driver_library().map_err(cuda)?;
    let devices = cipherproof_cuda::probe::devices().map_err(cuda)?;
    devices
        .first()
        .map(|d| d.describe())
        .ok_or_else(|| GatewayError::Config("the CUDA driver loads but reports no device".into()))
}

/// A CUDA prover for `params` (a binary built with feature `cuda`).
pub fn cuda_engine(params: &ParamsKZG<Bn256>) -> Result<Engine> {
    #[cfg(feature = "cuda")]
    {
        let gpu = cipherproof_prover::gpu::GpuProver::new(params)?;
        Ok(Engine::Cuda(Box::new(gpu)))
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = params;
        Err(no_cuda_prover())
    }
}

/// The CPU in words: how many threads prove there.
pub fn cpu_device() -> String {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("CPU, {threads} threads")
}

impl Engines {
    /// Resolves `backend` on this machine: `cuda` fails with the reason when
    /// the binary has no CUDA prover or no device is present; `auto` takes the
    /// GPU when both are there, else the CPU (saying why only when the binary
    /// has the GPU prover).
    pub fn new(backend: Backend) -> Result<Self> {
        let (gpu, cpu_fallback) = match backend {
            Backend::Cpu => (None, false),
            Backend::Cuda => (Some(cuda_device()?), false),
            Backend::Auto => match cuda_device() {
                Ok(device) => (Some(device), true),
                Err(e) => {
                    if HAS_CUDA_PROVER {
                        tracing::warn!("proving on the CPU: {e}");
                    }
                    (None, false)
                }
            },
        };
        Ok(Self {
            gpu,
            cpu_fallback,
            provers: Mutex::default(),
        })
    }

    /// "cpu" or "cuda": where jobs go first.
    pub fn name(&self) -> EngineName {
        if self.gpu.is_some() { "cuda" } else { "cpu" }
    }

    /// Where jobs go first, in words.
    pub fn describe(&self) -> String {
        self.gpu.clone().unwrap_or_else(cpu_device)
    }

    /// A proof of `input` with `keys`, and the engine that made it. The
    /// witness is made before the device is taken, so with several workers
    /// one job's witness overlaps another's GPU proof. Under `auto`, a job
    /// the GPU fails (device error, out of device memory) is proved again on
    /// the CPU; errors of the input or the model are not retried.
    pub fn prove(&self, c: &Compiled, keys: &ProverKeys, input: &[i64]) -> Result<Proved> {
        let witness = prove::witness(c, input)?;
        if self.gpu.is_none() {
            let proof = witness.prove(&Engine::Cpu, &keys.params, &keys.pk)?;
            return Ok(Proved::by("cpu", proof));
        }
        let on_gpu = self
            .gpu_prover(&c.circuit.srs, c.circuit.shape.k(), &keys.params)
            .and_then(|engine| {
                let engine = engine.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(witness.prove(&engine, &keys.params, &keys.pk)?)
            });
        match on_gpu {
            Ok(proof) => Ok(Proved::by("cuda", proof)),
            Err(GatewayError::Prover(e @ ProverError::Gpu { .. })) if self.cpu_fallback => {
                tracing::warn!(error = %e, model = %c.circuit.model_id, "proving on the CPU instead");
                // The GPU consumed the witness: the CPU makes it again.
                let proof = prove::prove(c, &keys.params, &keys.pk, input)?;
                Ok(Proved {
                    gpu_failed: true,
                    ..Proved::by("cpu", proof)
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The GPU prover for this SRS and size, built the first time it is asked for.
    fn gpu_prover(
        &self,
        srs: &SrsSource,
        k: u32,
        params: &ParamsKZG<Bn256>,
    ) -> Result<SharedEngine> {
        let key = (srs.clone(), k);
        let mut provers = self.provers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(p) = provers.get(&key) {
            return Ok(p.clone());
        }
        let prover = Arc::new(Mutex::new(cuda_engine(params)?));
        provers.insert(key, prover.clone());
        Ok(prover)
    }
}
