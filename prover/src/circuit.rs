//! Building the halo2-base circuit of a model at each stage (keygen, prover, mock).

use crate::error::Result;
use cipherproof_circuits::field::Fr;
use cipherproof_circuits::{InputVisibility, ModelWitness};
use cipherproof_model::quant::QuantModel;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use serde::{Deserialize, Serialize};

/// Limb size of range checks (a 2^8-row lookup table).
pub const LOOKUP_BITS: usize = 8;

/// Everything needed to rebuild the exact circuit shape of a compiled model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CircuitShape {
    pub params: BaseCircuitParams,
    pub break_points: Vec<Vec<usize>>,
}

impl CircuitShape {
    pub fn k(&self) -> u32 {
        self.params.k as u32
    }
}

/// A builder for `stage` at 2^k rows with one instance column.
pub fn builder(stage: CircuitBuilderStage, k: u32) -> BaseCircuitBuilder<Fr> {
    BaseCircuitBuilder::from_stage(stage)
        .use_k(k as usize)
        .use_lookup_bits(LOOKUP_BITS)
        .use_instance_columns(1)
}

/// Lays the model out for keygen (all-zero input) and returns the builder with its computed params.
pub fn keygen_circuit(
    model: &QuantModel,
    visibility: InputVisibility,
    k: u32,
) -> Result<(BaseCircuitBuilder<Fr>, BaseCircuitParams)> {
    let mut b = builder(CircuitBuilderStage::Keygen, k);
    cipherproof_circuits::assign_model(&mut b, model, &vec![0; model.input().numel()], visibility)?;
    let params = b.calculate_params(Some(9));
    Ok((b, params))
}

/// Lays the model out for proving `input` with a compiled shape.
pub fn prover_circuit(
    model: &QuantModel,
    visibility: InputVisibility,
    shape: &CircuitShape,
    input: &[i64],
) -> Result<(BaseCircuitBuilder<Fr>, ModelWitness)> {
    let mut b = BaseCircuitBuilder::prover(shape.params.clone(), shape.break_points.clone());
    let w = cipherproof_circuits::assign_model(&mut b, model, input, visibility)?;
    Ok((b, w))
}

/// Cell counts of the layout (advice, lookup), from a mock run at a large k.
pub fn cell_counts(model: &QuantModel, visibility: InputVisibility) -> Result<(usize, usize)> {
    let mut b = builder(CircuitBuilderStage::Mock, 20);
    cipherproof_circuits::assign_model(&mut b, model, &vec![0; model.input().numel()], visibility)?;
    let stats = b.statistics();
    Ok((
        stats.gate.total_advice_per_phase[0],
        stats.total_lookup_advice_per_phase[0],
    ))
}
