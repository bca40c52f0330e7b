//! Range checks of signed values and the exact rounding divisions of the
//! fixed-point semantics (`round_shift`, `round_div`).

use super::Chip;
use crate::field::{Fr, fr_i64, i64_fr, pow2};
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::{self, Constant, Existing, Witness};
use halo2_base::gates::{GateInstructions, RangeInstructions};

impl Chip<'_> {
    /// Constrains `-2^(bits-1) ≤ x < 2^(bits-1)`.
    pub fn range_signed(&mut self, x: AssignedValue<Fr>, bits: u32) {
        self.range_signed_offset(x, bits);
    }

    /// [`Self::range_signed`], returning `x + 2^(bits-1)` (in `[0, 2^bits)`).
    pub fn range_signed_offset(&mut self, x: AssignedValue<Fr>, bits: u32) -> AssignedValue<Fr> {
        let shifted = self.range.gate().add(self.ctx, x, Constant(pow2(bits - 1)));
        self.range.range_check(self.ctx, shifted, bits as usize);
        shifted
    }

    /// `round_shift(v, d) = floor((v + 2^(d-1)) / 2^d)` for `|v| < 2^v_bits`.
    pub fn round_shift(&mut self, v: AssignedValue<Fr>, d: u32, v_bits: u32) -> AssignedValue<Fr> {
        if d == 0 {
            return v;
        }
        // a = v + 2^(d-1) + 2^vb is non-negative and below 2^(vb+1); 2^vb is a multiple of 2^d.
        let vb = v_bits.max(d) + 1;
        let gate = self.range.gate();
        let a = gate.add(self.ctx, v, Constant(pow2(d - 1) + pow2(vb)));
        let (q, _r) = self
            .range
            .div_mod(self.ctx, a, 1u64 << d, (vb + 1) as usize);
        gate.sub(self.ctx, q, Constant(pow2(vb - d)))
    }

    /// `round_shift(v, d)` range-checked to `out_bits` (signed), in one step:
    /// witnesses `out` and `r` with `r + out·2^d = v` (one gate row),
    /// `−2^(d−1) ≤ r < 2^(d−1)` and `out` in range. Both bounds are range checks,
    /// so the equation holds over the integers (|v| ≪ p) and `out` is exactly
    /// `floor((v + 2^(d−1)) / 2^d)`; an out-of-range result has no witness.
    pub fn rescale(&mut self, v: AssignedValue<Fr>, d: u32, out_bits: u32) -> AssignedValue<Fr> {
        self.rescale_cell(Existing(v), d, out_bits).0
    }

    /// [`Self::rescale`] of a value not yet in a cell (the sum of a dot-product
    /// gate row, tied to it later): returns the result and `v`'s cell.
    pub fn rescale_witness(
        &mut self,
        v: Fr,
        d: u32,
        out_bits: u32,
    ) -> (AssignedValue<Fr>, AssignedValue<Fr>) {
        self.rescale_cell(Witness(v), d, out_bits)
    }

    fn rescale_cell(
        &mut self,
        v: QuantumCell<Fr>,
        d: u32,
        out_bits: u32,
    ) -> (AssignedValue<Fr>, AssignedValue<Fr>) {
        if d == 0 {
            let v = match v {
                Existing(v) => v,
                other => self.ctx.load_witness(*other.value()),
            };
            self.range_signed(v, out_bits);
            return (v, v);
        }
        let vi = i64_fr(v.value()).unwrap_or(0);
        let half = 1i64 << (d - 1);
        let out = vi.saturating_add(half) >> d;
        let r = vi.wrapping_sub(out << d);
        self.ctx.assign_region(
            [
                Witness(fr_i64(r)),
                Witness(fr_i64(out)),
                Constant(pow2(d)),
                v,
            ],
            [0],
        );
        let (r, out, v) = (self.ctx.get(-4), self.ctx.get(-3), self.ctx.get(-1));
        self.range_signed(r, d);
        self.range_signed(out, out_bits);
        (out, v)
    }

    /// `round_div(v, n) = floor((2v + n) / 2n)` for `|v| < 2^v_bits`, `n > 0`.
    pub fn round_div(&mut self, v: AssignedValue<Fr>, n: u64, v_bits: u32) -> AssignedValue<Fr> {
        if n == 1 {
            return v;
        }
        // a = 2v + n + 2n·2^vb ≥ 0; floor(a / 2n) = round_div(v, n) + 2^vb.
        let vb = v_bits + 1;
        let gate = self.range.gate();
        let offset = Fr::from(n) + Fr::from(2 * n) * pow2(vb);
        let a = gate.mul_add(self.ctx, v, Constant(Fr::from(2u64)), Constant(offset));
        let a_bits = vb + 2 + (64 - (2 * n).leading_zeros());
        let (q, _r) = self.range.div_mod(self.ctx, a, 2 * n, a_bits as usize);
        gate.sub(self.ctx, q, Constant(pow2(vb)))
    }
}

/// Bits needed for a magnitude bound (`|v| ≤ bound` ⇒ `|v| < 2^bits`).
pub fn bits_for(bound: u128) -> u32 {
    128 - bound.leading_zeros()
}
