//! ReLU and LeakyReLU on range-checked signed cells.

use super::{Cells, Chip};
use crate::field::{Fr, fr_i64, pow2};
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::Constant;
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

/// `max(x, 0)` as `x − neg·x`.
pub fn relu(chip: &mut Chip, x: &Cells, bits: u32) -> Cells {
    x.iter()
        .map(|&v| {
            let neg = chip.is_negative(v, bits);
            chip.range.gate().sub_mul(chip.ctx, v, neg, v)
        })
        .collect()
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
