//! Builders for binary arithmetic (Add, Sub, Mul, Div) and shape-only ops on
//! runtime tensors (Flatten, Reshape, Squeeze, Unsqueeze, Transpose).

use super::shapes::{
    flatten_shape, reshape_target, squeeze_shape, transpose_perm, unsqueeze_shape,
};
use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::broadcast::broadcast_shape;
use crate::graph::constant::{Const, Weights};
use crate::graph::{Op, ValueId};

pub(crate) fn binary(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let (lhs, rhs) = match (ops.first(), ops.get(1)) {
        (Some(Some(l)), Some(Some(r))) => (l, r),
        _ => return Err(ctx.invalid("needs two inputs")),
    };
    match (lhs, rhs) {
        (Operand::Value(x), Operand::Value(y)) => {
            let shape = broadcast_shape(b.shape(*x), b.shape(*y)).ok_or_else(|| {
                ctx.invalid(format!(
                    "cannot broadcast {:?} with {:?}",
                    b.shape(*x),
                    b.shape(*y)
                ))
            })?;
            let op = match ctx.op_type {
                "Add" => Op::Add,
                "Sub" => Op::Sub,
                "Mul" => Op::Mul,
                _ => return Err(ctx.unsupported("division by a runtime tensor")),
            };
            Ok(b.push(ctx.label, op, vec![*x, *y], shape))
        }
        (Operand::Value(x), Operand::Const(c)) => with_constant(b, ctx, *x, c, false),
        (Operand::Const(c), Operand::Value(x)) => with_constant(b, ctx, *x, c, true),
        _ => Err(ctx.invalid("binary op on constants reached the runtime builder")),
    }
}

/// `x op c` (or `c op x` when `const_first`).
fn with_constant(
    b: &mut Builder,
    ctx: &Ctx,
    x: ValueId,
    c: &Const,
    const_first: bool,
) -> Result<ValueId> {
    let xs = b.shape(x).to_vec();
    if broadcast_shape(&xs, &c.shape).as_deref() != Some(xs.as_slice()) {
        return Err(ctx.unsupported(format!(
            "a constant of shape {:?} that does not broadcast into {xs:?}",
            c.shape
        )));
    }
    let w = Weights::from_const(c);
    let negated = || Weights::new(w.shape.clone(), w.data.iter().map(|v| -v).collect());
    match (ctx.op_type, const_first) {
        ("Add", _) => Ok(add_const(b, ctx, x, w, xs)),
        ("Sub", false) => Ok(add_const(b, ctx, x, negated(), xs)),
        ("Sub", true) => {
            let minus = Weights::new(vec![], vec![-1.0]);
            let neg = b.push(
                &format!("{}/negate", ctx.label),
                Op::MulConst { c: minus },
                vec![x],
                xs.clone(),
            );
            Ok(add_const(b, ctx, neg, w, xs))
        }
        ("Mul", _) => Ok(mul_const(b, ctx, x, w, xs)),
        ("Div", false) => {
            if w.data.contains(&0.0) {
                return Err(ctx.invalid("division by a constant zero"));
            }
            let inv = Weights::new(w.shape.clone(), w.data.iter().map(|v| 1.0 / v).collect());
            Ok(mul_const(b, ctx, x, inv, xs))
        }
        _ => Err(ctx.unsupported("division by a runtime tensor")),
    }
}

/// Per-output factors of a constant broadcast against a Dense/Conv output of
/// `outputs` channels, if it is a scalar or one value per output channel.
fn per_output(c: &Weights, xs: &[usize], layer_is_conv: bool, outputs: usize) -> Option<Vec<f32>> {
    if c.data.len() == 1 && c.shape.iter().all(|&d| d == 1) {
        return Some(vec![c.data[0]; outputs]);
    }
    let fits = if layer_is_conv {
        xs.len() == 4 && c.shape.len() >= 3 && c.shape.iter().rev().take(2).all(|&d| d == 1)
    } else {
        c.shape.iter().rev().skip(1).all(|&d| d == 1)
    };
    (fits && c.data.len() == outputs).then(|| c.data.clone())
}

/// Multiplies by a constant, folding it into the weights and bias of a Dense/Conv
/// that feeds only this Mul (a scalar or one factor per output channel).
fn mul_const(b: &mut Builder, ctx: &Ctx, x: ValueId, c: Weights, xs: Vec<usize>) -> ValueId {
    if let Some(node) = b.sole_producer(x) {
        let shift = |n: usize| vec![0.0; n];
        match &mut node.op {
            Op::Dense { weight, bias } => {
                if let Some(scale) = per_output(&c, &xs, false, bias.len()) {
                    super::layers::fold_per_output(weight, bias, &scale, &shift(scale.len()));
                    return x;
                }
            }
            Op::Conv { weight, bias, .. } => {
                if let Some(scale) = per_output(&c, &xs, true, bias.len()) {
                    super::layers::fold_per_output(weight, bias, &scale, &shift(scale.len()));
                    return x;
                }
            }
            _ => {}
        }
    }
    b.push(ctx.label, Op::MulConst { c }, vec![x], xs)
}

/// Adds a constant, folding it into the bias of a Dense/Conv that feeds only this Add.
fn add_const(b: &mut Builder, ctx: &Ctx, x: ValueId, c: Weights, xs: Vec<usize>) -> ValueId {
    let per_last_axis = c.shape.iter().rev().skip(1).all(|&d| d == 1);
    let channel_axis =
        xs.len() == 4 && c.shape.len() >= 3 && c.shape.iter().rev().take(2).all(|&d| d == 1);
    if let Some(node) = b.sole_producer(x) {
        match &mut node.op {
            Op::Dense { bias, .. }
                if per_last_axis && (c.data.len() == bias.len() || c.data.len() == 1) =>
            {
                let n = c.data.len();
                bias.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v += c.data[i % n]);
                return x;
            }
            Op::Conv { bias, .. } if channel_axis && c.data.len() == bias.len() => {
                bias.iter_mut().zip(&c.data).for_each(|(v, a)| *v += a);
                return x;
            }
            _ => {}
        }
    }
    b.push(ctx.label, Op::AddConst { c }, vec![x], xs)
}

pub(crate) fn reshape_like(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let xs = b.shape(x).to_vec();
    let axes_input = |i: usize| -> Result<Option<Vec<i64>>> {
        match (b.opset >= 13, ctx.constant(ops, i)?) {
            (true, Some(c)) => Ok(Some(c.to_i64(ctx.label)?)),
            _ => ctx.attrs.ints("axes"),
        }
    };
    let shape = match ctx.op_type {
        "Flatten" => flatten_shape(&xs, ctx.attrs.int("axis", 1)?, ctx.label)?,
        "Reshape" => {
            let spec = ctx
                .constant(ops, 1)?
                .ok_or_else(|| ctx.unsupported("a runtime target shape"))?;
            reshape_target(
                &xs,
                &spec.to_i64(ctx.label)?,
                ctx.attrs.int("allowzero", 0)? != 0,
                ctx.label,
            )?
        }
        "Squeeze" => squeeze_shape(&xs, axes_input(1)?.as_deref(), ctx.label)?,
        "Unsqueeze" => unsqueeze_shape(&xs, &axes_input(1)?.unwrap_or_default(), ctx.label)?,
        _ => {
            let perm = transpose_perm(xs.len(), ctx.attrs.ints("perm")?, ctx.label)?;
            let shape = perm.iter().map(|&p| xs[p]).collect();
            return Ok(b.push(ctx.label, Op::Transpose { perm }, vec![x], shape));
        }
    };
    if shape == xs {
        return Ok(x);
    }
    Ok(b.push(ctx.label, Op::Reshape, vec![x], shape))
}
