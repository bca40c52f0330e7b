//! Where each output value of Gather (constant indices) and Slice comes from:
//! flat row-major index maps shared by the constant folder and the runtime
//! [`Op::Pick`](crate::graph::Op::Pick).

use super::super::attributes::Attributes;
use super::super::proto::NodeProto;
use super::shapes::normalize_axis;
use crate::error::{ModelError, Result};
use crate::graph::broadcast::map_coords;
use crate::graph::check_shape;
use crate::graph::constant::Const;

/// An output shape and, per output value, the flat index of the input value it copies.
pub type IndexMap = (Vec<usize>, Vec<usize>);

/// ONNX Gather along `axis` with constant `indices` (negative ones count from the end).
pub fn gather_map(
    shape: &[usize],
    indices: &[i64],
    indices_shape: &[usize],
    axis: i64,
    label: &str,
) -> Result<IndexMap> {
    let axis = normalize_axis(axis, shape.len(), label)?;
    let dim = *shape
        .get(axis)
        .ok_or_else(|| ModelError::invalid(label, "Gather from a scalar"))?;
    let idx = indices
        .iter()
        .map(|&i| {
            wrap_index(i, dim).ok_or_else(|| {
                ModelError::invalid(label, format!("Gather index {i} out of range {dim}"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = shape[..axis].to_vec();
    out.extend_from_slice(indices_shape);
    out.extend_from_slice(&shape[axis + 1..]);
    check_shape(label, &out)?;
    let mut order = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in &idx {
            order.extend((0..inner).map(|k| (o * shape[axis] + i) * inner + k));
        }
    }
    Ok((out, order))
}

/// A constant index into an axis of `dim`, negative ones counting from the end (ONNX
/// Gather, GatherElements), or `None` when it lies outside the axis.
pub fn wrap_index(i: i64, dim: usize) -> Option<usize> {
    let dim = dim as i64;
    let j = if i < 0 { i.saturating_add(dim) } else { i };
    (0..dim).contains(&j).then_some(j as usize)
}

/// A Slice node's bounds, all constants.
#[derive(Debug)]
pub struct SliceBounds {
    starts: Vec<i64>,
    ends: Vec<i64>,
    axes: Option<Vec<i64>>,
    steps: Option<Vec<i64>>,
}

impl SliceBounds {
    /// The bounds from inputs 1–4 (opset ≥ 10; `input(i)` is the constant at input `i`,
    /// if any) or from the attributes (earlier opsets).
    pub fn of<'c>(
        node: &NodeProto,
        input: impl Fn(usize) -> Result<Option<&'c Const>>,
        opset: i64,
        label: &str,
    ) -> Result<Self> {
        if opset < 10 {
            let attrs = Attributes::of(node);
            let need = |name: &str| {
                attrs.ints(name)?.ok_or_else(|| {
                    ModelError::invalid(label, format!("Slice needs the attribute '{name}'"))
                })
            };
            return Ok(Self {
                starts: need("starts")?,
                ends: need("ends")?,
                axes: attrs.ints("axes")?,
                steps: None,
            });
        }
        let ints = |i: usize| -> Result<Option<Vec<i64>>> {
            input(i)?.map(|c| c.to_i64(label)).transpose()
        };
        let need = |i: usize, name: &str| {
            ints(i)?.ok_or_else(|| ModelError::invalid(label, format!("Slice needs its {name}")))
        };
        Ok(Self {
            starts: need(1, "starts")?,
            ends: need(2, "ends")?,
            axes: ints(3)?,
            steps: ints(4)?,
        })
    }

    /// The index map of these bounds over a tensor of `shape`.
    pub fn map(&self, shape: &[usize], label: &str) -> Result<IndexMap> {
        slice_map(
            shape,
            &self.starts,
            &self.ends,
            self.axes.as_deref(),
            self.steps.as_deref(),
            label,
        )
    }
}

/// ONNX Slice: for each listed axis, `starts[i]..ends[i]` by `steps[i]` (negative
/// starts and ends count from the end; both are clamped as the standard says).
pub fn slice_map(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
    label: &str,
) -> Result<IndexMap> {
    let rank = shape.len();
    if rank == 0 {
        return Err(ModelError::invalid(label, "Slice of a scalar"));
    }
    if starts.len() != ends.len() {
        return Err(ModelError::invalid(
            label,
            format!("{} starts for {} ends", starts.len(), ends.len()),
        ));
    }
    let axes: Vec<usize> = match axes {
        Some(a) if a.len() != starts.len() => {
            return Err(ModelError::invalid(
                label,
                "axes and starts differ in length",
            ));
        }
        Some(a) => a
            .iter()
            .map(|&x| normalize_axis(x, rank, label))
            .collect::<Result<_>>()?,
        None if starts.len() <= rank => (0..starts.len()).collect(),
        None => return Err(ModelError::invalid(label, "more starts than axes")),
    };
    let steps = steps.map_or_else(|| vec![1; starts.len()], <[i64]>::to_vec);
    if steps.len() != starts.len() {
        return Err(ModelError::invalid(
            label,
            "steps and starts differ in length",
        ));
    }
    // Per axis: the input positions it keeps.
    let mut keep: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
    let mut seen = vec![false; rank];
    for (i, &axis) in axes.iter().enumerate() {
        if std::mem::replace(&mut seen[axis], true) {
            return Err(ModelError::invalid(
                label,
                format!("axis {axis} sliced twice"),
            ));
        }
        keep[axis] = positions(shape[axis] as i64, starts[i], ends[i], steps[i])
            .ok_or_else(|| ModelError::invalid(label, "a Slice step of 0"))?;
    }
    let out: Vec<usize> = keep.iter().map(Vec::len).collect();
    check_shape(label, &out)?;
    let strides = crate::graph::broadcast::strides(shape);
    let order = map_coords(&out, |coord| {
        (0..rank).map(|d| keep[d][coord[d]] * strides[d]).sum()
    });
    Ok((out, order))
}

/// The positions `start, start + step, …` before `end` in an axis of `dim`, or `None` for step 0.
fn positions(dim: i64, start: i64, end: i64, step: i64) -> Option<Vec<usize>> {
    if step == 0 {
        return None;
    }
    let wrap = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
    let (s, e) = (wrap(start), wrap(end));
    let (s, e) = if step > 0 {
        (s.clamp(0, dim), e.clamp(0, dim))
    } else {
        (s.clamp(-1, dim - 1), e.clamp(-1, dim - 1))
    };
    let mut out = Vec::new();
    let mut i = s;
    while (step > 0 && i < e) || (step < 0 && i > e) {
        out.push(i as usize);
        i = i.saturating_add(step);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_the_standard() {
        // A 2x4 tensor, second row's columns 1..3 and every other column reversed.
        let (shape, order) = slice_map(&[2, 4], &[1, 1], &[2, 3], None, None, "s").unwrap();
        assert_eq!((shape, order), (vec![1, 2], vec![5, 6]));
        let (shape, order) =
            slice_map(&[2, 4], &[-1], &[i64::MIN], Some(&[1]), Some(&[-2]), "s").unwrap();
        assert_eq!((shape, order), (vec![2, 2], vec![3, 1, 7, 5]));
        let (shape, _) = slice_map(&[3], &[0], &[i64::MAX], None, None, "s").unwrap();
        assert_eq!(shape, vec![3]);
        assert!(slice_map(&[3], &[0], &[1], None, Some(&[0]), "s").is_err());
    }

    #[test]
    fn gathers_take_negative_indices_and_refuse_out_of_range() {
        let (shape, order) = gather_map(&[2, 3], &[2, -3], &[2], 1, "g").unwrap();
        assert_eq!((shape, order), (vec![2, 2], vec![2, 0, 5, 3]));
        let (shape, order) = gather_map(&[2, 3], &[1], &[], 0, "g").unwrap();
        assert_eq!((shape, order), (vec![3], vec![3, 4, 5]));
        assert!(gather_map(&[2, 3], &[3], &[1], 1, "g").is_err());
    }
}
