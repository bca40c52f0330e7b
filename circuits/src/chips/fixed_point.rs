//! Range checks of signed values and the exact rounding divisions of the
//! fixed-point semantics (`round_shift`, `round_div`).

use super::Chip;
use crate::field::{Fr, fr_i64, i64_fr, inv_pow2, pow2};
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::{self, Constant, Existing, Witness};
use halo2_base::gates::{GateInstructions, RangeInstructions};
use halo2_base::utils::decompose_fe_to_u64_limbs;

impl Chip<'_> {
    /// Constrains `-2^(bits-1) ≤ x < 2^(bits-1)`.
    pub fn range_signed(&mut self, x: AssignedValue<Fr>, bits: u32) {
        self.signed_limbs(Existing(x), bits);
    }

    /// A new cell holding `value`, range-checked to `bits` signed bits.
    pub fn load_signed(&mut self, value: Fr, bits: u32) -> AssignedValue<Fr> {
        self.signed_limbs(Witness(value), bits).0
    }

    /// [`Self::range_signed`], returning `x + 2^(bits-1)` (in `[0, 2^bits)`).
    pub fn range_signed_offset(&mut self, x: AssignedValue<Fr>, bits: u32) -> AssignedValue<Fr> {
        self.signed_limbs(Existing(x), bits).1
    }

    /// `x` and `X = x + 2^(bits−1)` in one region: when `bits` is a whole number
    /// of lookup limbs, `| l0 | l1 | 2^lb | s1 | … | X | −2^(bits−1) | 1 | x |`
    /// (each limb looked up; `3n + 1` cells for `n` limbs, one fewer than adding
    /// the offset and range-checking `X` apart); otherwise halo2-base's check,
    /// whose last partial limb takes one more shifted lookup.
    fn signed_limbs(
        &mut self,
        x: QuantumCell<Fr>,
        bits: u32,
    ) -> (AssignedValue<Fr>, AssignedValue<Fr>) {
        let lb = self.range.lookup_bits() as u32;
        let half = pow2(bits - 1);
        if !bits.is_multiple_of(lb) {
            let x = match x {
                Existing(x) => x,
                other => self.ctx.load_witness(*other.value()),
            };
            let shifted = self.range.gate().add(self.ctx, x, Constant(half));
            self.range.range_check(self.ctx, shifted, bits as usize);
            return (x, shifted);
        }
        let first = self.ctx.advice.len();
        let limbs = limbs_of(*x.value() + half, bits / lb, lb);
        let (mut cells, mut gates) = limb_sum(&limbs, lb);
        gates.push(cells.len() as isize - 1);
        cells.extend([Constant(-half), Constant(Fr::one()), x]);
        self.ctx.assign_region(cells, gates);
        self.lookup_limbs(first, limbs.len());
        let n = self.ctx.advice.len();
        (self.ctx.get(n as isize - 1), self.ctx.get(n as isize - 4))
    }

    /// Looks up the limbs of a [`limb_sum`] region that starts at `first`.
    pub(crate) fn lookup_limbs(&mut self, first: usize, limbs: usize) {
        let lb = self.range.lookup_bits();
        for i in 0..limbs {
            let at = if i == 0 {
                first
            } else {
                first + 1 + 3 * (i - 1)
            };
            let cell = self.ctx.get(at as isize);
            self.range.range_check(self.ctx, cell, lb);
        }
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
    /// witnesses `out` (range-checked) and the remainder `r = v − out·2^d`, kept
    /// as `R = (r + 2^(d−1))·2^e` in whole lookup limbs (`e` pads `d` up to a
    /// multiple of the limb size), with `R + out·2^(d+e) − 2^e·v = 2^(d−1+e)`
    /// (laid out divided by `2^(d+e)`, continuing from `out`'s own limb region,
    /// so neither `R` nor its offset needs a cell). `v` is a small integer (a
    /// sum or product of range-checked cells), so every term is far below the
    /// field's size and the equation holds over the integers: `R` is a multiple
    /// of `2^e` with `R / 2^e = r + 2^(d−1) ∈ [0, 2^d)`, and `out` is exactly
    /// `floor((v + 2^(d−1)) / 2^d)`; an out-of-range result has no witness.
    /// Padding `R` instead of range-checking a `d`-bit remainder saves the
    /// last limb's extra shifted lookup.
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
        let lb = self.range.lookup_bits() as u32;
        let n_limbs = self.rescale_limbs(d) as u32;
        let e = n_limbs * lb - d;
        // R = (r + 2^(d−1))·2^e; a witness that is not a valid split gives some value, and fails.
        let limbs = limbs_of(fr_i64(r.saturating_add(half)) * pow2(e), n_limbs, lb);
        let out_fr = fr_i64(out);
        let (out, _) = self.signed_limbs(Witness(out_fr), out_bits);
        // | out | l0 | 2^-(d+e) | a1 | l1 | 2^(lb−d−e) | a2 | … | v | −2^-d | 1/2 |:
        // out + R·2^-(d+e) − v·2^-d = 1/2, from `out` where its region ended with it.
        // Whole limbs: `signed_limbs`'s region ends with `out` (the layout may not depend on
        // cell metadata, which the prover's witness-only pass does not keep).
        let chained = out_bits.is_multiple_of(lb);
        let mut cells = if chained {
            Vec::new()
        } else {
            vec![Existing(out)]
        };
        let first = self.ctx.advice.len() + cells.len();
        let inv = inv_pow2(d + e);
        let mut gates = Vec::with_capacity(limbs.len() + 1);
        let mut acc = out_fr;
        for (i, &l) in limbs.iter().enumerate() {
            gates.push(cells.len() as isize - 1);
            let coefficient = pow2(i as u32 * lb) * inv;
            acc += l * coefficient;
            cells.extend([Witness(l), Constant(coefficient), Witness(acc)]);
        }
        gates.push(cells.len() as isize - 1);
        cells.extend([
            v,
            Constant(-inv_pow2(d)),
            Constant(inv_pow2(1)),
        ]);
        self.ctx.assign_region(cells, gates);
        for i in 0..limbs.len() {
            let cell = self.ctx.get((first + 3 * i) as isize);
            self.range.range_check(self.ctx, cell, lb as usize);
        }
        let v = self.ctx.get(-3);
        (out, v)
    }

    /// How a dot-product gate sum feeds [`Self::rescale_offset_witness`]: the
    /// gate computes `V = 2^e·v + c` instead of `v` (weights and bias scaled by
    /// `2^e`, `c` added to the bias), with `e` the padding of `d` to whole limbs
    /// and `c = 2^(d−1+e) + 2^(d+e+out_bits−1)`. Returns `(e, c)`, or `None`
    /// for `d = 0` or where `V` could leave `i64` (the rescale of the plain
    /// sum then applies).
    pub fn offset_sum(&self, d: u32, out_bits: u32, sum_bound: u128) -> Option<(u32, i64)> {
        if d == 0 || out_bits == 0 {
            return None;
        }
        let lb = self.range.lookup_bits() as u32;
        let e = self.rescale_limbs(d) as u32 * lb - d;
        let c = (1u128 << (d - 1 + e)) + (1u128 << (d + e + out_bits - 1));
        let bound = (sum_bound << e) + c;
        (bits_for(bound) < 62).then_some((e, c as i64))
    }

    /// `round_shift(v, d)` range-checked to `out_bits`, from the offset sum
    /// `V = 2^e·v + 2^(d−1+e) + 2^(d+e+out_bits−1)` of [`Self::offset_sum`]
    /// (not yet in a cell: the dot-product gate's sum, tied to it later).
    /// `V = R + 2^(d+e)·X` with `R` in whole lookup limbs (`[0, 2^(d+e))`) and
    /// `X = out + 2^(out_bits−1)` the offset `out` of its signed range check
    /// (`[0, 2^out_bits)`): `| r0 | r1 | 2^lb | R | X | 2^(d+e) | V |` and
    /// `out`'s own region, `X` tied to it. Every term is a small integer (`V`
    /// is a sum of range-checked cells times circuit constants, below 2^62),
    /// so the equation holds over the integers: `X = floor(V / 2^(d+e))`, that
    /// is `out = floor((v + 2^(d−1)) / 2^d)`, and an out-of-range result has
    /// no witness. Against [`Self::rescale_witness`]: 14 cells instead of 16
    /// and integer cells only (no `2^-d` fractions, which the prover's
    /// commitments pay for as full-width scalars). Returns `out` and `V`'s cell.
    pub fn rescale_offset_witness(
        &mut self,
        sum: Fr,
        d: u32,
        out_bits: u32,
    ) -> (AssignedValue<Fr>, AssignedValue<Fr>) {
        let s = self.offset_split(&sum, d, out_bits);
        let first = self.ctx.advice.len();
        let (mut cells, mut gates) = limb_sum(&s.limbs, s.lb);
        gates.push(cells.len() as isize - 1);
        cells.extend([Witness(fr_i64(s.x)), Constant(pow2(s.shift)), Witness(sum)]);
        self.ctx.assign_region(cells, gates);
        self.lookup_limbs(first, s.limbs.len());
        let (x_cell, v_cell) = (self.ctx.get(-3), self.ctx.get(-1));
        let (out, shifted) = self.signed_limbs(Witness(fr_i64(s.out)), out_bits);
        self.ctx.constrain_equal(&shifted, &x_cell);
        (out, v_cell)
    }

    /// Lookup limbs of a `d`-bit rescale remainder (padded to whole limbs).
    pub fn rescale_limbs(&self, d: u32) -> usize {
        d.div_ceil(self.range.lookup_bits() as u32) as usize
    }

    /// [`Self::rescale_offset_witness`] with its equation `V − R − 2^(d+e)·X = 0`
    /// left to the dot-product gate that sums `V`: only `R`'s limbs (one cell
    /// each, looked up) and `out`'s signed range check are laid out here, 9
    /// cells instead of 14. Returns `out` and the terms the gate adds to the
    /// sum: `(limb_i, −2^(i·lb))` and `(X, −2^(d+e))`. The caller ties the
    /// gate's sum to zero; the argument is [`Self::rescale_offset_witness`]'s.
    pub fn rescale_folded(
        &mut self,
        sum: Fr,
        d: u32,
        out_bits: u32,
    ) -> (AssignedValue<Fr>, Vec<(AssignedValue<Fr>, i64)>) {
        let s = self.offset_split(&sum, d, out_bits);
        let mut terms = Vec::with_capacity(s.limbs.len() + 1);
        for (i, &l) in s.limbs.iter().enumerate() {
            let cell = self.ctx.load_witness(l);
            self.range.range_check(self.ctx, cell, s.lb as usize);
            terms.push((cell, -(1i64 << (i as u32 * s.lb))));
        }
        let (out, shifted) = self.signed_limbs(Witness(fr_i64(s.out)), out_bits);
        terms.push((shifted, -(1i64 << s.shift)));
        (out, terms)
    }

    /// The witness of `V = R + 2^(d+e)·X`: `R`'s limbs, `X` and `out = X − 2^(out_bits−1)`.
    /// `V ≥ 0` whenever `out` is in range; any other value gets a split that fails.
    fn offset_split(&self, sum: &Fr, d: u32, out_bits: u32) -> OffsetSplit {
        let lb = self.range.lookup_bits() as u32;
        let n_limbs = self.rescale_limbs(d) as u32;
        let shift = n_limbs * lb;
        let v = i64_fr(sum).unwrap_or(0);
        let x = v >> shift;
        OffsetSplit {
            lb,
            shift,
            limbs: limbs_of(fr_i64(v - (x << shift)), n_limbs, lb),
            x,
            out: x - (1i64 << (out_bits - 1)),
        }
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

/// [`Chip::offset_split`]'s result: limb size, `d + e`, `R`'s limbs, `X` and `out`.
struct OffsetSplit {
    lb: u32,
    shift: u32,
    limbs: Vec<Fr>,
    x: i64,
    out: i64,
}

/// The `n` limbs of `lb` bits of `value`'s low `n·lb` bits, lowest first.
pub(crate) fn limbs_of(value: Fr, n: u32, lb: u32) -> Vec<Fr> {
    decompose_fe_to_u64_limbs(&value, n as usize, lb as usize)
        .into_iter()
        .map(Fr::from)
        .collect()
}

/// The cells `| l0 | l1 | 2^lb | s1 | l2 | 2^2lb | s2 | … |` whose last cell is
/// `Σ lᵢ·2^(i·lb)`, and the gate offsets that tie them.
pub(crate) fn limb_sum(limbs: &[Fr], lb: u32) -> (Vec<QuantumCell<Fr>>, Vec<isize>) {
    let mut cells = vec![Witness(limbs[0])];
    let mut gates = Vec::with_capacity(limbs.len() + 2);
    let mut sum = limbs[0];
    for (i, &l) in limbs.iter().enumerate().skip(1) {
        gates.push(cells.len() as isize - 1);
        sum += l * pow2(i as u32 * lb);
        cells.extend([Witness(l), Constant(pow2(i as u32 * lb)), Witness(sum)]);
    }
    (cells, gates)
}

/// Bits needed for a magnitude bound (`|v| ≤ bound` ⇒ `|v| < 2^bits`).
pub fn bits_for(bound: u128) -> u32 {
    128 - bound.leading_zeros()
}
