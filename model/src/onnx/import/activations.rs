//! Builders for activations (Relu, LeakyRelu, Sigmoid, Tanh, final Softmax) and
//! ops that pass data through unchanged (Identity, Dropout, float Cast).

use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::{Op, ValueId};

pub(crate) fn activation(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let shape = b.shape(x).to_vec();
    let op = match ctx.op_type {
        "Relu" => Op::Relu,
        "LeakyRelu" => Op::LeakyRelu {
            alpha: ctx.attrs.float("alpha", 0.01)?,
        },
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        _ => {
            let rank = shape.len() as i64;
            let default = if b.opset >= 13 { -1 } else { 1 };
            let axis = ctx.attrs.int("axis", default)?;
            let axis = if axis < 0 { axis + rank } else { axis };
            let last = shape.last().copied().unwrap_or(1);
            let span: usize = shape.iter().skip(axis.max(0) as usize).product();
            let over_last = axis == rank - 1 || (b.opset < 13 && span == last);
            if !over_last {
                return Err(ctx.unsupported(format!(
                    "Softmax over axis {axis} of {shape:?} (only the last axis)"
                )));
            }
            Op::Softmax
        }
    };
    Ok(b.push(ctx.label, op, vec![x], shape))
}

pub(crate) fn passthrough(_b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    ctx.value(ops, 0)
}
