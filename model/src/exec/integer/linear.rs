//! Dense and convolution layers: integer matmuls on candle (f64, exact below 2^53),
//! then bias and rescale in i64.

use crate::error::{ModelError, Result};
use crate::exec::window::im2col;
use crate::graph::geometry::Window;
use crate::quant::fixed::round_shift;
use crate::quant::model::QOp;
use candle_core::{Device, Tensor};

fn to_f64(v: &[i64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The weight of a Dense (`[in, out]`, transposed) or Conv (`[co, ci·kh·kw]`) node as f64.
pub(super) fn prepare(name: &str, op: &QOp) -> Result<Option<Tensor>> {
    let t = match op {
        QOp::Dense {
            weight,
            weight_shape: [o, i],
            ..
        } => Tensor::from_vec(to_f64(weight), (*o, *i), &Device::Cpu)
            .and_then(|t| t.t()?.contiguous()),
        QOp::Conv {
            weight,
            weight_shape,
            ..
        } => {
            let co = weight_shape[0];
            Tensor::from_vec(to_f64(weight), (co, weight.len() / co), &Device::Cpu)
        }
        _ => return Ok(None),
    };
    t.map(Some).map_err(|source| ModelError::Execution {
        node: name.to_string(),
        source,
    })
}

/// Exact f64 → i64 (values are integers below 2^53 by construction).
fn to_i64(t: &Tensor) -> candle_core::Result<Vec<i64>> {
    Ok(t.flatten_all()?
        .to_vec1::<f64>()?
        .into_iter()
        .map(|v| v as i64)
        .collect())
}

/// Multiply-accumulates up to which a dense layer runs as plain i64 loops:
/// below this, setting up a candle matmul (tensor copies, thread-count probe)
/// costs more than the arithmetic.
const SMALL_DENSE_MACS: usize = 1 << 16;

pub(super) fn is_small(x_len: usize, [o, i]: &[usize; 2]) -> bool {
    *i > 0 && x_len.is_multiple_of(*i) && (x_len / i) * o * i <= SMALL_DENSE_MACS
}

/// [`dense`] in i64 with the `[out, in]` weights as stored: the same integers
/// (quantization bounds every accumulator below 2^53, so neither path rounds or overflows).
pub(super) fn dense_small(
    x: &[i64],
    w: &[i64],
    [o, i]: [usize; 2],
    bias: &[i64],
    shift: u32,
) -> Vec<i64> {
    x.chunks_exact(i)
        .flat_map(|row| {
            w.chunks_exact(i).zip(bias).take(o).map(move |(wr, &b)| {
                let acc: i64 = row.iter().zip(wr).map(|(a, c)| a * c).sum();
                round_shift(acc + b, shift)
            })
        })
        .collect()
}

/// `round_shift(x · Wᵀ + b, shift)` row by row; `w` is `[in, out]`.
pub(super) fn dense(
    x: &[i64],
    w: &Tensor,
    bias: &[i64],
    shift: u32,
) -> candle_core::Result<Vec<i64>> {
    let (k, n) = w.dims2()?;
    let rows = x.len() / k;
    let acc = to_i64(&Tensor::from_vec(to_f64(x), (rows, k), &Device::Cpu)?.matmul(w)?)?;
    Ok(acc
        .iter()
        .enumerate()
        .map(|(i, &a)| round_shift(a + bias[i % n], shift))
        .collect())
}

/// Convolution as `W · im2col(x)` per image, then bias and rescale.
pub(super) fn conv(
    x: &[i64],
    x_shape: &[usize],
    out_shape: &[usize],
    w: &Tensor,
    bias: &[i64],
    window: &Window,
    shift: u32,
) -> candle_core::Result<Vec<i64>> {
    let chw = [x_shape[1], x_shape[2], x_shape[3]];
    let out_hw = [out_shape[2], out_shape[3]];
    let positions = out_hw[0] * out_hw[1];
    let mut out = Vec::with_capacity(out_shape.iter().product());
    for image in x.chunks(chw.iter().product()) {
        let cols = Tensor::from_vec(
            to_f64(&im2col(image, chw, window, out_hw)),
            (w.dim(1)?, positions),
            &Device::Cpu,
        )?;
        let acc = to_i64(&w.matmul(&cols)?)?;
        out.extend(
            acc.iter()
                .enumerate()
                .map(|(i, &a)| round_shift(a + bias[i / positions], shift)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::quant::model::QNode;

    /// The i64 fast path and the candle path give the same integers.
    #[test]
    fn small_dense_equals_the_candle_matmul() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % (2 * m as u64 + 1)) as i64 - m
        };
        for (rows, i, o, shift) in [(1, 64, 32, 7), (3, 30, 2, 0), (2, 5, 9, 12)] {
            let weight: Vec<i64> = (0..i * o).map(|_| next(511)).collect();
            let bias: Vec<i64> = (0..o).map(|_| next(1 << 20)).collect();
            let x: Vec<i64> = (0..rows * i).map(|_| next(1 << 15)).collect();
            let node = QNode {
                name: "d".into(),
                op: QOp::Dense {
                    weight: weight.clone(),
                    weight_shape: [o, i],
                    bias: bias.clone(),
                    weight_scale: 0,
                    shift,
                },
                inputs: vec![0],
                output: 1,
            };
            let w = prepare(&node.name, &node.op).unwrap().unwrap();
            assert!(is_small(x.len(), &[o, i]));
            assert_eq!(
                dense_small(&x, &weight, [o, i], &bias, shift),
                dense(&x, &w, &bias, shift).unwrap()
            );
        }
        assert!(!is_small(1 << 12, &[1 << 12, 1 << 12]));
    }
}
