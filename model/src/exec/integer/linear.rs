//! Dense and convolution layers: integer matmuls on candle (f64, exact below 2^53),
//! then bias and rescale in i64.

use crate::error::{ModelError, Result};
use crate::exec::window::im2col;
use crate::graph::geometry::Window;
use crate::quant::fixed::round_shift;
use crate::quant::model::{QNode, QOp};
use candle_core::{Device, Tensor};

fn to_f64(v: &[i64]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The weight of a Dense (`[in, out]`, transposed) or Conv (`[co, ci·kh·kw]`) node as f64.
pub(super) fn prepare(node: &QNode) -> Result<Option<Tensor>> {
    let t = match &node.op {
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
        node: node.name.clone(),
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
