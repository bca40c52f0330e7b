//! Builders for MaxPool, AveragePool and GlobalAveragePool.

use super::layers::window_from_attrs;
use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::{Op, ValueId};

pub(crate) fn pool(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let xs = b.shape(x).to_vec();
    if xs.len() != 4 {
        return Err(ctx.unsupported(format!("input {xs:?}: only 2-D pooling over NCHW")));
    }
    if ctx.op_type == "GlobalAveragePool" {
        return Ok(b.push(
            ctx.label,
            Op::GlobalAvgPool,
            vec![x],
            vec![xs[0], xs[1], 1, 1],
        ));
    }
    let kernel = match ctx.attrs.usizes("kernel_shape")? {
        Some(k) if k.len() == 2 && k.iter().all(|&d| d > 0) => [k[0], k[1]],
        other => {
            return Err(ctx.invalid(format!(
                "kernel_shape {other:?} must be two positive values"
            )));
        }
    };
    let window = window_from_attrs(ctx, kernel, [xs[2], xs[3]], ctx.op_type == "MaxPool")?;
    let [oh, ow] = window
        .output_hw(xs[2], xs[3])
        .ok_or_else(|| ctx.invalid(format!("kernel {kernel:?} does not fit input {xs:?}")))?;
    if ctx.attrs.int("ceil_mode", 0)? != 0 {
        let ceil = |size: usize, pad: usize, i: usize| {
            let span = (kernel[i] - 1) * window.dilations[i] + 1;
            (size + pad - span).div_ceil(window.strides[i]) + 1
        };
        if ceil(xs[2], window.pads[0] + window.pads[2], 0) != oh
            || ceil(xs[3], window.pads[1] + window.pads[3], 1) != ow
        {
            return Err(ctx.unsupported("ceil_mode=1 where it changes the output size"));
        }
    }
    let op = if ctx.op_type == "MaxPool" {
        Op::MaxPool { window }
    } else {
        Op::AvgPool {
            window,
            count_include_pad: ctx.attrs.int("count_include_pad", 0)? != 0,
        }
    };
    Ok(b.push(ctx.label, op, vec![x], vec![xs[0], xs[1], oh, ow]))
}
