//! ReLU and LeakyReLU on range-checked signed cells.

use super::fixed_point::{limb_sum, limbs_of};
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

/// `max(x, 0)` of cells already range-checked to `bits` (signed; every op
/// range-checks its outputs): witnesses `y = max(x, 0)` and `z = max(−x, 0)`
/// with `x + z = y`, `y·z = 0`, and `w = y + z` (that is `|x|`) in
/// `[0, 2^bits)`. The split is unique: if `z = 0` then `w = x`, which is in range
/// only for `x ≥ 0`, and `y = x`; if `y = 0` then `w = −x`, in range only for
/// `x ≤ 0`. When `bits` is a whole number of lookup limbs, `w` is built from its
/// limbs in the same region: 13 cells and two lookups at 16 bits, against 19
/// cells and five lookups for range-checking `y` and `z` apart (and ~25 cells
/// for a sign bit by comparison).
pub fn relu(chip: &mut Chip, x: &Cells, bits: u32) -> Cells {
    x.iter().map(|&v| chip.relu_split(v, bits)).collect()
}

impl Chip<'_> {
    fn relu_split(&mut self, x: AssignedValue<Fr>, bits: u32) -> AssignedValue<Fr> {
        let xi = i64_fr(x.value()).unwrap_or(0);
        let (y, z) = (fr_i64(xi.max(0)), fr_i64(xi.saturating_neg().max(0)));
        let lb = self.range.lookup_bits() as u32;
        if !bits.is_multiple_of(lb) {
            // | x | z | 1 | y |  x + z·1 = y
            self.ctx.assign_region(
                [Existing(x), Witness(z), Constant(Fr::one()), Witness(y)],
                [0],
            );
            let (z, y) = (self.ctx.get(-3), self.ctx.get(-1));
            // | y | z | 1 | w |  y + z·1 = w
            self.ctx.assign_region(
                [
                    Existing(z),
                    Constant(Fr::one()),
                    Witness(*y.value() + z.value()),
                ],
                [-1],
            );
            let w = self.ctx.get(-1);
            // | w | y | z | w |  w + y·z = w
            self.ctx
                .assign_region([Existing(y), Existing(z), Existing(w)], [-1]);
            self.range.range_check(self.ctx, w, bits as usize);
            return y;
        }
        // w = y + z in whole limbs, then
        // | … | w | z | −1 | y | z | −1 | x | y | z | x |:  w − z = y,  y − z = x,  x + y·z = x.
        let first = self.ctx.advice.len();
        let limbs = limbs_of(y + z, bits / lb, lb);
        let (mut cells, mut gates) = limb_sum(&limbs, lb);
        let w_at = cells.len() as isize - 1;
        gates.extend([w_at, w_at + 3, w_at + 6]);
        let minus_one = Constant(-Fr::one());
        cells.extend([
            Witness(z),
            minus_one,
            Witness(y),
            Witness(z),
            minus_one,
            Existing(x),
            Witness(y),
            Witness(z),
            Existing(x),
        ]);
        self.ctx.assign_region(cells, gates);
        self.lookup_limbs(first, limbs.len());
        let at = |i: isize| first as isize + w_at + i;
        let (z1, y1) = (self.ctx.get(at(1)), self.ctx.get(at(3)));
        for (a, b) in [(z1, at(4)), (z1, at(8)), (y1, at(7))] {
            let b = self.ctx.get(b);
            self.ctx.constrain_equal(&a, &b);
        }
        y1
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
