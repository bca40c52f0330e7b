//! Constant folding: ops whose inputs are all known at import time (shape
//! arithmetic from PyTorch exports, transposed weights, casts) are evaluated here.

use super::attributes::{Attributes, node_label};
use super::import::index_maps::{SliceBounds, gather_map};
use super::import::shapes::{
    flatten_shape, normalize_axis, reshape_target, squeeze_shape, transpose_perm, unsqueeze_shape,
};
use super::proto::NodeProto;
use crate::error::{ModelError, Result};
use crate::graph::broadcast::{broadcast_indices, broadcast_shape, transpose};
use crate::graph::check_shape;
use crate::graph::constant::{Const, ConstData};

/// Ops the folder can evaluate on constants.
pub const FOLDABLE: &[&str] = &[
    "Identity",
    "Dropout",
    "Cast",
    "Reshape",
    "Flatten",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Concat",
    "Gather",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "ConstantOfShape",
    "Slice",
    "ReduceSum",
];

/// Evaluates `node` on constant inputs (`None` for omitted optional inputs).
pub fn fold(node: &NodeProto, inputs: &[Option<&Const>], opset: i64) -> Result<Const> {
    let label = node_label(node);
    let attrs = Attributes::of(node);
    let first = || {
        inputs
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| ModelError::invalid(&label, "missing input"))
    };
    let second = || inputs.get(1).copied().flatten();
    match node.op_type() {
        "Identity" | "Dropout" => Ok(first()?.clone()),
        "Cast" => cast(first()?, attrs.int("to", 1)?),
        "Neg" => map_elementwise(first()?, |x| -x, |x| -x, |x| -x),
        "Reshape" => {
            let spec = second()
                .ok_or_else(|| ModelError::invalid(&label, "Reshape needs a shape input"))?;
            let shape = reshape_target(
                &first()?.shape,
                &spec.to_i64(&label)?,
                attrs.int("allowzero", 0)? != 0,
                &label,
            )?;
            Ok(first()?.clone().with_shape(shape))
        }
        "Flatten" => Ok(first()?.clone().with_shape(flatten_shape(
            &first()?.shape,
            attrs.int("axis", 1)?,
            &label,
        )?)),
        "Squeeze" | "Unsqueeze" => {
            let axes = match (opset >= 13, second()) {
                (true, Some(a)) => Some(a.to_i64(&label)?),
                _ => attrs.ints("axes")?,
            };
            let x = first()?;
            let shape = if node.op_type() == "Squeeze" {
                squeeze_shape(&x.shape, axes.as_deref(), &label)?
            } else {
                unsqueeze_shape(&x.shape, &axes.unwrap_or_default(), &label)?
            };
            Ok(x.clone().with_shape(shape))
        }
        "Transpose" => {
            let x = first()?;
            let perm = transpose_perm(x.shape.len(), attrs.ints("perm")?, &label)?;
            let shape = perm.iter().map(|&p| x.shape[p]).collect();
            Ok(Const {
                shape,
                data: match &x.data {
                    ConstData::F32(v) => ConstData::F32(transpose(v, &x.shape, &perm)),
                    ConstData::F64(v) => ConstData::F64(transpose(v, &x.shape, &perm)),
                    ConstData::I64(v) => ConstData::I64(transpose(v, &x.shape, &perm)),
                },
            })
        }
        "Concat" => concat(inputs, attrs.int("axis", 0)?, &label),
        "Slice" => slice(node, inputs, opset, &label),
        "ReduceSum" => reduce_sum(node, inputs, opset, &label),
        "Gather" => gather(
            first()?,
            second().ok_or_else(|| ModelError::invalid(&label, "Gather needs indices"))?,
            attrs.int("axis", 0)?,
            &label,
        ),
        "Add" | "Sub" | "Mul" | "Div" => {
            let b = second()
                .ok_or_else(|| ModelError::invalid(&label, "binary op needs two inputs"))?;
            binary(node.op_type(), first()?, b, &label)
        }
        "ConstantOfShape" => {
            let shape: Vec<usize> = first()?
                .to_i64(&label)?
                .iter()
                .map(|&d| d.max(0) as usize)
                .collect();
            let n = check_shape(&label, &shape)?;
            let value = attrs
                .tensor("value")?
                .unwrap_or_else(|| Const::f32(vec![1], vec![0.0]));
            Ok(match value.data {
                ConstData::F32(v) => Const::f32(shape, vec![v.first().copied().unwrap_or(0.0); n]),
                ConstData::F64(v) => Const {
                    shape,
                    data: ConstData::F64(vec![v.first().copied().unwrap_or(0.0); n]),
                },
                ConstData::I64(v) => Const::i64(shape, vec![v.first().copied().unwrap_or(0); n]),
            })
        }
        other => Err(ModelError::unsupported_use(
            other,
            label,
            "cannot be evaluated on constants",
        )),
    }
}

fn cast(x: &Const, to: i64) -> Result<Const> {
    use super::proto::tensor_proto::DataType;
    let float = [DataType::Float as i64, DataType::Float16 as i64];
    Ok(if to == DataType::Double as i64 {
        Const {
            shape: x.shape.clone(),
            data: ConstData::F64(x.to_f64()),
        }
    } else if float.contains(&to) {
        Const::f32(x.shape.clone(), x.to_f32())
    } else {
        let v = match &x.data {
            ConstData::I64(v) => v.clone(),
            ConstData::F32(_) | ConstData::F64(_) => {
                x.to_f64().iter().map(|&f| f.trunc() as i64).collect()
            }
        };
        Const::i64(x.shape.clone(), v)
    })
}

fn map_elementwise(
    x: &Const,
    f: impl Fn(f32) -> f32,
    h: impl Fn(f64) -> f64,
    g: impl Fn(i64) -> i64,
) -> Result<Const> {
    Ok(Const {
        shape: x.shape.clone(),
        data: match &x.data {
            ConstData::F32(v) => ConstData::F32(v.iter().map(|&a| f(a)).collect()),
            ConstData::F64(v) => ConstData::F64(v.iter().map(|&a| h(a)).collect()),
            ConstData::I64(v) => ConstData::I64(v.iter().map(|&a| g(a)).collect()),
        },
    })
}

fn binary(op: &str, a: &Const, b: &Const, label: &str) -> Result<Const> {
    let shape = broadcast_shape(&a.shape, &b.shape).ok_or_else(|| {
        ModelError::invalid(
            label,
            format!("{op} cannot broadcast {:?} with {:?}", a.shape, b.shape),
        )
    })?;
    let ia = broadcast_indices(&a.shape, &shape);
    let ib = broadcast_indices(&b.shape, &shape);
    match (&a.data, &b.data) {
        (ConstData::I64(x), ConstData::I64(y)) => {
            let f = |p: i64, q: i64| -> Result<i64> {
                Ok(match op {
                    "Add" => p.wrapping_add(q),
                    "Sub" => p.wrapping_sub(q),
                    "Mul" => p.wrapping_mul(q),
                    _ => p
                        .checked_div(q)
                        .ok_or_else(|| ModelError::invalid(label, "integer division by zero"))?,
                })
            };
            let v = ia
                .iter()
                .zip(&ib)
                .map(|(&i, &j)| f(x[i], y[j]))
                .collect::<Result<Vec<_>>>()?;
            Ok(Const::i64(shape, v))
        }
        (ConstData::F64(_), _) | (_, ConstData::F64(_)) => {
            // A double stays a double (a threshold computed from one keeps its precision).
            let (x, y) = (a.to_f64(), b.to_f64());
            let v = ia.iter().zip(&ib).map(|(&i, &j)| arith(op, x[i], y[j]));
            let c = Const {
                shape,
                data: ConstData::F64(v.collect()),
            };
            c.check_finite(label)?;
            Ok(c)
        }
        _ => {
            let (x, y) = (a.to_f32(), b.to_f32());
            let v = ia.iter().zip(&ib).map(|(&i, &j)| arith(op, x[i], y[j]));
            let c = Const::f32(shape, v.collect());
            c.check_finite(label)?;
            Ok(c)
        }
    }
}

/// `p op q` for Add, Sub, Mul and (otherwise) Div, in floating point.
fn arith<T>(op: &str, p: T, q: T) -> T
where
    T: std::ops::Add<Output = T>
        + std::ops::Sub<Output = T>
        + std::ops::Mul<Output = T>
        + std::ops::Div<Output = T>,
{
    match op {
        "Add" => p + q,
        "Sub" => p - q,
        "Mul" => p * q,
        _ => p / q,
    }
}

fn concat(inputs: &[Option<&Const>], axis: i64, label: &str) -> Result<Const> {
    let parts: Vec<&Const> = inputs.iter().flatten().copied().collect();
    let first = parts
        .first()
        .ok_or_else(|| ModelError::invalid(label, "Concat of nothing"))?;
    let rank = first.shape.len();
    if rank == 0 {
        return Err(ModelError::invalid(label, "Concat of scalars"));
    }
    let axis = normalize_axis(axis, rank, label)?;
    for p in &parts {
        let same =
            p.shape.len() == rank && (0..rank).all(|d| d == axis || p.shape[d] == first.shape[d]);
        if !same {
            return Err(ModelError::invalid(
                label,
                format!(
                    "Concat of mismatched shapes {:?} and {:?}",
                    first.shape, p.shape
                ),
            ));
        }
    }
    let outer: usize = first.shape[..axis].iter().product();
    let mut shape = first.shape.clone();
    shape[axis] = parts.iter().map(|p| p.shape[axis]).sum();
    let chunks: Vec<usize> = parts
        .iter()
        .map(|p| p.shape[axis..].iter().product())
        .collect();
    if parts.iter().all(|p| matches!(p.data, ConstData::I64(_))) {
        let vals = parts
            .iter()
            .map(|p| p.to_i64(label))
            .collect::<Result<Vec<_>>>()?;
        Ok(Const::i64(shape, interleave(&vals, &chunks, outer)))
    } else {
        let vals: Vec<Vec<f32>> = parts.iter().map(|p| p.to_f32()).collect();
        Ok(Const::f32(shape, interleave(&vals, &chunks, outer)))
    }
}

/// Concatenation along an axis: for each of `outer` blocks, each part's `chunks[i]` values in turn.
fn interleave<T: Copy>(parts: &[Vec<T>], chunks: &[usize], outer: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for o in 0..outer {
        for (v, &c) in parts.iter().zip(chunks) {
            out.extend_from_slice(&v[o * c..(o + 1) * c]);
        }
    }
    out
}

fn gather(data: &Const, indices: &Const, axis: i64, label: &str) -> Result<Const> {
    let (shape, order) = gather_map(
        &data.shape,
        &indices.to_i64(label)?,
        &indices.shape,
        axis,
        label,
    )?;
    Ok(pick(data, shape, &order))
}

/// The constant made of `x`'s values at `order`, with `shape`.
fn pick(x: &Const, shape: Vec<usize>, order: &[usize]) -> Const {
    Const {
        shape,
        data: match &x.data {
            ConstData::F32(v) => ConstData::F32(order.iter().map(|&i| v[i]).collect()),
            ConstData::F64(v) => ConstData::F64(order.iter().map(|&i| v[i]).collect()),
            ConstData::I64(v) => ConstData::I64(order.iter().map(|&i| v[i]).collect()),
        },
    }
}

/// Slice with its bounds from inputs (opset ≥ 10) or attributes (earlier).
fn slice(node: &NodeProto, inputs: &[Option<&Const>], opset: i64, label: &str) -> Result<Const> {
    let x = inputs
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| ModelError::invalid(label, "missing input"))?;
    let b = SliceBounds::of(node, |i| Ok(inputs.get(i).copied().flatten()), opset, label)?;
    let (shape, order) = b.map(&x.shape, label)?;
    Ok(pick(x, shape, &order))
}

/// ReduceSum over `axes` (all when none are given) of a constant.
fn reduce_sum(node: &NodeProto, inputs: &[Option<&Const>], opset: i64, label: &str) -> Result<Const> {
    let attrs = Attributes::of(node);
    let x = inputs
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| ModelError::invalid(label, "missing input"))?;
    let axes = match (opset >= 13, inputs.get(1).copied().flatten()) {
        (true, Some(a)) => Some(a.to_i64(label)?),
        (true, None) => None,
        (false, _) => attrs.ints("axes")?,
    };
    let keep = attrs.int("keepdims", 1)? != 0;
    let rank = x.shape.len();
    if rank == 0 {
        return Ok(x.clone());
    }
    let mut reduced = vec![false; rank];
    match axes.as_deref() {
        None | Some([]) if attrs.int("noop_with_empty_axes", 0)? != 0 => return Ok(x.clone()),
        None | Some([]) => reduced.iter_mut().for_each(|r| *r = true),
        Some(a) => {
            for &axis in a {
                reduced[normalize_axis(axis, rank, label)?] = true;
            }
        }
    }
    let out_full: Vec<usize> = x
        .shape
        .iter()
        .zip(&reduced)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect();
    let n = check_shape(label, &out_full)?;
    let out_strides = crate::graph::broadcast::strides(&out_full);
    let in_strides = crate::graph::broadcast::strides(&x.shape);
    let target = |flat: usize| -> usize {
        (0..rank)
            .filter(|&d| !reduced[d])
            .map(|d| (flat / in_strides[d]) % x.shape[d] * out_strides[d])
            .sum()
    };
    let shape = if keep {
        out_full
    } else {
        x.shape
            .iter()
            .zip(&reduced)
            .filter(|(_, r)| !**r)
            .map(|(&d, _)| d)
            .collect()
    };
    Ok(match &x.data {
        ConstData::I64(v) => {
            let mut out = vec![0i64; n];
            v.iter()
                .enumerate()
                .for_each(|(i, &a)| out[target(i)] = out[target(i)].wrapping_add(a));
            Const::i64(shape, out)
        }
        ConstData::F32(_) | ConstData::F64(_) => {
            let mut out = vec![0f32; n];
            x.to_f32().iter().enumerate().for_each(|(i, &a)| out[target(i)] += a);
            let c = Const::f32(shape, out);
            c.check_finite(label)?;
            c
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_and_concat_build_a_shape() {
        let shape = Const::i64(vec![4], vec![1, 4, 4, 4]);
        let n = gather(&shape, &Const::i64(vec![], vec![0]), 0, "g").unwrap();
        assert_eq!(n.shape, Vec::<usize>::new());
        let n = n.with_shape(vec![1]);
        let c = concat(&[Some(&n), Some(&Const::i64(vec![1], vec![-1]))], 0, "c").unwrap();
        assert_eq!(c.data, ConstData::I64(vec![1, -1]));
    }
}
