//! Window gathering over NCHW tensors: im2col for convolution and a per-window
//! reduction for pooling. Generic over the element type so the float and the
//! integer executors walk windows identically.

use crate::graph::geometry::Window;

/// Lays out the windows of one image `[c, h, w]` as a `[c·kh·kw, oh·ow]` matrix
/// (padding taps are `T::default()`), ready to multiply by a `[co, c·kh·kw]` weight.
pub fn im2col<T: Copy + Default>(
    image: &[T],
    chw: [usize; 3],
    window: &Window,
    out_hw: [usize; 2],
) -> Vec<T> {
    let [c, h, w] = chw;
    let positions = out_hw[0] * out_hw[1];
    let taps = window.kernel_size();
    let mut cols = vec![T::default(); c * taps * positions];
    for oy in 0..out_hw[0] {
        for ox in 0..out_hw[1] {
            let p = oy * out_hw[1] + ox;
            for (t, tap) in window.taps(oy, ox, h, w).enumerate() {
                if let Some((y, x)) = tap {
                    for ch in 0..c {
                        cols[(ch * taps + t) * positions + p] = image[(ch * h + y) * w + x];
                    }
                }
            }
        }
    }
    cols
}

/// Applies `reduce` to every window of every channel of `[n, c, h, w]` data.
/// `reduce` sees the taps (`None` for padding) and returns the output element.
pub fn reduce_windows<T: Copy, U>(
    data: &[T],
    shape: &[usize],
    window: &Window,
    out_hw: [usize; 2],
    mut reduce: impl FnMut(&[Option<T>]) -> U,
) -> Vec<U> {
    let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3]);
    let mut out = Vec::with_capacity(planes * out_hw[0] * out_hw[1]);
    let mut taps = Vec::with_capacity(window.kernel_size());
    for plane in data.chunks(h * w).take(planes) {
        for oy in 0..out_hw[0] {
            for ox in 0..out_hw[1] {
                taps.clear();
                taps.extend(
                    window
                        .taps(oy, ox, h, w)
                        .map(|t| t.map(|(y, x)| plane[y * w + x])),
                );
                out.push(reduce(&taps));
            }
        }
    }
    out
}

/// Sum over H×W of each `[n, c]` plane.
pub fn plane_sums<T: Copy + std::iter::Sum<T>>(data: &[T], shape: &[usize]) -> Vec<T> {
    let hw = shape[2] * shape[3];
    data.chunks(hw).map(|p| p.iter().copied().sum()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(k: usize, s: usize, p: usize) -> Window {
        Window {
            kernel: [k, k],
            strides: [s, s],
            pads: [p; 4],
            dilations: [1, 1],
        }
    }

    #[test]
    fn im2col_places_padding_as_zero() {
        // 1 channel 2x2 image, 3x3 kernel, pad 1 -> 2x2 outputs, 9 taps.
        let w = window(3, 1, 1);
        let cols = im2col(&[1, 2, 3, 4], [1, 2, 2], &w, [2, 2]);
        assert_eq!(cols.len(), 9 * 4);
        // Centre tap (t = 4) of each position is the pixel itself.
        assert_eq!(&cols[4 * 4..5 * 4], &[1, 2, 3, 4]);
        // Top-left tap of the first position is padding.
        assert_eq!(cols[0], 0);
    }

    #[test]
    fn reduce_windows_sees_padding() {
        let w = window(2, 2, 0);
        let out = reduce_windows(&[1, 2, 3, 4], &[1, 1, 2, 2], &w, [1, 1], |t| {
            t.iter().flatten().sum::<i32>()
        });
        assert_eq!(out, vec![10]);
    }
}
