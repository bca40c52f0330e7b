//! ReLU and LeakyReLU on range-checked signed cells.

use super::{Cells, Chip};
use crate::field::{Fr, fr_i64, i64_fr, pow2};
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::{Constant, Existing, Witness};
use halo2_base::gates::{GateInstructions, RangeInstructions};

impl Chip<'_> {
    /// 1 if the signed `bits`-wide cell `x` is negative, else 0 (`x` must already be range-checked).
    pub fn is_negative(&mut self, x: AssignedValue<Fr>, bits: u32) -> AssignedValue<Fr> {
        let half = pow2(bits - 1);
        let shifted = self.range.gate().add(self.ctx, x, Constant(half));
        self.range
            .is_less_than(self.ctx, shifted, Constant(half), bits as usize)
    }
}

/// `max(x, 0)` of cells already range-checked to `bits` (signed): witnesses
/// `y = max(x, 0)` and `z = max(−x, 0)` with `x + z = y`, `y·z = 0`,
/// `0 ≤ y < 2^(bits−1)` and `0 ≤ z < 2^bits` (z reaches 2^(bits−1) at the
/// most negative x). With x in range the split is unique: if `y ≠ 0` then
/// `z = 0` and `y = x`; if `y = 0` then `z = −x`, which is in range only for
/// `x ≤ 0`. Seven gate cells and two range checks, against ~25 cells for a
/// sign bit by comparison.
pub fn relu(chip: &mut Chip, x: &Cells, bits: u32) -> Cells {
    x.iter().map(|&v| chip.relu_split(v, bits)).collect()
}

impl Chip<'_> {
    fn relu_split(&mut self, x: AssignedValue<Fr>, bits: u32) -> AssignedValue<Fr> {
        let xi = i64_fr(x.value()).unwrap_or(0);
        let (y, z) = (fr_i64(xi.max(0)), fr_i64(xi.saturating_neg().max(0)));
        // | x | z | 1 | y | z | y | y |:  x + z·1 = y,  y + z·y = y.
        self.ctx.assign_region(
            [Existing(x), Witness(z), Constant(Fr::one()), Witness(y)],
            [0],
        );
        let (z, y) = (self.ctx.get(-3), self.ctx.get(-1));
        self.ctx
            .assign_region([Existing(z), Existing(y), Existing(y)], [-1]);
        self.range.range_check(self.ctx, y, bits as usize - 1);
        self.range.range_check(self.ctx, z, bits as usize);
        y
    }
}

/// `x` if `x ≥ 0`, else `round_shift(x·alpha, alpha_scale)`.
pub fn leaky_relu(chip: &mut Chip, x: &Cells, alpha: i64, alpha_scale: u32, bits: u32) -> Cells {
    let bound_bits = bits - 1 + (64 - alpha.unsigned_abs().leading_zeros());
    x.iter()
        .map(|&v| {
            let neg = chip.is_negative(v, bits);
            let scaled = chip.range.gate().mul(chip.ctx, v, Constant(fr_i64(alpha)));
            let leaked = chip.round_shift(scaled, alpha_scale, bound_bits);
            chip.range.gate().select(chip.ctx, leaked, v, neg)
        })
        .collect()
}
