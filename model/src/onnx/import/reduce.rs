//! ReduceSum and ReduceMean of runtime tensors over trailing axes: a Dense
//! layer of ones (or of `1/n`) over those axes flattened, or, for the mean over
//! the two spatial axes of an NCHW tensor, the exact GlobalAveragePool.

use super::shapes::normalize_axis;
use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::constant::Weights;
use crate::graph::{Op, ValueId};

pub(crate) fn reduce(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let x = ctx.value(ops, 0)?;
    let xs = b.shape(x).to_vec();
    let rank = xs.len();
    let axes = match (
        b.opset >= 18 || ctx.op_type == "ReduceSum" && b.opset >= 13,
        ctx.constant(ops, 1)?,
    ) {
        (true, Some(a)) => Some(a.to_i64(ctx.label)?),
        (true, None) => None,
        (false, _) => ctx.attrs.ints("axes")?,
    };
    let mut axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&v| normalize_axis(v, rank, ctx.label))
            .collect::<Result<_>>()?,
        _ if ctx.attrs.int("noop_with_empty_axes", 0)? != 0 => return Ok(x),
        _ => (0..rank).collect(),
    };
    axes.sort_unstable();
    axes.dedup();
    let first = axes.first().copied().unwrap_or(rank);
    if rank == 0 || axes != (first..rank).collect::<Vec<_>>() {
        return Err(ctx.unsupported(format!(
            "{} over axes {axes:?} of {xs:?} (only trailing axes)",
            ctx.op_type
        )));
    }
    let n: usize = xs[first..].iter().product();
    if n == 0 {
        return Err(ctx.invalid(format!("{} over an empty axis of {xs:?}", ctx.op_type)));
    }
    let keep = ctx.attrs.int("keepdims", 1)? != 0;
    let mut out = xs[..first].to_vec();
    if keep {
        out.extend(std::iter::repeat_n(1, rank - first));
    }
    let mean = ctx.op_type == "ReduceMean";
    if mean && rank == 4 && first == 2 {
        let pooled = b.push(
            ctx.label,
            Op::GlobalAvgPool,
            vec![x],
            vec![xs[0], xs[1], 1, 1],
        );
        return Ok(reshaped(b, ctx, pooled, out));
    }
    let mut flat = xs[..first].to_vec();
    flat.push(n);
    let input = if first + 1 == rank {
        x
    } else {
        b.push(
            &format!("{}/flatten", ctx.label),
            Op::Reshape,
            vec![x],
            flat.clone(),
        )
    };
    let w = if mean { 1.0 / n as f32 } else { 1.0 };
    let dense = Op::Dense {
        weight: Weights::new(vec![1, n], vec![w; n]),
        bias: vec![0.0],
    };
    flat[first] = 1;
    let summed = b.push(ctx.label, dense, vec![input], flat);
    Ok(reshaped(b, ctx, summed, out))
}

/// `v` reshaped to `shape` (itself when it already has it).
fn reshaped(b: &mut Builder, ctx: &Ctx, v: ValueId, shape: Vec<usize>) -> ValueId {
    if b.shape(v) == shape.as_slice() {
        return v;
    }
    b.push(
        &format!("{}/reshape", ctx.label),
        Op::Reshape,
        vec![v],
        shape,
    )
}
