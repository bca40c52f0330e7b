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

    /// Inputs per dot-product gate row (0 when the circuit has no such gate).
    pub fn dot_width(&self) -> usize {
        self.params.dot.row_width()
    }
}

/// Lays the model out for keygen (all-zero input) at 2^k rows and sizes its
/// columns; `dot_width` 0 keeps dense/conv sums on halo2-base's gate.
pub fn keygen_circuit(
    model: &QuantModel,
    visibility: InputVisibility,
    k: u32,
    lookup_bits: usize,
    dot_width: usize,
) -> Result<(ModelCircuit, ModelCircuitParams)> {
    let mut c =
        ModelCircuit::new(CircuitBuilderStage::Keygen, k, lookup_bits).with_dot_width(dot_width);
    c.assign(model, &vec![0; model.input().numel()], visibility)?;
    let params = c.calculate_params()?;
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellCounts {
    /// Cells of halo2-base's gate columns.
    pub advice: usize,
    /// Range-check limbs (lookup advice cells).
    pub lookup: usize,
    /// Activation-table lookups (each takes an `(x, y)` pair of advice cells).
    pub table_lookups: usize,
    /// Rows of the fixed activation tables (0 without tables).
    pub table_rows: usize,
    /// Inputs of each dot-product gate job (empty when the gate is off).
    #[serde(default)]
    pub dot_terms: Vec<usize>,
}

/// Cell counts of the layout with `lookup_bits`-bit range limbs, from a mock
/// run, with dense/conv sums on the dot-product gate if `dot`. The planner
/// counts at width 1, where no rescale folds into the gate (`chips::linear`),
/// so its halo2-base cells are an upper bound for every width; keygen counts
/// the layout it keeps ([`counts_of`]).
pub fn cell_counts(
    model: &QuantModel,
    visibility: InputVisibility,
    lookup_bits: usize,
    dot: bool,
) -> Result<CellCounts> {
    let mut c = ModelCircuit::new(CircuitBuilderStage::Mock, 20, lookup_bits)
        .with_dot_width(usize::from(dot));
    c.assign(model, &vec![0; model.input().numel()], visibility)?;
    Ok(counts_of(&c, model))
}

/// The cell counts of a laid-out model circuit.
pub fn counts_of(c: &ModelCircuit, model: &QuantModel) -> CellCounts {
    let stats = c.builder.statistics();
    CellCounts {
        advice: stats.gate.total_advice_per_phase[0],
        lookup: stats.total_lookup_advice_per_phase[0],
        table_lookups: c.lookups.len(),
        table_rows: if c.lookups.is_empty() {
            0
        } else {
            LutTables::from_model(model).rows()
        },
        dot_terms: c.dots.iter().map(|j| j.inputs.len()).collect(),
    }
}

/// The smallest k whose range table (2^lookup_bits rows) and activation tables fit.
pub fn min_k(counts: &CellCounts, lookup_bits: usize) -> u32 {
    let rows = (1usize << lookup_bits).max(counts.table_rows) + 16;
    rows.next_power_of_two().trailing_zeros()
}

/// What the planner sizes for a layout with `lookup_bits`-bit limbs.
fn layout(
    counts: &CellCounts,
    lookup_bits: usize,
    max_k: u32,
    max_advice: usize,
) -> cipherproof_circuits::planner::Layout<'_> {
    cipherproof_circuits::planner::Layout {
        advice: counts.advice + 2 * counts.table_lookups,
        lookup: counts.lookup,
        dot_terms: &counts.dot_terms,
        min_k: min_k(counts, lookup_bits),
        max_k,
        max_advice,
    }
}

/// The circuit size the planner settled on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub k: u32,
    pub lookup_bits: usize,
    /// Inputs per dot-product gate row (0: sums on halo2-base's gate).
    pub dot_width: usize,
    pub counts: CellCounts,
}

/// Range-limb sizes the planner tries.
const LIMB_CANDIDATES: [usize; 6] = [LOOKUP_BITS, 10, 12, 14, 16, 18];

/// Picks k, the range-limb size and the dot-product gate's width (or none):
/// every combination laid out (one mock layout per limb size and gate on/off),
/// sized at every k that fits `max_advice` columns, and the cheapest kept by
/// the cost model of [`planner::cost`](cipherproof_circuits::planner::cost).
pub fn plan(
    model: &QuantModel,
    visibility: InputVisibility,
    max_k: u32,
    max_advice: usize,
) -> Result<Plan> {
    use cipherproof_circuits::planner::cheapest;
    // Before any layout: a model declaring far more cells than max_k allows costs nothing to refuse.
    cipherproof_circuits::size::check_fits(model, max_k, max_advice)?;
    let mut best: Option<(u128, Plan)> = None;
    let mut first_err = None;
    for lookup_bits in LIMB_CANDIDATES {
        // Larger limbs need k > lookup_bits: no cheaper than one column there.
        let floor = 1u128 << (lookup_bits + 1);
        if lookup_bits as u32 + 1 > max_k || best.as_ref().is_some_and(|(b, _)| *b <= floor) {
            break;
        }
        for dot in [false, true] {
            let counts = cell_counts(model, visibility, lookup_bits, dot)?;
            if dot && counts.dot_terms.is_empty() {
                continue;
            }
            match cheapest(&layout(&counts, lookup_bits, max_k, max_advice), dot) {
                Ok(choice) => {
                    if best.as_ref().is_none_or(|(b, _)| choice.cost < *b) {
                        best = Some((
                            choice.cost,
                            Plan {
                                k: choice.k,
                                lookup_bits,
                                dot_width: choice.dot_width,
                                counts,
                            },
                        ));
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
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

/// The `n` cheapest layouts by the cost model, over every range-limb size,
/// dot-gate choice and k (one per k: its cheapest width), cheapest first,
/// with their model costs: what `compile --tune` measures.
pub fn candidates(
    model: &QuantModel,
    visibility: InputVisibility,
    max_k: u32,
    max_advice: usize,
    n: usize,
) -> Result<Vec<(u128, Plan)>> {
    use cipherproof_circuits::planner::choices;
    cipherproof_circuits::size::check_fits(model, max_k, max_advice)?;
    let mut all: Vec<(u128, Plan)> = Vec::new();
    for lookup_bits in LIMB_CANDIDATES {
        if lookup_bits as u32 + 1 > max_k {
            break;
        }
        for dot in [false, true] {
            let counts = cell_counts(model, visibility, lookup_bits, dot)?;
            if dot && counts.dot_terms.is_empty() {
                continue;
            }
            for c in choices(&layout(&counts, lookup_bits, max_k, max_advice), dot) {
                all.push((
                    c.cost,
                    Plan {
                        k: c.k,
                        lookup_bits,
                        dot_width: c.dot_width,
                        counts: counts.clone(),
                    },
                ));
            }
        }
    }
    if all.is_empty() {
        // No layout fits: the planner's own error says by how much.
        return plan(model, visibility, max_k, max_advice).map(|p| vec![(0, p)]);
    }
    all.sort_by_key(|(cost, p)| (*cost, p.k, p.lookup_bits, p.dot_width));
    all.truncate(n.max(1));
    Ok(all)
}
