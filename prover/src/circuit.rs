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
    lookup_bits: usize,
) -> Result<(ModelCircuit, ModelCircuitParams)> {
    let mut c = ModelCircuit::new(CircuitBuilderStage::Keygen, k, lookup_bits);
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

/// Cell counts of the layout with `lookup_bits`-bit range limbs, from a mock run.
pub fn cell_counts(
    model: &QuantModel,
    visibility: InputVisibility,
    lookup_bits: usize,
) -> Result<CellCounts> {
    let mut c = ModelCircuit::new(CircuitBuilderStage::Mock, 20, lookup_bits);
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

/// The smallest k whose range table (2^lookup_bits rows) and activation tables fit.
pub fn min_k(counts: &CellCounts, lookup_bits: usize) -> u32 {
    let rows = (1usize << lookup_bits).max(counts.table_rows) + 16;
    rows.next_power_of_two().trailing_zeros()
}

/// The circuit size the planner settled on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Plan {
    pub k: u32,
    pub lookup_bits: usize,
    pub counts: CellCounts,
}

/// Range-limb sizes the planner tries.
const LIMB_CANDIDATES: [usize; 6] = [LOOKUP_BITS, 10, 12, 14, 16, 18];

/// Picks k and the range-limb size: for each limb size, the smallest k that
/// fits the layout in `max_advice` columns; then the cheapest by the cost model
/// of [`planner::cost`](cipherproof_circuits::planner::cost).
pub fn plan(
    model: &QuantModel,
    visibility: InputVisibility,
    max_k: u32,
    max_advice: usize,
) -> Result<Plan> {
    use cipherproof_circuits::planner::{choose_k, cost};
    let mut best: Option<(u128, Plan)> = None;
    let mut first_err = None;
    for lookup_bits in LIMB_CANDIDATES {
        // Larger limbs need k > lookup_bits: no cheaper than one column there.
        let floor = 1u128 << (lookup_bits + 1);
        if lookup_bits as u32 + 1 > max_k || best.as_ref().is_some_and(|(b, _)| *b <= floor) {
            break;
        }
        let counts = cell_counts(model, visibility, lookup_bits)?;
        let advice = counts.advice + 2 * counts.table_lookups;
        let k = match choose_k(
            advice,
            counts.lookup,
            min_k(&counts, lookup_bits),
            max_k,
            max_advice,
        ) {
            Ok(k) => k,
            Err(e) => {
                first_err.get_or_insert(e);
                continue;
            }
        };
        let c = cost(k, advice, counts.lookup);
        if best.as_ref().is_none_or(|(b, _)| c < *b) {
            best = Some((
                c,
                Plan {
                    k,
                    lookup_bits,
                    counts,
                },
            ));
        }
    }
    match (best, first_err) {
        (Some((_, p)), _) => Ok(p),
        (None, Some(e)) => Err(e.into()),
        (None, None) => Err(cipherproof_circuits::CircuitError::TooLarge {
            needed: LOOKUP_BITS as u32 + 1,
            max: max_k,
        }
        .into()),
    }
}
