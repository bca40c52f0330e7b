//! Comparisons, argmax and gathers from constant tables: the selection ops of
//! tree models. Each result is a small integer the constraints pin exactly (no
//! free choice for the prover), as `cipherproof_model::exec::integer` defines it.

use super::{Cells, Chip};
use crate::field::{Fr, fr_i64, i64_fr, pow2};
use crate::lut::LutLookup;
use cipherproof_model::exec::integer::row_index;
use cipherproof_model::graph::broadcast::{broadcast_indices, concat_sources, element_bases};
use cipherproof_model::graph::compare::Comparison;
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::{self, Constant, Existing};
use halo2_base::gates::{GateInstructions, RangeInstructions};

/// Operands of a comparison: cells (or constants) and the bits that bound them.
#[allow(missing_debug_implementations)]
pub struct Operands<'c> {
    pub a: &'c Cells,
    pub a_shape: &'c [usize],
    pub b: Side<'c>,
    pub b_shape: &'c [usize],
    pub out_shape: &'c [usize],
}

/// The right-hand side of a comparison.
#[allow(missing_debug_implementations)]
pub enum Side<'c> {
    Cells(&'c Cells),
    Constants(&'c [i64]),
}

/// `(a << align[0]) cmp (b << align[1])` per output element (broadcasting), as 1 or 0.
/// `span` bounds both sides: `|a·2^align[0]|, |b·2^align[1]| ≤ 2^(span−1) + 1`.
pub fn compare(
    chip: &mut Chip,
    ops: &Operands,
    cmp: Comparison,
    align: [u32; 2],
    span: u32,
) -> Cells {
    let ia = broadcast_indices(ops.a_shape, ops.out_shape);
    let ib = broadcast_indices(ops.b_shape, ops.out_shape);
    ia.iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let a = scaled(chip, Existing(ops.a[i]), align[0]);
            let b = match ops.b {
                Side::Cells(b) => scaled(chip, Existing(b[j]), align[1]),
                Side::Constants(c) => Constant(fr_i64(c[j])),
            };
            compare_one(chip, a, b, cmp, span)
        })
        .collect()
}

/// `x · 2^shift` (the cell itself when `shift` is 0).
fn scaled(chip: &mut Chip, x: QuantumCell<Fr>, shift: u32) -> QuantumCell<Fr> {
    if shift == 0 {
        return x;
    }
    Existing(chip.range.gate().mul(chip.ctx, x, Constant(pow2(shift))))
}

/// `a cmp b` as 1 or 0, for `|a|, |b| ≤ 2^(span−1) + 1`.
fn compare_one(
    chip: &mut Chip,
    a: QuantumCell<Fr>,
    b: QuantumCell<Fr>,
    cmp: Comparison,
    span: u32,
) -> AssignedValue<Fr> {
    let gate = chip.range.gate();
    match cmp {
        Comparison::Equal => gate.is_equal(chip.ctx, a, b),
        Comparison::Less => less_than(chip, a, b, span),
        Comparison::Greater => less_than(chip, b, a, span),
        Comparison::GreaterOrEqual => {
            let lt = less_than(chip, a, b, span);
            chip.range.gate().not(chip.ctx, lt)
        }
        Comparison::LessOrEqual => {
            let gt = less_than(chip, b, a, span);
            chip.range.gate().not(chip.ctx, gt)
        }
    }
}

/// `t = [a < b]`: a witnessed bit with `d = t·(2e − 1) − e ≥ 0`, `e = b − a`, checked to
/// `span + 1` bits. If `t = 1`, `d = b − a − 1`, non-negative only when `a < b`; if
/// `t = 0`, `d = a − b`, non-negative only when `a ≥ b`. `|e| ≤ 2^span + 2`, so a wrong
/// bit makes `d` a small negative number, far outside the range check's reach.
fn less_than(
    chip: &mut Chip,
    a: QuantumCell<Fr>,
    b: QuantumCell<Fr>,
    span: u32,
) -> AssignedValue<Fr> {
    let lt = match (i64_fr(a.value()), i64_fr(b.value())) {
        (Some(x), Some(y)) => x < y,
        _ => false,
    };
    less_than_claiming(chip, a, b, span, lt)
}

/// [`less_than`] with the bit `claim` as its witness, true or not (for soundness tests:
/// a false claim leaves every gate satisfied and fails the range check).
pub fn less_than_claiming(
    chip: &mut Chip,
    a: QuantumCell<Fr>,
    b: QuantumCell<Fr>,
    span: u32,
    claim: bool,
) -> AssignedValue<Fr> {
    let gate = chip.range.gate();
    let t = chip.ctx.load_witness(Fr::from(u64::from(claim)));
    gate.assert_bit(chip.ctx, t);
    let e = gate.sub(chip.ctx, b, a);
    let f = gate.mul_add(chip.ctx, e, Constant(Fr::from(2u64)), Constant(-Fr::one()));
    let g = gate.mul(chip.ctx, t, f);
    let d = gate.sub(chip.ctx, g, e);
    chip.range.range_check(chip.ctx, d, (span + 1) as usize);
    t
}

/// The index of the first maximum of each run of `last` cells (values within `bits`
/// signed bits): the index `i` is a witness, `b = indicator(i)` with `Σ b = 1` pins it
/// to `0..last`, `m = Σ b_j·x_j` is the picked value, and `m − x_j − [j < i] ≥ 0`
/// (checked to `bits` bits) for every `j` makes `m` the maximum and `i` its first place.
pub fn argmax(chip: &mut Chip, x: &Cells, last: usize, bits: u32) -> Cells {
    x.chunks(last.max(1))
        .map(|row| {
            let values: Vec<i64> = row.iter().map(|c| i64_fr(c.value()).unwrap_or(0)).collect();
            let first = cipherproof_model::exec::integer::first_max(&values);
            argmax_claiming(chip, row, bits, first)
        })
        .collect()
}

/// [`argmax`] of one row with `index` as its witness, right or not (for soundness tests).
pub fn argmax_claiming(
    chip: &mut Chip,
    row: &[AssignedValue<Fr>],
    bits: u32,
    index: usize,
) -> AssignedValue<Fr> {
    let gate = chip.range.gate();
    let idx = chip.ctx.load_witness(Fr::from(index as u64));
    let ind = one_hot(chip, idx, row.len());
    let m = gate.inner_product(
        chip.ctx,
        row.iter().copied(),
        ind.iter().map(|&b| Existing(b)),
    );
    // `after` = Σ_{k > j} b_k: 1 exactly for the places before the index.
    let mut after: QuantumCell<Fr> = Constant(Fr::zero());
    for j in (0..row.len()).rev() {
        let t = gate.add(chip.ctx, row[j], after);
        let d = gate.sub(chip.ctx, m, t);
        chip.range.range_check(chip.ctx, d, bits as usize);
        after = Existing(gate.add(chip.ctx, after, ind[j]));
    }
    idx
}

/// `indicator(idx)` over `0..len`, constrained to hold exactly one 1 (so `idx < len`).
fn one_hot(chip: &mut Chip, idx: AssignedValue<Fr>, len: usize) -> Vec<AssignedValue<Fr>> {
    let gate = chip.range.gate();
    let ind = gate.idx_to_indicator(chip.ctx, idx, len);
    let ones = gate.sum(chip.ctx, ind.iter().copied());
    gate.assert_is_const(chip.ctx, &ones, &Fr::one());
    ind
}

/// `table[x >> index_shift]` row by row (`rows` rows of the row-major `table`): the row
/// index is the cell itself (or a witness `r` with `r·2^index_shift = x`), its one-hot
/// indicator picks each column as an inner product with the table's constants.
pub fn gather_const(
    chip: &mut Chip,
    x: &Cells,
    table: &[i64],
    rows: usize,
    index_shift: u32,
) -> Cells {
    let mut out = Vec::with_capacity(table.len() / rows.max(1) * x.len());
    for &q in x {
        let row = honest_row(q, index_shift, rows);
        out.extend(gather_row_claiming(chip, q, table, rows, index_shift, row));
    }
    out
}

/// [`gather_const`] by lookups: per index its row `r` (as there) and, per column, a
/// witness `y` with `(tag, r, y)` looked up in that column's fixed table, which holds
/// `(tag, i, column[i])` for the table's rows alone: `r` must be a row, `y` its value.
pub fn gather_const_by_lookup(
    chip: &mut Chip,
    lookups: &mut Vec<LutLookup>,
    tags: &[u64],
    x: &Cells,
    table: &[i64],
    rows: usize,
    index_shift: u32,
) -> Cells {
    let width = table.len() / rows.max(1);
    let mut out = Vec::with_capacity(x.len() * width);
    for &q in x {
        let row = honest_row(q, index_shift, rows);
        let r = row_of(chip, q, index_shift, row);
        for (col, &tag) in tags.iter().enumerate() {
            let v = table.get(row * width + col).copied().unwrap_or(0);
            let y = chip.ctx.load_witness(fr_i64(v));
            lookups.push(LutLookup { tag, x: r, y });
            out.push(y);
        }
    }
    out
}

/// One index's row of [`gather_const`] with `row` as the witness of `q >> index_shift`
/// (when the shift is not 0), right or not (for soundness tests).
pub fn gather_row_claiming(
    chip: &mut Chip,
    q: AssignedValue<Fr>,
    table: &[i64],
    rows: usize,
    index_shift: u32,
    row: usize,
) -> Cells {
    let width = table.len() / rows.max(1);
    let idx = row_of(chip, q, index_shift, row);
    let ind = one_hot(chip, idx, rows);
    (0..width)
        .map(|col| {
            let column = (0..rows).map(|r| Constant(fr_i64(table[r * width + col])));
            chip.range
                .gate()
                .inner_product(chip.ctx, ind.iter().copied(), column)
        })
        .collect()
}

/// GatherElements along `axis` (data of shape `shape`, indices of shape `idx_shape`): per
/// index, its row `r` (the cell, or a witness with `r·2^index_shift = q`), a one-hot
/// indicator over the axis (exactly one 1, so `r` lies on it) and the data cells along the
/// axis selected by it. `None` if an index position reaches past the data.
pub fn gather_elements(
    chip: &mut Chip,
    x: &Cells,
    shape: &[usize],
    idx: &Cells,
    idx_shape: &[usize],
    axis: usize,
    index_shift: u32,
) -> Option<Cells> {
    let dim = shape.get(axis).copied().unwrap_or(0);
    let (bases, stride) = element_bases(shape, idx_shape, axis);
    let mut out = Vec::with_capacity(idx.len());
    for (&base, &q) in bases.iter().zip(idx) {
        let along: Vec<_> = (0..dim)
            .map(|k| x.get(base + k * stride).copied())
            .collect::<Option<_>>()?;
        let row = honest_row(q, index_shift, dim);
        let r = row_of(chip, q, index_shift, row);
        let ind = one_hot(chip, r, dim);
        out.push(chip.range.gate().select_by_indicator(chip.ctx, along, ind));
    }
    Some(out)
}

/// The row the value of index cell `q` stands for ([`row_index`]), or `rows` (no row,
/// so the constraints cannot hold) when it stands for none.
fn honest_row(q: AssignedValue<Fr>, index_shift: u32, rows: usize) -> usize {
    i64_fr(q.value())
        .and_then(|v| row_index(v, index_shift, rows))
        .unwrap_or(rows)
}

/// The row an index cell `q` stands for: `q` itself, or a witness `r` (claimed `row`)
/// constrained by `r·2^index_shift = q`.
fn row_of(
    chip: &mut Chip,
    q: AssignedValue<Fr>,
    index_shift: u32,
    row: usize,
) -> AssignedValue<Fr> {
    if index_shift == 0 {
        return q;
    }
    let gate = chip.range.gate();
    let r = chip.ctx.load_witness(Fr::from(row as u64));
    let back = gate.mul(chip.ctx, r, Constant(pow2(index_shift)));
    chip.ctx.constrain_equal(&back, &q);
    r
}

/// `x[map[i]]`: the same cells, no constraint; `None` if the map reaches past `x`.
pub fn pick(x: &Cells, map: &[usize]) -> Option<Cells> {
    map.iter().map(|&i| x.get(i).copied()).collect()
}

/// One input of a concatenation: its cells, shape and signed bits.
#[allow(missing_debug_implementations)]
pub struct Part<'c> {
    pub cells: &'c Cells,
    pub shape: &'c [usize],
    pub bits: u32,
}

/// The parts joined along `axis`, part `i` rounded by `shifts[i]` bits and range-checked
/// to `bits` first; a part already at the output's scale within `bits` is copied (its cells
/// are already range-checked). `None` if a part lacks a value its shape promises.
pub fn concat(
    chip: &mut Chip,
    parts: &[Part],
    axis: usize,
    shifts: &[i32],
    bits: u32,
) -> Option<Cells> {
    let rescaled: Vec<Cells> = parts
        .iter()
        .zip(shifts)
        .map(|(p, &d)| match u32::try_from(d) {
            Ok(0) if p.bits <= bits => p.cells.clone(),
            Ok(d) => p.cells.iter().map(|&v| chip.rescale(v, d, bits)).collect(),
            // Multiplied up: a constant product, range-checked when it may not fit.
            Err(_) => {
                let lift = d.unsigned_abs();
                let factor = Constant(pow2(lift));
                p.cells
                    .iter()
                    .map(|&v| {
                        let up = chip.range.gate().mul(chip.ctx, v, factor);
                        if p.bits + lift <= bits {
                            up
                        } else {
                            chip.rescale(up, 0, bits)
                        }
                    })
                    .collect()
            }
        })
        .collect();
    let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape).collect();
    concat_sources(&shapes, axis)
        .into_iter()
        .map(|(i, j)| rescaled.get(i)?.get(j).copied())
        .collect()
}
