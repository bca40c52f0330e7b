//! Proving: the integer reference first (clear errors for out-of-range inputs),
//! then the circuit witness, then a SHPLONK proof over the Keccak transcript.

use crate::artifact::{InputClaim, PROOF_VERSION, ProofFile, fr_to_hex};
use crate::circuit::{CircuitShape, prover_circuit};
use crate::compile::Compiled;
use crate::error::{ProverError, Result};
use cipherproof_circuits::packing;
use cipherproof_circuits::{InputVisibility, ModelCircuit, ModelWitness};
use cipherproof_model::exec::argmax;
use cipherproof_model::exec::integer::{IntegerRunner, dequantize_output};
use cipherproof_model::quant::QuantModel;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
use halo2_base::halo2_proofs::plonk::{ProvingKey, create_proof};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_base::halo2_proofs::transcript::TranscriptWriterBuffer;
use rand::rngs::OsRng;
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::EvmTranscript;

/// Where a proof's MSMs and FFTs run. Both give proofs of the same keys that
/// the same verifier accepts.
#[derive(Debug, Default)]
pub enum Engine {
    #[default]
    Cpu,
    /// halo2-axiom-gpu's CUDA prover (feature `cuda`).
    #[cfg(feature = "cuda")]
    Cuda(Box<crate::gpu::GpuProver>),
}

impl Engine {
    /// "cpu" or "cuda".
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Cpu => "cpu",
            #[cfg(feature = "cuda")]
            Engine::Cuda(_) => "cuda",
        }
    }
}

/// Whether this build has the CUDA prover (feature `cuda`).
pub const HAS_CUDA_PROVER: bool = cfg!(feature = "cuda");

/// Proves the model on an already quantized input, on the CPU.
pub fn prove(
    c: &Compiled,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    input: &[i64],
) -> Result<ProofFile> {
    prove_on(&Engine::Cpu, c, params, pk, input)
}

/// Proves the model on an already quantized input with `engine`: its
/// [`witness`], then the proof.
pub fn prove_on(
    engine: &Engine,
    c: &Compiled,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    input: &[i64],
) -> Result<ProofFile> {
    witness(c, input)?.prove(engine, params, pk)
}

/// One input's witness, ready to prove: the circuit with every cell assigned,
/// its public instances, and what the proof file says of the outputs. Made
/// on the CPU, apart from the proof, so a caller that shares one GPU among
/// several jobs (the gateway) can make the next job's witness while the
/// device proves another's.
pub struct Witnessed {
    circuit: ModelCircuit,
    instances: Vec<Fr>,
    file: ProofFile,
}

impl std::fmt::Debug for Witnessed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnessed")
            .field("model_id", &self.file.model_id)
            .field("instances", &self.instances.len())
            .finish_non_exhaustive()
    }
}

/// The witness of `input` (already quantized) for the compiled model: the
/// integer reference first, for clear errors on out-of-range inputs, then the
/// circuit's cells, whose outputs must equal that reference.
pub fn witness(c: &Compiled, input: &[i64]) -> Result<Witnessed> {
    let reference = IntegerRunner::new(&c.model)?.run(input)?;
    let (circuit, witness) = prover_circuit(
        &c.model,
        c.circuit.input_visibility,
        &c.circuit.shape,
        input,
    )?;
    if witness.output_values != reference {
        return Err(ProverError::Halo2 {
            stage: "witness",
            reason: format!(
                "circuit outputs {:?} differ from the integer reference {:?}",
                witness.output_values, reference
            ),
        });
    }
    let instances = instances_of(&c.model, &witness)?;
    let claim = match c.circuit.input_visibility {
        InputVisibility::Private => InputClaim::Private,
        InputVisibility::Public => InputClaim::Public {
            values: input.to_vec(),
        },
        InputVisibility::Hashed => InputClaim::Hashed {
            commitment: witness
                .input_instances
                .first()
                .map(fr_to_hex)
                .unwrap_or_default(),
        },
    };
    let file = ProofFile {
        version: PROOF_VERSION,
        model_id: c.circuit.model_id.clone(),
        k: c.circuit.shape.k(),
        proof: String::new(),
        instances: vec![instances.iter().map(fr_to_hex).collect()],
        dequantized_outputs: dequantize_output(&c.model, &reference),
        argmax: argmax(&reference).unwrap_or(0),
        quantized_outputs: reference,
        srs: c.circuit.srs.clone(),
        input: claim,
    };
    Ok(Witnessed {
        circuit,
        instances,
        file,
    })
}

impl Witnessed {
    /// The proof of this witness with `engine`, under the compiled model's
    /// keys.
    pub fn prove(
        self,
        engine: &Engine,
        params: &ParamsKZG<Bn256>,
        pk: &ProvingKey<G1Affine>,
    ) -> Result<ProofFile> {
        let proof = create(engine, params, pk, self.circuit, &self.instances)?;
        Ok(ProofFile {
            proof: format!("0x{}", hex::encode(proof)),
            ..self.file
        })
    }
}

/// The public instances of a laid-out model: the input's, then its outputs
/// packed ([`packing`]).
fn instances_of(model: &QuantModel, witness: &ModelWitness) -> Result<Vec<Fr>> {
    let out_bits = model.values[model.output].bits;
    let outputs = &witness.output_values;
    let packed = packing::pack(outputs, out_bits).ok_or_else(|| ProverError::Halo2 {
        stage: "witness",
        reason: format!("outputs {outputs:?} outside their {out_bits}-bit range"),
    })?;
    Ok(witness
        .input_instances
        .iter()
        .copied()
        .chain(packed)
        .collect())
}

/// A SHPLONK proof of `circuit` over the Keccak (EVM) transcript.
fn create(
    engine: &Engine,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instances: &[Fr],
) -> Result<Vec<u8>> {
    match engine {
        Engine::Cpu => create_on_cpu(params, pk, circuit, instances),
        #[cfg(feature = "cuda")]
        Engine::Cuda(gpu) => gpu.create(pk, circuit, instances),
    }
}

fn create_on_cpu(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: ModelCircuit,
    instances: &[Fr],
) -> Result<Vec<u8>> {
    let run = || -> Result<Vec<u8>> {
        let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
        create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            _,
            _,
            EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>,
            _,
        >(
            params,
            pk,
            &[circuit],
            &[&[instances]],
            OsRng,
            &mut transcript,
        )
        .map_err(|e| ProverError::Halo2 {
            stage: "create_proof",
            reason: format!("{e:?}"),
        })?;
        Ok(transcript.finalize())
    };
    // halo2 asserts rather than returns errors when the witness does not fit the layout
    // (e.g. break points edited in circuit.json): an error, never a panic.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|panic| {
        Err(ProverError::Halo2 {
            stage: "create_proof",
            reason: format!(
                "{} (the compiled layout does not fit this model's witness: was circuit.json edited? compile the model again)",
                panic_reason(panic.as_ref())
            ),
        })
    })
}

/// The message of a caught panic.
pub(crate) fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the prover panicked".into())
}

/// Seconds one proof of `model` (all-zero input) takes with these keys: what
/// `compile --tune` compares layouts by. The proof itself is dropped.
pub fn time_one_proof(
    model: &QuantModel,
    visibility: InputVisibility,
    shape: &CircuitShape,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
) -> Result<f64> {
    let start = std::time::Instant::now();
    let input = vec![0; model.input().numel()];
    let (circuit, witness) = prover_circuit(model, visibility, shape, &input)?;
    create(
        &Engine::Cpu,
        params,
        pk,
        circuit,
        &instances_of(model, &witness)?,
    )?;
    Ok(start.elapsed().as_secs_f64())
}
