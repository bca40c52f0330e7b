//! Concat of runtime tensors ([`Op::Concat`]): ONNX's Concat when any input is computed
//! (on constants alone it folds), and the joining of a recurrent layer's steps.

use super::shapes::normalize_axis;
use super::{Builder, Ctx, Operand};
use crate::error::Result;
use crate::graph::{Op, ValueId};

pub(crate) fn concat(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<ValueId> {
    let mut values = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Some(Operand::Value(v)) => values.push(*v),
            Some(Operand::Const(_)) => {
                return Err(ctx.unsupported(format!(
                    "input {i} is a constant joined to runtime tensors (only runtime tensors)"
                )));
            }
            None => {}
        }
    }
    let rank = values.first().map_or(0, |&v| b.shape(v).len());
    if rank == 0 {
        return Err(ctx.invalid("Concat of scalars"));
    }
    let axis = normalize_axis(ctx.attrs.int("axis", 0)?, rank, ctx.label)?;
    join(b, ctx.label, &values, axis).map_err(|e| ctx.invalid(e))
}

/// `values` joined along `axis` as one new value (one value is itself); an error naming
/// the mismatch when their shapes differ elsewhere.
pub(crate) fn join(
    b: &mut Builder,
    label: &str,
    values: &[ValueId],
    axis: usize,
) -> std::result::Result<ValueId, String> {
    let Some(&first) = values.first() else {
        return Err("Concat of nothing".into());
    };
    if values.len() == 1 {
        return Ok(first);
    }
    let mut shape = b.shape(first).to_vec();
    if axis >= shape.len() {
        return Err(format!("axis {axis} of a {}-D tensor", shape.len()));
    }
    shape[axis] = 0;
    for &v in values {
        let s = b.shape(v);
        let same = s.len() == shape.len() && (0..s.len()).all(|d| d == axis || s[d] == shape[d]);
        if !same {
            return Err(format!(
                "Concat of mismatched shapes {:?} and {s:?}",
                b.shape(first)
            ));
        }
        shape[axis] += s[axis];
    }
    Ok(b.push(label, Op::Concat { axis }, values.to_vec(), shape))
}
