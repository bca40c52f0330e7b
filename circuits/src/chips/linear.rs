//! Dense and convolution layers: inner products of input cells with constant
//! weights (zero weights skipped), plus the bias, then the rescale and the
//! output range check.

use super::fixed_point::bits_for;
use super::{Cells, Chip};
use crate::dot::{DotJob, DotQueue};
use crate::field::Fr;
use crate::field::{fr_i64, fr_i128, i64_fr};
use cipherproof_model::graph::geometry::Window;
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::{Constant, Existing};
use halo2_base::gates::{GateInstructions, RangeInstructions};

/// `round_shift(Σ w_i·x_i + bias, shift)`, range-checked to `out_bits`: the sum
/// on the dot-product gate when the circuit has it (`chip.dots`, [`on_dot_gate`]),
/// else on halo2-base's gate.
fn neuron(
    chip: &mut Chip,
    terms: &[(AssignedValue<Fr>, i64)],
    bias: i64,
    shift: u32,
    in_bits: u32,
    out_bits: u32,
) -> AssignedValue<Fr> {
    let gate = chip.range.gate();
    let live: Vec<&(AssignedValue<Fr>, i64)> = terms.iter().filter(|(_, w)| *w != 0).collect();
    let bound: u128 = live
        .iter()
        .map(|(_, w)| u128::from(w.unsigned_abs()) << (in_bits - 1))
        .sum::<u128>()
        + u128::from(bias.unsigned_abs());
    debug_assert!(
        bits_for(bound) < 200,
        "accumulator bound far beyond the field"
    );
    if let Some(mut dots) = chip.dots.take() {
        let out = on_dot_gate(chip, &mut dots, &live, bias, bound, shift, out_bits);
        chip.dots = Some(dots);
        return out;
    }
    let acc = if live.is_empty() {
        chip.ctx.load_constant(fr_i64(bias))
    } else {
        let dot = gate.inner_product(
            chip.ctx,
            live.iter().map(|(x, _)| Existing(*x)),
            live.iter().map(|(_, w)| Constant(fr_i64(*w))),
        );
        gate.add(chip.ctx, dot, Constant(fr_i64(bias)))
    };
    chip.rescale(acc, shift, out_bits)
}

/// The neuron's sum as a dot-product gate job. The gate sums the offset sum
/// `2^e·v + offset` of [`Chip::offset_sum`] (its weights and bias scaled: circuit
/// constants), whose rescale is [`Chip::rescale_offset_witness`]'s, or, when
/// the job's last row has room for the remainder's limbs and `out`'s offset
/// form, [`Chip::rescale_folded`]'s on the gate itself (the sum tied to zero).
/// Where no offset sum fits `i64` (or `d = 0`) the gate sums `v` for
/// [`Chip::rescale_witness`].
fn on_dot_gate(
    chip: &mut Chip,
    dots: &mut DotQueue,
    live: &[&(AssignedValue<Fr>, i64)],
    bias: i64,
    bound: u128,
    shift: u32,
    out_bits: u32,
) -> AssignedValue<Fr> {
    let mut inputs: Vec<AssignedValue<Fr>> = live.iter().map(|(x, _)| *x).collect();
    let Some((e, offset)) = chip.offset_sum(shift, out_bits, bound) else {
        let sum = weighted_sum(bias, live.iter().map(|(x, w)| (x, *w)));
        let (out, sum_cell) = chip.rescale_witness(sum, shift, out_bits);
        dots.jobs.push(DotJob {
            inputs,
            weights: live.iter().map(|(_, w)| *w).collect(),
            bias,
            out: sum_cell,
        });
        return out;
    };
    let mut weights: Vec<i64> = live.iter().map(|(_, w)| w << e).collect();
    let bias = (bias << e) + offset;
    let sum = weighted_sum(bias, inputs.iter().zip(weights.iter().copied()));
    let (out, sum_cell) = if dots.room_for(inputs.len(), chip.rescale_limbs(shift) + 1) {
        let (out, terms) = chip.rescale_folded(sum, shift, out_bits);
        inputs.extend(terms.iter().map(|(c, _)| *c));
        weights.extend(terms.iter().map(|(_, w)| *w));
        (out, dots.zero(chip.ctx))
    } else {
        chip.rescale_offset_witness(sum, shift, out_bits)
    };
    dots.jobs.push(DotJob {
        inputs,
        weights,
        bias,
        out: sum_cell,
    });
    out
}

/// `bias + Σ w·x` over the cells' values. Summed in `i128` while every value is
/// an integer that keeps the sum far from overflow (always, in an honest
/// witness: the cells are range-checked, the planner bounds the sum), else in
/// the field; the two agree, the sum being an integer of |·| < 2^126 < p/2.
/// Two field multiplications per term were a fifth of lenet_5's witness.
fn weighted_sum<'a>(
    bias: i64,
    terms: impl Iterator<Item = (&'a AssignedValue<Fr>, i64)> + Clone,
) -> Fr {
    const LIMIT: i128 = 1 << 125;
    let mut sum = i128::from(bias);
    for (x, w) in terms.clone() {
        let Some(x) = i64_fr(x.value()).filter(|x| x.unsigned_abs() < 1 << 62) else {
            return field_sum(bias, terms);
        };
        sum += i128::from(x) * i128::from(w);
        if sum.unsigned_abs() >= LIMIT as u128 {
            return field_sum(bias, terms);
        }
    }
    fr_i128(sum)
}

/// [`weighted_sum`] in the field.
fn field_sum<'a>(bias: i64, terms: impl Iterator<Item = (&'a AssignedValue<Fr>, i64)>) -> Fr {
    terms.fold(fr_i64(bias), |acc, (x, w)| acc + fr_i64(w) * x.value())
}

/// Dense layer over `rows` input rows of `k` features; weight `[n, k]`.
#[allow(clippy::too_many_arguments)]
pub fn dense(
    chip: &mut Chip,
    x: &Cells,
    weight: &[i64],
    [n, k]: [usize; 2],
    bias: &[i64],
    shift: u32,
    in_bits: u32,
    out_bits: u32,
) -> Cells {
    let mut out = Vec::with_capacity(x.len() / k * n);
    for row in x.chunks(k) {
        for o in 0..n {
            let terms: Vec<_> = row
                .iter()
                .copied()
                .zip(weight[o * k..(o + 1) * k].iter().copied())
                .collect();
            out.push(neuron(chip, &terms, bias[o], shift, in_bits, out_bits));
        }
    }
    out
}

/// 2-D convolution of `[1, c, h, w]` cells; weight `[co, c, kh, kw]`; output `[1, co, oh, ow]`.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    chip: &mut Chip,
    x: &Cells,
    chw: [usize; 3],
    weight: &[i64],
    co: usize,
    bias: &[i64],
    window: &Window,
    out_hw: [usize; 2],
    shift: u32,
    in_bits: u32,
    out_bits: u32,
) -> Cells {
    let [c, h, w] = chw;
    let taps = window.kernel_size();
    let mut out = Vec::with_capacity(co * out_hw[0] * out_hw[1]);
    for o in 0..co {
        for oy in 0..out_hw[0] {
            for ox in 0..out_hw[1] {
                let mut terms = Vec::with_capacity(c * taps);
                for (t, tap) in window.taps(oy, ox, h, w).enumerate() {
                    if let Some((y, xx)) = tap {
                        for ci in 0..c {
                            terms.push((x[(ci * h + y) * w + xx], weight[(o * c + ci) * taps + t]));
                        }
                    }
                }
                out.push(neuron(chip, &terms, bias[o], shift, in_bits, out_bits));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_base::halo2_proofs::plonk::Assigned;

    fn cell(v: Fr) -> AssignedValue<Fr> {
        AssignedValue {
            value: Assigned::Trivial(v),
            cell: None,
        }
    }

    /// The integer sum equals the field's, and values that are no small
    /// integer (a forged witness) or a sum near overflow take the field's way.
    #[test]
    fn weighted_sum_equals_the_field_sum() {
        let cases: Vec<(i64, Vec<(Fr, i64)>)> = vec![
            (7, vec![]),
            (-3, vec![(fr_i64(5), 2), (fr_i64(-9), -4), (fr_i64(1 << 40), 1 << 20)]),
            (0, vec![(fr_i64(1 << 61), i64::MAX), (fr_i64(1 << 61), i64::MAX)]),
            (1, vec![(fr_i64(3), 2), (crate::field::pow2(100), 3)]),
            (0, vec![(fr_i64(i64::MIN), -1), (fr_i64(-(1 << 61)), i64::MIN)]),
        ];
        for (bias, terms) in cases {
            let cells: Vec<(AssignedValue<Fr>, i64)> = terms.iter().map(|&(v, w)| (cell(v), w)).collect();
            let fast = weighted_sum(bias, cells.iter().map(|(c, w)| (c, *w)));
            let slow = field_sum(bias, cells.iter().map(|(c, w)| (c, *w)));
            assert_eq!(fast, slow, "bias {bias}, terms {terms:?}");
        }
    }
}
