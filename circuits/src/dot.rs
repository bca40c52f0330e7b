//! A wide dot-product gate for the multiply-accumulates of dense and conv
//! layers, beside halo2-base's vertical gate.
//!
//! On halo2-base's gate `a + b·c = d`, one multiply-accumulate by a constant
//! weight costs three advice cells (input copy, weight constant, running sum).
//! Here a set of `width` input columns `x_i`, one accumulator column `acc`, and
//! `width` fixed weight columns `w_i` (plus fixed `chain`, `bias` and a
//! selector `q`) carry `width` products per row:
//!
//! ```text
//! q · (acc[r] − chain[r]·acc[r−1] − bias[r] − Σ_i w_i[r]·x_i[r]) = 0
//! ```
//!
//! A neuron of `n` terms takes `⌈n/width⌉` rows: its first row has `chain = 0`
//! and its bias, the next ones `chain = 1`; its last row's `acc` is the sum. So
//! a multiply-accumulate costs `(width + 1) / width` advice cells. Inputs are
//! copies of halo2-base cells and the sum is copied to the halo2-base cell that
//! the rescale consumes, or, for a job whose rescale is folded into its last
//! row (`chips::linear`), to a cell fixed to zero; so the gate is tied to the
//! rest of the circuit only by copy constraints.
//!
//! Soundness: weights, biases and `chain` are fixed (part of the verifying key);
//! unused input slots have weight 0; rows without a neuron have `q = 0`. The
//! degree is 3 (`q·w·x`, `q·chain·acc`), the same as halo2-base's gate.

use crate::field::{Fr, fr_i64};
use halo2_base::AssignedValue;
use halo2_base::halo2_proofs::circuit::{Region, Value};
use halo2_base::halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Expression, Fixed, Selector,
};
use halo2_base::halo2_proofs::poly::Rotation;
use halo2_base::utils::halo2::constrain_virtual_equals_external;
use halo2_base::virtual_region::copy_constraints::SharedCopyConstraintManager;
use serde::{Deserialize, Serialize};

/// How many dot-product column sets, and how wide (0 sets: the gate is off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DotShape {
    pub width: usize,
    pub sets: usize,
}

impl DotShape {
    /// Advice columns the gate adds.
    pub fn advice_columns(&self) -> usize {
        self.sets * (self.width + 1)
    }

    /// Fixed columns the gate adds (weights, chain, bias; the selector not counted).
    pub fn fixed_columns(&self) -> usize {
        self.sets * (self.width + 2)
    }

    /// Inputs per gate row when the gate is in use, 0 when it is not.
    pub fn row_width(&self) -> usize {
        if self.sets > 0 { self.width } else { 0 }
    }

    /// Advice cells that jobs of `terms` inputs each take.
    pub fn cells(width: usize, terms: &[usize]) -> usize {
        terms
            .iter()
            .map(|n| n.div_ceil(width.max(1)).max(1) * (width + 1))
            .sum()
    }
}

/// One neuron: `out = bias + Σ weights[i]·inputs[i]` (zero weights already dropped).
#[derive(Debug, Clone)]
pub struct DotJob {
    pub inputs: Vec<AssignedValue<Fr>>,
    pub weights: Vec<i64>,
    pub bias: i64,
    /// The halo2-base cell holding the sum (witnessed by the layout).
    pub out: AssignedValue<Fr>,
}

/// Where a layout queues its dot-product jobs: the jobs, the row width the
/// circuit lays them out at (1 in the planner's counting runs), and the cell
/// fixed to zero that a job whose rescale is folded into it is tied to
/// (`chips::linear`).
#[allow(missing_debug_implementations)]
pub struct DotQueue<'a> {
    pub jobs: &'a mut Vec<DotJob>,
    pub width: usize,
    zero: Option<AssignedValue<Fr>>,
}

impl<'a> DotQueue<'a> {
    pub fn new(jobs: &'a mut Vec<DotJob>, width: usize) -> Self {
        Self {
            jobs,
            width: width.max(1),
            zero: None,
        }
    }

    /// Whether `extra` more inputs fit a job of `n` inputs without another row.
    pub fn room_for(&self, n: usize, extra: usize) -> bool {
        self.width > 1 && n.div_ceil(self.width).max(1) == (n + extra).div_ceil(self.width)
    }

    /// The zero cell (one for the whole layout, made on first use).
    pub fn zero(&mut self, ctx: &mut halo2_base::Context<Fr>) -> AssignedValue<Fr> {
        *self.zero.get_or_insert_with(|| ctx.load_zero())
    }
}

impl DotJob {
    /// Rows the job takes at `width` inputs per row.
    pub fn rows(&self, width: usize) -> usize {
        self.inputs.len().div_ceil(width.max(1)).max(1)
    }
}

/// The sets that jobs of `terms` inputs each need at `width` when a column
/// holds `usable` rows: jobs fill rows `1..usable` of a set (row 0 stays
/// empty so no job's first row looks back past the start), never straddling
/// two sets. `None` when a job alone is longer than a set.
pub fn sets_needed(terms: &[usize], width: usize, usable: usize) -> Option<usize> {
    let mut sets = 0;
    let mut row = usable;
    for &n in terms {
        let rows = n.div_ceil(width.max(1)).max(1);
        if 1 + rows > usable {
            return None;
        }
        if row + rows > usable {
            sets += 1;
            row = 1;
        }
        row += rows;
    }
    Some(sets)
}

#[derive(Debug, Clone)]
struct DotSet {
    x: Vec<Column<Advice>>,
    acc: Column<Advice>,
    w: Vec<Column<Fixed>>,
    chain: Column<Fixed>,
    bias: Column<Fixed>,
    q: Selector,
}

/// The columns and gates of the dot-product sets.
#[derive(Debug, Clone)]
pub struct DotConfig {
    width: usize,
    sets: Vec<DotSet>,
}

impl DotConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: DotShape) -> Self {
        let width = shape.width.max(1);
        let mut advice = || {
            let c = meta.advice_column();
            meta.enable_equality(c);
            c
        };
        let columns: Vec<_> = (0..shape.sets)
            .map(|_| ((0..width).map(|_| advice()).collect::<Vec<_>>(), advice()))
            .collect();
        let sets = columns
            .into_iter()
            .map(|(x, acc)| DotSet {
                x,
                acc,
                w: (0..width).map(|_| meta.fixed_column()).collect(),
                chain: meta.fixed_column(),
                bias: meta.fixed_column(),
                q: meta.selector(),
            })
            .collect::<Vec<_>>();
        for s in &sets {
            meta.create_gate("dot product", |meta| {
                let q = meta.query_selector(s.q);
                let acc = meta.query_advice(s.acc, Rotation::cur());
                let prev = meta.query_advice(s.acc, Rotation::prev());
                let chain = meta.query_fixed(s.chain, Rotation::cur());
                let bias = meta.query_fixed(s.bias, Rotation::cur());
                let sum =
                    s.x.iter()
                        .zip(&s.w)
                        .fold(Expression::Constant(Fr::zero()), |e, (&x, &w)| {
                            e + meta.query_fixed(w, Rotation::cur())
                                * meta.query_advice(x, Rotation::cur())
                        });
                vec![q * (acc - chain * prev - bias - sum)]
            });
        }
        Self { width, sets }
    }

    /// Places the jobs, set by set (a job never straddles two sets), and ties
    /// their inputs and sums to the halo2-base cells (when `copy_manager` is given).
    ///
    /// Jobs start at row 1 (see [`sets_needed`]).
    pub fn assign(
        &self,
        region: &mut Region<Fr>,
        jobs: &[DotJob],
        usable: usize,
        copy_manager: Option<&SharedCopyConstraintManager<Fr>>,
    ) {
        let mut copy = copy_manager.map(|c| c.lock().unwrap_or_else(|e| e.into_inner()));
        let mut set = 0;
        let mut row = 1;
        for job in jobs {
            let rows = job.rows(self.width);
            if row + rows > usable {
                set += 1;
                row = 1;
            }
            let Some(s) = self.sets.get(set) else {
                // Keygen sized the sets for this layout; a different layout
                // cannot be placed (and the proof would fail anyway).
                return;
            };
            let mut acc = Fr::zero();
            let chunks = job
                .inputs
                .chunks(self.width)
                .zip(job.weights.chunks(self.width));
            let chunks: Vec<_> = if job.inputs.is_empty() {
                vec![(&[][..], &[][..])]
            } else {
                chunks.collect()
            };
            for (i, (xs, ws)) in chunks.into_iter().enumerate() {
                let r = row + i;
                let _ = s.q.enable(region, r);
                let first = i == 0;
                let bias = if first { fr_i64(job.bias) } else { Fr::zero() };
                region.assign_fixed(s.chain, r, Fr::from(u64::from(!first)));
                region.assign_fixed(s.bias, r, bias);
                if first {
                    acc = Fr::zero();
                }
                acc += bias;
                for j in 0..self.width {
                    let (x, w) = match (xs.get(j), ws.get(j)) {
                        (Some(x), Some(&w)) => (Some(x), fr_i64(w)),
                        _ => (None, Fr::zero()),
                    };
                    region.assign_fixed(s.w[j], r, w);
                    let value = x.map_or(Fr::zero(), |x| *x.value());
                    acc += w * value;
                    let raw = region.assign_advice(s.x[j], r, Value::known(value));
                    if let (Some(x), Some(copy)) = (x, copy.as_mut()) {
                        constrain_virtual_equals_external(region, *x, raw.cell(), copy);
                    }
                }
                // The last row holds the sum the layout witnessed (the rescale's
                // input): the gate checks it against the products.
                let last = i + 1 == rows;
                let value = if last { *job.out.value() } else { acc };
                let raw = region.assign_advice(s.acc, r, Value::known(value));
                if last && let Some(copy) = copy.as_mut() {
                    constrain_virtual_equals_external(region, job.out, raw.cell(), copy);
                }
            }
            row += rows;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_fill_sets_from_row_one_without_straddling() {
        // 10 usable rows: rows 1..10 hold 9 job rows per set.
        assert_eq!(sets_needed(&[], 4, 10), Some(0));
        assert_eq!(sets_needed(&[36], 4, 10), Some(1)); // 9 rows
        assert_eq!(sets_needed(&[37], 4, 10), None); // 10 rows: longer than a set
        assert_eq!(sets_needed(&[16, 16, 16], 4, 10), Some(2)); // 4 + 4 | 4
        assert_eq!(sets_needed(&[0, 0], 4, 10), Some(1)); // bias-only jobs still take a row
        assert_eq!(DotShape::cells(4, &[16, 1]), 4 * 5 + 5);
        let shape = DotShape { width: 4, sets: 2 };
        assert_eq!((shape.advice_columns(), shape.fixed_columns()), (10, 12));
    }
}
