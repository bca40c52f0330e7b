//! Builders for weighted layers: Gemm, MatMul, Conv, and BatchNormalization
//! (folded into the layer before it when that layer is its only producer).

use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::broadcast::transpose;
use crate::graph::constant::{Const, Weights};
use crate::graph::geometry::Window;
use crate::graph::{Op, ValueId};

pub(crate) fn gemm(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let mut x = ctx.value(ops, 0)?;
    let w = ctx
        .constant(ops, 1)?
        .ok_or_else(|| ctx.invalid("Gemm needs a weight matrix B"))?;
    let alpha = ctx.attrs.float("alpha", 1.0)?;
    let beta = ctx.attrs.float("beta", 1.0)?;
    let xs = b.shape(x).to_vec();
    if xs.len() != 2 || w.shape.len() != 2 {
        return Err(ctx.invalid(format!(
            "Gemm needs 2-D operands, got {xs:?} and {:?}",
            w.shape
        )));
    }
    let mut rows = xs[0];
    if ctx.attrs.int("transA", 0)? != 0 {
        // Aᵀ of a [K, 1] column is the [1, K] row with the same data.
        if xs[1] != 1 {
            return Err(ctx.unsupported("transA=1 on a runtime input with more than one row"));
        }
        x = b.push(
            &format!("{}/transpose_a", ctx.label),
            Op::Reshape,
            vec![x],
            vec![1, xs[0]],
        );
        rows = 1;
    }
    let k = b.shape(x)[1];
    let (n, weight) = if ctx.attrs.int("transB", 0)? != 0 {
        (
            w.shape[0],
            dense_weight(w.to_f32(), w.shape[0], w.shape[1], false),
        )
    } else {
        (
            w.shape[1],
            dense_weight(w.to_f32(), w.shape[0], w.shape[1], true),
        )
    };
    if weight.shape[1] != k {
        return Err(ctx.invalid(format!(
            "Gemm input has {k} features but B expects {}",
            weight.shape[1]
        )));
    }
    let mut weight = weight;
    weight.data.iter_mut().for_each(|v| *v *= alpha);
    let bias = match ctx.constant(ops, 2)? {
        None => vec![0.0; n],
        Some(c) => bias_vector(ctx, c, n)?
            .into_iter()
            .map(|v| v * beta)
            .collect(),
    };
    Ok(b.push(
        ctx.label,
        Op::Dense { weight, bias },
        vec![x],
        vec![rows, n],
    ))
}

pub(crate) fn matmul(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    if matches!(ops.first(), Some(Some(Operand::Const(_)))) {
        return Err(ctx.unsupported("a constant left operand (weights must be the right operand)"));
    }
    let x = ctx.value(ops, 0)?;
    let w = ctx
        .constant(ops, 1)?
        .ok_or_else(|| ctx.unsupported("MatMul of two runtime tensors"))?;
    let xs = b.shape(x).to_vec();
    if w.shape.len() != 2 || xs.is_empty() {
        return Err(ctx.unsupported(format!(
            "weights of shape {:?} (only 2-D [K, N] weights)",
            w.shape
        )));
    }
    let (k, n) = (w.shape[0], w.shape[1]);
    if xs[xs.len() - 1] != k {
        return Err(ctx.invalid(format!(
            "MatMul of {xs:?} by {:?}: inner dimensions differ",
            w.shape
        )));
    }
    let weight = dense_weight(w.to_f32(), k, n, true);
    let mut out = xs;
    *out.last_mut().unwrap_or(&mut 0) = n;
    Ok(b.push(
        ctx.label,
        Op::Dense {
            weight,
            bias: vec![0.0; n],
        },
        vec![x],
        out,
    ))
}

/// A dense weight `[out, in]`, transposing a `[in, out]` matrix when `transposed`.
fn dense_weight(data: Vec<f32>, rows: usize, cols: usize, transposed: bool) -> Weights {
    if transposed {
        Weights::new(vec![cols, rows], transpose(&data, &[rows, cols], &[1, 0]))
    } else {
        Weights::new(vec![rows, cols], data)
    }
}

/// A bias broadcast to `n` values (accepts `[n]`, `[1, n]` and scalars).
pub(crate) fn bias_vector(ctx: &Ctx, c: &Const, n: usize) -> Result<Vec<f32>> {
    let v = c.to_f32();
    match v.len() {
        1 => Ok(vec![v[0]; n]),
        len if len == n && c.shape.iter().rev().skip(1).all(|&d| d == 1) => Ok(v),
        _ => Err(ctx.unsupported(format!("a bias of shape {:?} for {n} outputs", c.shape))),
    }
}

pub(crate) fn conv(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let w = ctx
        .constant(ops, 1)?
        .ok_or_else(|| ctx.unsupported("Conv with runtime weights"))?;
    let xs = b.shape(x).to_vec();
    if xs.len() != 4 || w.shape.len() != 4 {
        return Err(ctx.unsupported(format!(
            "input {xs:?} / weight {:?}: only 2-D convolution (NCHW)",
            w.shape
        )));
    }
    let group = ctx.attrs.int("group", 1)?;
    if group != 1 {
        return Err(ctx.unsupported(format!("group={group} (only group=1)")));
    }
    if w.shape[1] != xs[1] {
        return Err(ctx.invalid(format!(
            "weight expects {} input channels, input has {}",
            w.shape[1], xs[1]
        )));
    }
    let kernel = [w.shape[2], w.shape[3]];
    if let Some(ks) = ctx.attrs.usizes("kernel_shape")?
        && ks != kernel
    {
        return Err(ctx.invalid(format!(
            "kernel_shape {ks:?} disagrees with weight shape {:?}",
            w.shape
        )));
    }
    let window = window_from_attrs(ctx, kernel, [xs[2], xs[3]], true)?;
    let [oh, ow] = window
        .output_hw(xs[2], xs[3])
        .ok_or_else(|| ctx.invalid(format!("kernel {kernel:?} does not fit input {xs:?}")))?;
    let co = w.shape[0];
    let bias = match ctx.constant(ops, 2)? {
        None => vec![0.0; co],
        Some(c) => bias_vector(ctx, c, co)?,
    };
    let op = Op::Conv {
        weight: Weights::from_const(w),
        bias,
        window,
    };
    Ok(b.push(ctx.label, op, vec![x], vec![xs[0], co, oh, ow]))
}

/// The largest kernel size, stride, dilation or padding of a window op (2^20): far
/// beyond real models, and small enough that no window arithmetic overflows.
const MAX_WINDOW: usize = 1 << 20;

/// Strides, pads (explicit or `auto_pad`) and dilations of a 2-D window op.
pub(crate) fn window_from_attrs(
    ctx: &Ctx,
    kernel: [usize; 2],
    hw: [usize; 2],
    allow_dilation: bool,
) -> Result<Window> {
    if kernel.iter().any(|&k| k == 0 || k > MAX_WINDOW) {
        return Err(ctx.invalid(format!(
            "kernel {kernel:?} must be two values from 1 to {MAX_WINDOW}"
        )));
    }
    let pair = |name: &str| -> Result<[usize; 2]> {
        match ctx.attrs.usizes(name)? {
            None => Ok([1, 1]),
            Some(v) if v.len() == 2 && v.iter().all(|&s| s > 0 && s <= MAX_WINDOW) => {
                Ok([v[0], v[1]])
            }
            Some(v) => Err(ctx.invalid(format!(
                "{name} {v:?} must be two values from 1 to {MAX_WINDOW}"
            ))),
        }
    };
    let strides = pair("strides")?;
    let dilations = pair("dilations")?;
    if !allow_dilation && dilations != [1, 1] {
        return Err(ctx.unsupported(format!("dilations {dilations:?}")));
    }
    let auto_pad = ctx
        .attrs
        .string("auto_pad")?
        .unwrap_or_else(|| "NOTSET".into());
    let pads = match auto_pad.as_str() {
        "NOTSET" => match ctx.attrs.usizes("pads")? {
            None => [0; 4],
            Some(p) if p.len() == 4 && p.iter().all(|&v| v <= MAX_WINDOW) => {
                [p[0], p[1], p[2], p[3]]
            }
            Some(p) => {
                return Err(ctx.invalid(format!(
                    "pads {p:?} must be 4 values of at most {MAX_WINDOW}"
                )));
            }
        },
        "VALID" => [0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let total = |i: usize| {
                let out = hw[i].div_ceil(strides[i]);
                (out.saturating_sub(1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1)
                    .saturating_sub(hw[i])
            };
            let (th, tw) = (total(0), total(1));
            if auto_pad == "SAME_UPPER" {
                [th / 2, tw / 2, th - th / 2, tw - tw / 2]
            } else {
                [th - th / 2, tw - tw / 2, th / 2, tw / 2]
            }
        }
        other => return Err(ctx.invalid(format!("unknown auto_pad '{other}'"))),
    };
    Ok(Window {
        kernel,
        strides,
        pads,
        dilations,
    })
}

pub(crate) fn batch_norm(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let param = |i: usize, what: &str| -> Result<Vec<f32>> {
        Ok(ctx
            .constant(ops, i)?
            .ok_or_else(|| ctx.invalid(format!("missing {what}")))?
            .to_f32())
    };
    let (gamma, beta, mean, var) = (
        param(1, "scale")?,
        param(2, "bias")?,
        param(3, "mean")?,
        param(4, "variance")?,
    );
    let eps = ctx.attrs.float("epsilon", 1e-5)?;
    let xs = b.shape(x).to_vec();
    let c = *xs
        .get(1)
        .ok_or_else(|| ctx.invalid(format!("input {xs:?} has no channel axis")))?;
    if [&gamma, &beta, &mean, &var].iter().any(|v| v.len() != c) {
        return Err(ctx.invalid(format!("parameters must have {c} values (one per channel)")));
    }
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((bb, m), s)| bb - m * s)
        .collect();
    if let Some(node) = b.sole_producer(x) {
        let rank2 = xs.len() == 2;
        match &mut node.op {
            Op::Conv { weight, bias, .. } => {
                fold_per_output(weight, bias, &scale, &shift);
                return Ok(x);
            }
            Op::Dense { weight, bias } if rank2 => {
                fold_per_output(weight, bias, &scale, &shift);
                return Ok(x);
            }
            _ => {}
        }
    }
    // No layer to fold into: a per-channel affine map.
    let mut cshape = vec![1; xs.len() - 1];
    cshape[0] = c;
    let mul = b.push(
        &format!("{}/scale", ctx.label),
        Op::MulConst {
            c: Weights::new(cshape.clone(), scale),
        },
        vec![x],
        xs.clone(),
    );
    Ok(b.push(
        ctx.label,
        Op::AddConst {
            c: Weights::new(cshape, shift),
        },
        vec![mul],
        xs,
    ))
}

/// Scales each output row of `weight` and its bias (BatchNormalization folding).
pub(crate) fn fold_per_output(
    weight: &mut Weights,
    bias: &mut [f32],
    scale: &[f32],
    shift: &[f32],
) {
    let per_out = weight.data.len() / scale.len();
    for (o, chunk) in weight.data.chunks_mut(per_out).enumerate() {
        chunk.iter_mut().for_each(|w| *w *= scale[o]);
        bias[o] = bias[o] * scale[o] + shift[o];
    }
}
