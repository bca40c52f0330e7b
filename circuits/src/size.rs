//! A lower bound on a model circuit's advice cells, from the model alone.
//!
//! The planner sizes a circuit by laying it out (a mock assignment of every
//! cell), which costs memory in proportion to the circuit. A small file can
//! declare a huge one: a 3×3 convolution over a declared 2048×2048 input is
//! a few hundred bytes of ONNX and billions of cells. [`min_advice_cells`]
//! counts what any layout must hold: one cell per value every node outputs
//! (shape ops and picks only reorder cells),
//! one per multiply-accumulate with a non-zero weight on an in-image tap
//! (zero weights and padding taps are skipped by the chips, and the cheapest
//! sum, the dot-product gate, still takes `(W+1)/W` cells per term), and one
//! per pooled tap after a window's first. When that exceeds what `max_k` and
//! the column budget allow, the model is refused before any layout.

use crate::error::{CircuitError, Result};
use cipherproof_model::graph::geometry::Window;
use cipherproof_model::quant::{QOp, QuantModel};

/// Advice cells every layout of `model` needs at least.
pub fn min_advice_cells(model: &QuantModel) -> u128 {
    let mut cells = model.input().numel() as u128;
    for node in &model.nodes {
        let out = &model.values[node.output].shape;
        // Shape ops, picks and concatenations (of inputs at the output's scale) lay out
        // no cells of their own.
        if !matches!(
            node.op,
            QOp::Reshape | QOp::Transpose { .. } | QOp::Pick { .. } | QOp::Concat { .. }
        ) {
            cells += out.iter().product::<usize>() as u128;
        }
        let Some(input) = node.inputs.first().map(|&i| &model.values[i].shape) else {
            continue;
        };
        cells += match &node.op {
            QOp::Dense {
                weight,
                weight_shape,
                ..
            } => {
                let rows = input.iter().product::<usize>() / weight_shape[1].max(1);
                nonzero(weight) * rows as u128
            }
            QOp::Conv {
                weight,
                weight_shape,
                window,
                ..
            } => conv_terms(weight, weight_shape, window, input, out),
            QOp::MaxPool { window } | QOp::AvgPool { window, .. } => pool_terms(window, input, out),
            // Per index: a one-hot indicator over the axis and a selection by it.
            QOp::GatherElements { axis, .. } => {
                let dim = input.get(*axis).copied().unwrap_or(0) as u128;
                out.iter().product::<usize>() as u128 * dim * 2
            }
            // Per index: a one-hot indicator over the rows and an inner product per column,
            // or (large tables) a looked-up value per column.
            QOp::GatherConst { table, rows, .. } => {
                let width = table.len() / (*rows).max(1);
                let indices = input.iter().product::<usize>() as u128;
                let per_index = if crate::lut::gathers_by_lookup(*rows) { 1 } else { *rows as u128 };
                indices * per_index * (1 + width as u128)
            }
            _ => 0,
        };
    }
    cells
}

/// Refuses `model` when even [`min_advice_cells`] exceed `max_advice` columns of 2^`max_k` rows.
pub fn check_fits(model: &QuantModel, max_k: u32, max_advice: usize) -> Result<()> {
    let need = min_advice_cells(model);
    let columns = max_advice.max(1) as u128;
    if need <= columns << max_k {
        return Ok(());
    }
    let rows = need.div_ceil(columns);
    let needed = 128 - (rows - 1).leading_zeros();
    Err(CircuitError::TooLarge { needed, max: max_k })
}

fn nonzero(w: &[i64]) -> u128 {
    w.iter().filter(|&&v| v != 0).count() as u128
}

/// NCHW dims of a window op's input and the output's height and width, or `None` if not 4-D.
fn planes(input: &[usize], out: &[usize]) -> Option<([usize; 4], [usize; 2])> {
    match (input, out) {
        ([n, c, h, w], [_, _, oh, ow]) => Some(([*n, *c, *h, *w], [*oh, *ow])),
        _ => None,
    }
}

/// Multiply-accumulates with a non-zero weight on an in-image tap, over the batch.
fn conv_terms(
    weight: &[i64],
    shape: &[usize; 4],
    window: &Window,
    input: &[usize],
    out: &[usize],
) -> u128 {
    let Some(([n, _, h, w], [oh, ow])) = planes(input, out) else {
        return 0;
    };
    let [co, ci, kh, kw] = *shape;
    let mut total = 0u128;
    for ky in 0..kh {
        let rows = tap_inside(window, 0, ky, h, oh);
        for kx in 0..kw {
            let cols = tap_inside(window, 1, kx, w, ow);
            // Non-zero weights of this tap over every (out, in) channel pair.
            let live = (0..co * ci)
                .filter(|p| {
                    weight
                        .get(p * kh * kw + ky * kw + kx)
                        .is_some_and(|&v| v != 0)
                })
                .count() as u128;
            total += live * rows * cols;
        }
    }
    total * n as u128
}

/// Pooled taps after each window's first, over every plane: its comparisons or additions.
fn pool_terms(window: &Window, input: &[usize], out: &[usize]) -> u128 {
    let Some(([n, c, h, w], [oh, ow])) = planes(input, out) else {
        return 0;
    };
    let [kh, kw] = window.kernel;
    let rows: u128 = (0..kh).map(|ky| tap_inside(window, 0, ky, h, oh)).sum();
    let cols: u128 = (0..kw).map(|kx| tap_inside(window, 1, kx, w, ow)).sum();
    (rows * cols).saturating_sub((oh * ow) as u128) * (n * c) as u128
}

/// How many of `n` outputs along `axis` (0: height, 1: width) have kernel tap `k` inside `0..size`.
fn tap_inside(window: &Window, axis: usize, k: usize, size: usize, n: usize) -> u128 {
    let offset = k * window.dilations[axis];
    inside(offset, window.pads[axis], window.strides[axis], size, n)
}

/// How many of `n` outputs `o` have `o·stride + offset − pad` inside `0..size`.
fn inside(offset: usize, pad: usize, stride: usize, size: usize, n: usize) -> u128 {
    let s = stride.max(1) as i128;
    let first = pad as i128 - offset as i128; // o·s ≥ first
    let end = size as i128 + first; // and o·s < end
    let up = |v: i128| if v <= 0 { 0 } else { (v + s - 1) / s };
    let (lo, hi) = (up(first).min(n as i128), up(end).min(n as i128));
    (hi - lo).max(0) as u128
}

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn inside_counts_the_outputs_whose_tap_is_in_the_image() {
        // size 5, no pad, stride 1: tap offset 2 is inside for o = 0..=2 (3 outputs of n = 3).
        assert_eq!(inside(2, 0, 1, 5, 3), 3);
        // pad 1: offset 0 is outside for o = 0 only.
        assert_eq!(inside(0, 1, 1, 5, 5), 4);
        // stride 2, pad 1, size 4, n = 3: positions −1, 1, 3 for offset 0.
        assert_eq!(inside(0, 1, 2, 4, 3), 2);
        // Brute force against the definition.
        for (off, pad, s, size, n) in [(3, 2, 3, 7, 4), (0, 4, 1, 2, 9), (5, 0, 2, 3, 2)] {
            let want = (0..n)
                .filter(|&o| (0..size as i64).contains(&((o * s + off) as i64 - pad as i64)))
                .count() as u128;
            assert_eq!(
                inside(off, pad, s, size, n),
                want,
                "{off} {pad} {s} {size} {n}"
            );
        }
    }
}
