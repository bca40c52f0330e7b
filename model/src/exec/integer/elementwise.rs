//! Integer elementwise ops: broadcast binary arithmetic with rescale, LeakyRelu, table lookups.

use crate::error::{ModelError, Result};
use crate::graph::broadcast::broadcast_indices;
use crate::quant::fixed::round_shift;

/// `round_shift(f(a, b))` over the broadcast of `a` and `b` to `out_shape`;
/// `f` returns the exact result and its shift.
pub(super) fn binary(
    a: &[i64],
    a_shape: &[usize],
    b: &[i64],
    b_shape: &[usize],
    out_shape: &[usize],
    f: impl Fn(i64, i64) -> (i64, u32),
) -> Vec<i64> {
    let ia = broadcast_indices(a_shape, out_shape);
    let ib = broadcast_indices(b_shape, out_shape);
    ia.iter()
        .zip(&ib)
        .map(|(&i, &j)| {
            let (v, shift) = f(a[i], b[j]);
            round_shift(v, shift)
        })
        .collect()
}

pub(super) fn leaky_relu(x: &[i64], alpha: i64, alpha_scale: u32) -> Vec<i64> {
    x.iter()
        .map(|&v| {
            if v >= 0 {
                v
            } else {
                round_shift(v * alpha, alpha_scale)
            }
        })
        .collect()
}

/// `table[round_shift(x, in_shift) + offset]`, an error when the index leaves the table.
pub(super) fn lookup(
    x: &[i64],
    in_shift: u32,
    offset: i64,
    table: &[i64],
    node: &str,
    in_scale: i32,
) -> Result<Vec<i64>> {
    x.iter()
        .map(|&v| {
            let i = round_shift(v, in_shift) + offset;
            usize::try_from(i)
                .ok()
                .and_then(|i| table.get(i).copied())
                .ok_or_else(|| ModelError::Overflow {
                    node: node.to_string(),
                    value: i - offset,
                    bits: table.len().trailing_zeros(),
                    scale: in_scale - in_shift as i32,
                })
        })
        .collect()
}
