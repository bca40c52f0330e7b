//! Max and average pooling over NCHW cells.

use super::{Cells, Chip};
use crate::field::Fr;
use cipherproof_model::graph::geometry::Window;
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::Existing;
use halo2_base::gates::{GateInstructions, RangeInstructions};

/// Calls `reduce` with the non-padding taps and their count for every window.
fn windows(
    x: &Cells,
    shape: &[usize],
    window: &Window,
    out_hw: [usize; 2],
    mut reduce: impl FnMut(Vec<AssignedValue<Fr>>, usize) -> AssignedValue<Fr>,
) -> Cells {
    let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3]);
    let mut out = Vec::new();
    for p in 0..planes {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..out_hw[0] {
            for ox in 0..out_hw[1] {
                let taps: Vec<_> = window
                    .taps(oy, ox, h, w)
                    .flatten()
                    .map(|(y, xx)| plane[y * w + xx])
                    .collect();
                out.push(reduce(taps, window.kernel_size()));
            }
        }
    }
    out
}

pub fn max_pool(
    chip: &mut Chip,
    x: &Cells,
    shape: &[usize],
    window: &Window,
    out_hw: [usize; 2],
    bits: u32,
) -> Cells {
    windows(x, shape, window, out_hw, |taps, _| {
        let mut best = match taps.first() {
            Some(&t) => t,
            None => return chip.ctx.load_zero(),
        };
        for &t in &taps[1..] {
            // best < t ⇔ (best − t) < 0; both are in range, so the difference fits bits + 1.
            let diff = chip.range.gate().sub(chip.ctx, best, t);
            let less = chip.is_negative(diff, bits + 1);
            best = chip.range.gate().select(chip.ctx, t, best, less);
        }
        best
    })
}

pub fn avg_pool(
    chip: &mut Chip,
    x: &Cells,
    shape: &[usize],
    window: &Window,
    out_hw: [usize; 2],
    include_pad: bool,
    bits: u32,
) -> Cells {
    windows(x, shape, window, out_hw, |taps, kernel| {
        let n = if include_pad {
            kernel
        } else {
            taps.len().max(1)
        };
        let sum = chip
            .range
            .gate()
            .sum(chip.ctx, taps.iter().map(|t| Existing(*t)));
        chip.round_div(sum, n as u64, bits + 64 - (n as u64).leading_zeros())
    })
}

pub fn global_avg_pool(chip: &mut Chip, x: &Cells, shape: &[usize], bits: u32) -> Cells {
    let hw = shape[2] * shape[3];
    x.chunks(hw)
        .map(|plane| {
            let sum = chip
                .range
                .gate()
                .sum(chip.ctx, plane.iter().map(|t| Existing(*t)));
            chip.round_div(sum, hw as u64, bits + 64 - (hw as u64).leading_zeros())
        })
        .collect()
}
