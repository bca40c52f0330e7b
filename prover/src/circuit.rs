//! Building the model circuit at each stage (keygen, prover, sizing).

use crate::error::Result;
use cipherproof_circuits::circuit::LOOKUP_BITS;
use cipherproof_circuits::lut::LutTables;
use cipherproof_circuits::{InputVisibility, ModelCircuit, ModelCircuitParams, ModelWitness};
use cipherproof_model::quant::QuantModel;
use halo2_base::gates::circuit::CircuitBuilderStage;
use serde::{Deserialize, Serialize};

/// Everything needed to rebuild the exact circuit shape of a compiled model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CircuitShape {
    pub params: ModelCircuitParams,
    pub break_points: Vec<Vec<usize>>,
}

impl CircuitShape {
    pub fn k(&self) -> u32 {
        self.params.base.k as u32
    }
}

/// Lays the model out for keygen (all-zero input) at 2^k rows and sizes its columns.
pub fn keygen_circuit(
    model: &QuantModel,
    visibility: InputVisibility,
    k: u32,
) -> Result<(ModelCircuit, ModelCircuitParams)> {
    let mut c = ModelCircuit::new(CircuitBuilderStage::Keygen, k);
    c.assign(model, &vec![0; model.input().numel()], visibility)?;
    let params = c.calculate_params();
    Ok((c, params))
}

/// Lays the model out for proving `input` with a compiled shape.
pub fn prover_circuit(
    model: &QuantModel,
    visibility: InputVisibility,
    shape: &CircuitShape,
    input: &[i64],
) -> Result<(ModelCircuit, ModelWitness)> {
    let mut c = ModelCircuit::prover(shape.params.clone(), shape.break_points.clone());
    let w = c.assign(model, input, visibility)?;
    Ok((c, w))
}

/// What the planner needs to know about a layout.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CellCounts {
    /// Cells of halo2-base's gate columns.
    pub advice: usize,
    /// Range-check limbs (lookup advice cells).
    pub lookup: usize,
    /// Activation-table lookups (two advice cells each).
    pub table_lookups: usize,
    /// Rows of the fixed activation tables.
    pub table_rows: usize,
}

/// Cell counts of the layout, from a mock run at a large k.
pub fn cell_counts(model: &QuantModel, visibility: InputVisibility) -> Result<CellCounts> {
    let mut c = ModelCircuit::new(CircuitBuilderStage::Mock, 20);
    c.assign(model, &vec![0; model.input().numel()], visibility)?;
    let stats = c.builder.statistics();
    Ok(CellCounts {
        advice: stats.gate.total_advice_per_phase[0],
        lookup: stats.total_lookup_advice_per_phase[0],
        table_lookups: c.lookups.len(),
        table_rows: if c.lookups.is_empty() {
            0
        } else {
            LutTables::from_model(model).rows()
        },
    })
}

/// The smallest k whose range table (2^LOOKUP_BITS rows) and activation tables fit.
pub fn min_k(counts: &CellCounts) -> u32 {
    let rows = (1usize << LOOKUP_BITS).max(counts.table_rows) + 16;
    rows.next_power_of_two().trailing_zeros()
}
