//! Broadcast binary arithmetic with rescale, and constant adds/multiplies.

use super::fixed_point::bits_for;
use super::{Cells, Chip};
use crate::field::{fr_i64, pow2};
use cipherproof_model::graph::broadcast::broadcast_indices;
use halo2_base::QuantumCell::Constant;
use halo2_base::gates::{GateInstructions, RangeInstructions};

/// Operands of a binary op after broadcasting to the output shape.
#[allow(missing_debug_implementations)]
pub struct Broadcast<'c> {
    pub a: &'c Cells,
    pub a_shape: &'c [usize],
    pub b: &'c Cells,
    pub b_shape: &'c [usize],
    pub out_shape: &'c [usize],
}

/// `round_shift((a << align[0]) ± (b << align[1]), shift)`, range-checked.
pub fn add_sub(
    chip: &mut Chip,
    ops: &Broadcast,
    align: [u32; 2],
    subtract: bool,
    shift: u32,
    bits: u32,
) -> Cells {
    let (ia, ib) = (
        broadcast_indices(ops.a_shape, ops.out_shape),
        broadcast_indices(ops.b_shape, ops.out_shape),
    );
    let bound = (1u128 << (bits - 1 + align[0])) + (1u128 << (bits - 1 + align[1]));
    let sign = if subtract {
        -pow2(align[1])
    } else {
        pow2(align[1])
    };
    ia.iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let gate = chip.range.gate();
            let a = gate.mul(chip.ctx, ops.a[i], Constant(pow2(align[0])));
            let sum = gate.mul_add(chip.ctx, ops.b[j], Constant(sign), a);
            debug_assert!(bits_for(bound) < 200);
            chip.rescale(sum, shift, bits)
        })
        .collect()
}

/// `round_shift(a · b, shift)`, range-checked.
pub fn mul(chip: &mut Chip, ops: &Broadcast, shift: u32, bits: u32) -> Cells {
    let (ia, ib) = (
        broadcast_indices(ops.a_shape, ops.out_shape),
        broadcast_indices(ops.b_shape, ops.out_shape),
    );
    ia.iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let p = chip.range.gate().mul(chip.ctx, ops.a[i], ops.b[j]);
            chip.rescale(p, shift, bits)
        })
        .collect()
}

/// `round_shift(x + c, shift)` or `round_shift(x · c, shift)` with a broadcast constant, range-checked.
#[allow(clippy::too_many_arguments)]
pub fn with_constant(
    chip: &mut Chip,
    x: &Cells,
    x_shape: &[usize],
    c: &[i64],
    c_shape: &[usize],
    multiply: bool,
    shift: u32,
    bits: u32,
) -> Cells {
    let ic = broadcast_indices(c_shape, x_shape);
    x.iter()
        .zip(&ic)
        .map(|(&v, &j)| {
            let k = c[j];
            let gate = chip.range.gate();
            let (t, bound) = if multiply {
                (
                    gate.mul(chip.ctx, v, Constant(fr_i64(k))),
                    u128::from(k.unsigned_abs()) << (bits - 1),
                )
            } else {
                (
                    gate.add(chip.ctx, v, Constant(fr_i64(k))),
                    (1u128 << (bits - 1)) + u128::from(k.unsigned_abs()),
                )
            };
            debug_assert!(bits_for(bound) < 200);
            chip.rescale(t, shift, bits)
        })
        .collect()
}
