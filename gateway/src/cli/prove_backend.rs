//! `prove --backend cpu|cuda|auto` (which engine proves) and `prove --repeat N`
//! (timings of N proofs and, on a GPU, the change in free device memory).

use anyhow::Result;
use cipherproof_cuda::Backend;
use cipherproof_gateway::engines::{cpu_device, cuda_device, cuda_engine};
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::prove::{Engine, HAS_CUDA_PROVER};
use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use indicatif::ProgressBar;
use std::time::Instant;

/// The engine `backend` resolves to here, and the device it runs on in words.
pub fn engine(backend: Backend, params: &ParamsKZG<Bn256>) -> Result<(Engine, String)> {
    let cuda = || -> Result<(Engine, String)> {
        let device = cuda_device()?;
        Ok((cuda_engine(params)?, device))
    };
    match backend {
        Backend::Cpu => Ok((Engine::Cpu, cpu_device())),
        Backend::Cuda => cuda(),
        Backend::Auto => cuda().or_else(|e| {
            // A default build has no CUDA prover: auto is the CPU without a word.
            if HAS_CUDA_PROVER {
                eprintln!("proving on the CPU: {e:#}");
            }
            Ok((Engine::Cpu, cpu_device()))
        }),
    }
}

/// The proofs of `prove --repeat`: the last proof, each one's seconds, and on a
/// GPU how much less device memory was free after the last than after the first.
pub struct Runs {
    pub proof: ProofFile,
    pub first_s: f64,
    pub times_s: Vec<f64>,
    pub memory_change: Option<i64>,
}

impl Runs {
    pub fn best_s(&self) -> f64 {
        self.times_s.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn median_s(&self) -> f64 {
        let mut t = self.times_s.clone();
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }
}

/// Runs `prove` `n` (at least 1) times under a progress bar.
pub fn repeat_proofs(
    engine: &Engine,
    n: usize,
    mut prove: impl FnMut() -> Result<ProofFile>,
) -> Result<Runs> {
    let n = n.max(1);
    let bar = ProgressBar::new(n as u64).with_message("proving");
    let timed = |prove: &mut dyn FnMut() -> Result<ProofFile>| -> Result<(ProofFile, f64)> {
        let start = Instant::now();
        let proof = prove()?;
        bar.inc(1);
        Ok((proof, start.elapsed().as_secs_f64()))
    };
    let (mut proof, first_s) = timed(&mut prove)?;
    let free_after_first = free_device_memory(engine);
    let mut times_s = vec![first_s];
    for _ in 1..n {
        let (p, t) = timed(&mut prove)?;
        proof = p;
        times_s.push(t);
    }
    bar.finish_and_clear();
    let memory_change = match (free_after_first, free_device_memory(engine)) {
        (Some(first), Some(last)) if n > 1 => Some(first as i64 - last as i64),
        _ => None,
    };
    Ok(Runs {
        proof,
        first_s,
        times_s,
        memory_change,
    })
}

/// Free memory of device 0 when `engine` runs there.
fn free_device_memory(engine: &Engine) -> Option<u64> {
    if engine.name() != "cuda" {
        return None;
    }
    let devices = cipherproof_cuda::probe::devices().ok()?;
    devices.first().map(|d| d.free_memory_bytes)
}
