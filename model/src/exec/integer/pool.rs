//! Integer pooling: max, and averages as rounded divisions by the window size.

use crate::exec::window::{plane_sums, reduce_windows};
use crate::graph::geometry::Window;
use crate::quant::fixed::round_div;

pub(super) fn max_pool(
    x: &[i64],
    shape: &[usize],
    out_shape: &[usize],
    window: &Window,
) -> Vec<i64> {
    reduce_windows(x, shape, window, [out_shape[2], out_shape[3]], |taps| {
        taps.iter().flatten().copied().max().unwrap_or(0)
    })
}

pub(super) fn avg_pool(
    x: &[i64],
    shape: &[usize],
    out_shape: &[usize],
    window: &Window,
    include_pad: bool,
) -> Vec<i64> {
    reduce_windows(x, shape, window, [out_shape[2], out_shape[3]], |taps| {
        let n = if include_pad {
            taps.len()
        } else {
            taps.iter().flatten().count()
        };
        round_div(taps.iter().flatten().sum(), n.max(1) as i64)
    })
}

pub(super) fn global_avg_pool(x: &[i64], shape: &[usize]) -> Vec<i64> {
    let hw = (shape[2] * shape[3]) as i64;
    plane_sums(x, shape)
        .into_iter()
        .map(|s| round_div(s, hw))
        .collect()
}
