//! GPU proving (feature `cuda`): the same SHPLONK proof over the Keccak (EVM)
//! transcript, with halo2-axiom-gpu's CUDA MSM, NTT and quotient kernels.
//!
//! halo2-axiom-gpu re-exports halo2-axiom's circuit API, keys and transcript,
//! so the circuit, the proving key and the verifying key are the CPU ones (one
//! compile serves both backends) and its proofs verify with the CPU verifier
//! and on-chain. Only the KZG params are its own type: [`GpuProver::new`]
//! copies them over once, and they keep a device copy of the bases across
//! proofs.

use crate::error::{ProverError, Result};
use crate::prove::panic_reason;
use cipherproof_circuits::ModelCircuit;
use halo2_axiom_gpu::SerdeFormat;
use halo2_axiom_gpu::cuda::utils::HALO2_GPU_CTX;
use halo2_axiom_gpu::plonk::create_proof;
use halo2_axiom_gpu::poly::kzg::commitment::{
    KZGCommitmentScheme as GpuScheme, ParamsKZG as GpuParams,
};
use halo2_axiom_gpu::poly::kzg::multiopen::ProverSHPLONK as GpuShplonk;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::ProvingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_base::halo2_proofs::transcript::TranscriptWriterBuffer;
use rand::rngs::OsRng;
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A CUDA prover for one SRS size.
pub struct GpuProver {
    params: GpuParams<Bn256>,
}

impl std::fmt::Debug for GpuProver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuProver").finish_non_exhaustive()
    }
}

impl GpuProver {
    /// Copies `params` into halo2-axiom-gpu's type (same bytes, same points) and
    /// binds the CUDA device.
    pub fn new(params: &ParamsKZG<Bn256>) -> Result<Self> {
        let mut bytes = Vec::new();
        params
            .write_custom(&mut bytes, SerdeFormat::RawBytesUnchecked)
            .map_err(|e| gpu_err("params", e))?;
        let params =
            GpuParams::<Bn256>::read_custom(&mut bytes.as_slice(), SerdeFormat::RawBytesUnchecked)
                .map_err(|e| gpu_err("params", e))?;
        // The CUDA context and halo2-axiom-gpu's stream, made here (engine setup,
        // reported apart from the proofs) rather than inside the first proof; a device
        // that cannot be bound fails here, as an error. Its memory pool is made at the
        // first allocation (vendor/README.md).
        catch_unwind(AssertUnwindSafe(|| HALO2_GPU_CTX.device_id))
            .map_err(|panic| gpu_err("device", panic_reason(panic.as_ref())))?;
        Ok(Self { params })
    }

    /// A SHPLONK proof of `circuit` over the Keccak transcript, on the GPU.
    /// A CUDA failure (no device, out of memory) is an error, never a panic.
    pub fn create(
        &self,
        pk: &ProvingKey<G1Affine>,
        circuit: ModelCircuit,
        instances: &[Fr],
    ) -> Result<Vec<u8>> {
        let run = || -> Result<Vec<u8>> {
            let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
            create_proof::<
                GpuScheme<Bn256>,
                GpuShplonk<'_, Bn256>,
                _,
                _,
                EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>,
                _,
            >(
                &self.params,
                pk,
                &[circuit],
                &[&[instances]],
                OsRng,
                &mut transcript,
            )
            .map_err(|e| gpu_err("create_proof", format!("{e:?}")))?;
            Ok(transcript.finalize())
        };
        catch_unwind(AssertUnwindSafe(run))
            .unwrap_or_else(|panic| Err(gpu_err("create_proof", panic_reason(panic.as_ref()))))
    }
}

fn gpu_err(stage: &'static str, e: impl std::fmt::Display) -> ProverError {
    ProverError::Gpu {
        stage,
        reason: e.to_string(),
    }
}
