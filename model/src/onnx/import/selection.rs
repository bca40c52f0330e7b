//! Builders for comparisons, And, ArgMax, Gather, Slice and casts on runtime
//! tensors: what tree ensembles exported by hummingbird (EZKL's decision_tree
//! example) are made of.

use super::index_maps::{IndexMap, SliceBounds, gather_map, wrap_index};
use super::kinds::Kind;
use super::shapes::normalize_axis;
use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::broadcast::{broadcast_shape, element_bases};
use crate::graph::compare::Comparison;
use crate::graph::constant::Weights;
use crate::graph::{Op, ValueId};

/// Less, LessOrEqual, Greater, GreaterOrEqual, Equal.
pub(crate) fn compare(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let cmp =
        Comparison::of_onnx(ctx.op_type).ok_or_else(|| ctx.unsupported("not a comparison"))?;
    let (lhs, rhs) = match (ops.first(), ops.get(1)) {
        (Some(Some(l)), Some(Some(r))) => (l, r),
        _ => return Err(ctx.invalid("needs two inputs")),
    };
    let (x, c, cmp) = match (lhs, rhs) {
        (Operand::Value(x), Operand::Value(y)) => {
            let shape = broadcast(b, ctx, *x, b.shape(*y).to_vec())?;
            return Ok(b.push(ctx.label, Op::Compare { cmp }, vec![*x, *y], shape));
        }
        (Operand::Value(x), Operand::Const(c)) => (*x, c, cmp),
        (Operand::Const(c), Operand::Value(x)) => (*x, c, cmp.swapped()),
        _ => return Err(ctx.invalid("comparison of constants reached the runtime builder")),
    };
    let xs = b.shape(x).to_vec();
    if broadcast_shape(&xs, &c.shape).as_deref() != Some(xs.as_slice()) {
        return Err(ctx.unsupported(format!(
            "a constant of shape {:?} that does not broadcast into {xs:?}",
            c.shape
        )));
    }
    let op = Op::CompareConst {
        cmp,
        c: c.to_f64(),
        c_shape: c.shape.clone(),
    };
    Ok(b.push(ctx.label, op, vec![x], xs))
}

/// The broadcast shape of runtime value `x` with `other`.
fn broadcast(b: &Builder, ctx: &Ctx, x: ValueId, other: Vec<usize>) -> Result<Vec<usize>> {
    broadcast_shape(b.shape(x), &other)
        .ok_or_else(|| ctx.invalid(format!("cannot broadcast {:?} with {other:?}", b.shape(x))))
}

/// And of two boolean runtime tensors: their product.
pub(crate) fn and(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let (x, y) = (ctx.value(ops, 0)?, ctx.value(ops, 1)?);
    for v in [x, y] {
        if b.kind(v) != Kind::Boolean {
            return Err(ctx.unsupported(format!(
                "operand '{}' is not known to be boolean (a comparison's result)",
                b.graph.values[v].name
            )));
        }
    }
    let shape = broadcast(b, ctx, x, b.shape(y).to_vec())?;
    Ok(b.push(ctx.label, Op::Mul, vec![x, y], shape))
}

/// ArgMax over one axis (the last one, or one followed only by size-1 axes).
pub(crate) fn argmax(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    if ctx.attrs.int("select_last_index", 0)? != 0 {
        return Err(ctx.unsupported("select_last_index = 1 (ties go to the first index)"));
    }
    let xs = b.shape(x).to_vec();
    if xs.is_empty() {
        return Err(ctx.invalid("ArgMax of a scalar"));
    }
    let axis = normalize_axis(ctx.attrs.int("axis", 0)?, xs.len(), ctx.label)?;
    if xs[axis] == 0 {
        return Err(ctx.invalid(format!("ArgMax over an empty axis of {xs:?}")));
    }
    if xs[axis + 1..].iter().any(|&d| d != 1) {
        return Err(ctx.unsupported(format!(
            "ArgMax over axis {axis} of {xs:?} (only the last axis with more than one value)"
        )));
    }
    let mut input = x;
    if axis + 1 != xs.len() {
        let label = format!("{}/to_last_axis", ctx.label);
        input = b.push(&label, Op::Reshape, vec![x], xs[..=axis].to_vec());
    }
    let out = xs[..axis].to_vec();
    if ctx.attrs.int("keepdims", 1)? == 0 {
        return Ok(b.push(ctx.label, Op::ArgMax, vec![input], out));
    }
    let label = format!("{}/argmax", ctx.label);
    let index = b.push(&label, Op::ArgMax, vec![input], out);
    let mut kept = xs;
    kept[axis] = 1;
    Ok(b.push(ctx.label, Op::Reshape, vec![index], kept))
}

/// Gather: constant indices into a runtime tensor (a fixed pick), or runtime indices
/// into a constant table along its first axis.
pub(crate) fn gather(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let axis = ctx.attrs.int("axis", 0)?;
    match (ops.first(), ops.get(1)) {
        (Some(Some(Operand::Value(x))), Some(Some(Operand::Const(idx)))) => {
            let map = gather_map(
                b.shape(*x),
                &idx.to_i64(ctx.label)?,
                &idx.shape,
                axis,
                ctx.label,
            )?;
            Ok(pick(b, ctx, *x, map))
        }
        (Some(Some(Operand::Const(table))), Some(Some(Operand::Value(i)))) => {
            if table.shape.is_empty() || normalize_axis(axis, table.shape.len(), ctx.label)? != 0 {
                return Err(
                    ctx.unsupported("runtime indices into a constant along any axis but the first")
                );
            }
            if table.shape[0] == 0 {
                return Err(ctx.invalid("Gather from a table of no rows"));
            }
            integer_indices(b, ctx, *i)?;
            let mut shape = b.shape(*i).to_vec();
            shape.extend_from_slice(&table.shape[1..]);
            let op = Op::GatherConst {
                table: Weights::from_const(table),
            };
            Ok(b.push(ctx.label, op, vec![*i], shape))
        }
        (Some(Some(Operand::Value(_))), Some(Some(Operand::Value(_)))) => Err(ctx.unsupported(
            "runtime indices into a runtime tensor (only constant indices, or a constant table)",
        )),
        _ => Err(ctx.invalid("Gather needs data and indices")),
    }
}

/// Slice of a runtime tensor with constant bounds: a fixed pick.
pub(crate) fn slice(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let bounds = SliceBounds::of(ctx.node, |i| ctx.constant(ops, i), b.opset, ctx.label)?;
    let map = bounds.map(b.shape(x), ctx.label)?;
    Ok(pick(b, ctx, x, map))
}

/// A Pick node, or `x` itself (reshaped if need be) when the map keeps every value in order.
fn pick(b: &mut Builder, ctx: &Ctx, x: ValueId, (shape, map): IndexMap) -> ValueId {
    let identity =
        map.len() == b.graph.values[x].numel() && map.iter().enumerate().all(|(i, &j)| i == j);
    match (identity, shape == b.shape(x)) {
        (true, true) => x,
        (true, false) => b.push(ctx.label, Op::Reshape, vec![x], shape),
        (false, _) => b.push(ctx.label, Op::Pick { map }, vec![x], shape),
    }
}

/// Cast: to a real type always; to int32/int64 only from integers; to bool, to 8- or
/// 16-bit or unsigned integer types only from booleans (where no cast can wrap or change
/// a number).
pub(crate) fn cast(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let to = ctx.attrs.int("to", 1)?;
    // FLOAT, FLOAT16, DOUBLE, BFLOAT16: the value stays a real number.
    let needs = match to {
        1 | 10 | 11 | 16 => Kind::Real,
        6 | 7 => Kind::Integer,
        _ => Kind::Boolean,
    };
    if b.kind(x) < needs {
        let what = if needs == Kind::Boolean {
            "bool, a narrow or an unsigned integer type"
        } else {
            "an integer type"
        };
        return Err(ctx.unsupported(format!(
            "cast of a runtime tensor to {what} ({to}) from values not known to be {} \
             (the cast could change them)",
            if needs == Kind::Boolean {
                "0 or 1"
            } else {
                "integers"
            }
        )));
    }
    Ok(x)
}

/// GatherElements of a runtime tensor: by constant indices a fixed pick, by runtime integer
/// indices a [`Op::GatherElements`].
pub(crate) fn gather_elements(
    b: &mut Builder,
    ctx: &Ctx,
    ops: &[Option<Operand>],
) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let xs = b.shape(x).to_vec();
    if xs.is_empty() {
        return Err(ctx.invalid("GatherElements of a scalar"));
    }
    let axis = normalize_axis(ctx.attrs.int("axis", 0)?, xs.len(), ctx.label)?;
    let fits =
        |is: &[usize]| is.len() == xs.len() && (0..xs.len()).all(|d| d == axis || is[d] <= xs[d]);
    match ops.get(1) {
        Some(Some(Operand::Const(c))) => {
            if !fits(&c.shape) {
                return Err(ctx.invalid(format!("indices {:?} for data {xs:?}", c.shape)));
            }
            let (bases, stride) = element_bases(&xs, &c.shape, axis);
            let dim = xs[axis];
            let map = bases
                .iter()
                .zip(c.to_i64(ctx.label)?)
                .map(|(&base, i)| {
                    let j = wrap_index(i, dim)
                        .ok_or_else(|| ctx.invalid(format!("index {i} out of range {dim}")))?;
                    Ok(base + j * stride)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(pick(b, ctx, x, (c.shape.clone(), map)))
        }
        Some(Some(Operand::Value(i))) => {
            let is = b.shape(*i).to_vec();
            if !fits(&is) {
                return Err(ctx.invalid(format!("indices {is:?} for data {xs:?}")));
            }
            integer_indices(b, ctx, *i)?;
            Ok(b.push(ctx.label, Op::GatherElements { axis }, vec![x, *i], is))
        }
        _ => Err(ctx.invalid("GatherElements needs indices")),
    }
}

/// Refuses runtime indices not known to be integers.
fn integer_indices(b: &mut Builder, ctx: &Ctx, i: ValueId) -> Result<()> {
    if b.kind(i) < Kind::Integer {
        return Err(ctx.unsupported(format!(
            "runtime indices '{}' that are not known to be integers",
            b.graph.values[i].name
        )));
    }
    Ok(())
}
