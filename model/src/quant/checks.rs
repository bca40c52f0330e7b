//! Consistency checks of the selection ops' fields (Compare, CompareConst,
//! ArgMax, GatherConst, Pick, Concat) in a quantized model, whoever made it: the
//! lowering always satisfies them, a `model.json` edited by hand may not, and
//! the integer reference and the circuits rely on them (shift amounts, the
//! bits a range check covers, table and index-map sizes).

use super::fixed::signed_range;
use super::model::{QNode, QOp, QuantModel};
use crate::error::{ModelError, Result};

/// Widest operand the comparison and argmax gadgets take (their range checks stay far
/// below the field's size).
const MAX_OPERAND_BITS: u32 = 60;

/// Refuses a selection op whose fields do not fit its operands, naming the node.
pub fn check_selection_ops(model: &QuantModel) -> Result<()> {
    model.nodes.iter().try_for_each(|n| check(model, n))
}

fn check(model: &QuantModel, node: &QNode) -> Result<()> {
    let fail = |reason: String| {
        Err(ModelError::IntegerExecution {
            node: node.name.clone(),
            reason,
        })
    };
    let value = |i: usize| node.inputs.get(i).and_then(|&v| model.values.get(v));
    let selection = matches!(
        node.op,
        QOp::Compare { .. }
            | QOp::CompareConst { .. }
            | QOp::ArgMax
            | QOp::GatherConst { .. }
            | QOp::GatherElements { .. }
            | QOp::Pick { .. }
            | QOp::Concat { .. }
    );
    if !selection {
        return Ok(());
    }
    let (Some(x), Some(out)) = (value(0), model.values.get(node.output)) else {
        return fail("an operand or the output is not a value of the model".into());
    };
    let wide = |bits: u32| bits == 0 || bits > MAX_OPERAND_BITS;
    match &node.op {
        QOp::Compare { align, .. } => {
            let Some(y) = value(1) else {
                return fail("a comparison needs two operands".into());
            };
            if [(x.bits, align[0]), (y.bits, align[1])]
                .iter()
                .any(|&(b, a)| wide(b) || a > MAX_OPERAND_BITS - b)
            {
                return fail(format!(
                    "operands of {} and {} bits aligned by {align:?} exceed {MAX_OPERAND_BITS} bits",
                    x.bits, y.bits
                ));
            }
        }
        QOp::CompareConst { c, c_shape, .. } => {
            if wide(x.bits) || c_shape.iter().product::<usize>() != c.len() {
                return fail(
                    "a constant that does not match its shape, or too wide an operand".into(),
                );
            }
            let (lo, hi) = signed_range(x.bits);
            if let Some(k) = c.iter().find(|&&k| k < lo - 1 || k > hi + 1) {
                return fail(format!(
                    "threshold {k} beyond one step outside the operand's {} bits",
                    x.bits
                ));
            }
        }
        QOp::ArgMax => {
            let last = x.shape.last().copied().unwrap_or(0);
            if wide(x.bits) || last == 0 || out.numel() * last != x.numel() {
                return fail(format!("ArgMax of {:?} into {:?}", x.shape, out.shape));
            }
        }
        QOp::GatherConst {
            table,
            rows,
            index_shift,
        } => {
            let width = table.len() / (*rows).max(1);
            if *rows == 0 || table.len() % rows != 0 || *index_shift > 62 {
                return fail(format!(
                    "a table of {} values in {rows} rows, index shift {index_shift}",
                    table.len()
                ));
            }
            if x.numel().checked_mul(width) != Some(out.numel()) {
                return fail(format!(
                    "{} indices of rows of {width} into {:?}",
                    x.numel(),
                    out.shape
                ));
            }
            let (lo, hi) = signed_range(out.bits.clamp(1, 63));
            if table.iter().any(|&v| v < lo || v > hi) {
                return fail(format!(
                    "table values beyond the output's {} bits",
                    out.bits
                ));
            }
        }
        QOp::GatherElements { axis, index_shift } => {
            let Some(idx) = value(1) else {
                return fail("GatherElements needs indices".into());
            };
            let (xs, is) = (&x.shape, &idx.shape);
            let fits = xs.len() == is.len()
                && *axis < xs.len()
                && (0..xs.len()).all(|d| d == *axis || is[d] <= xs[d]);
            if !fits || *index_shift > 62 || out.numel() != idx.numel() {
                return fail(format!(
                    "indices {is:?} (shift {index_shift}) into {xs:?} along axis {axis}"
                ));
            }
        }
        QOp::Pick { map } if map.len() != out.numel() || map.iter().any(|&i| i >= x.numel()) => {
            return fail(format!(
                "a pick of {} values from {} into {}",
                map.len(),
                x.numel(),
                out.numel()
            ));
        }
        QOp::Concat { axis, shifts } => {
            let shapes: Option<Vec<&Vec<usize>>> =
                (0..node.inputs.len()).map(|i| value(i).map(|v| &v.shape)).collect();
            let Some(shapes) = shapes else {
                return fail("an operand is not a value of the model".into());
            };
            let os = &out.shape;
            let fits = *axis < os.len()
                && shapes.iter().all(|s| {
                    s.len() == os.len() && (0..s.len()).all(|d| d == *axis || s[d] == os[d])
                })
                && shapes.iter().map(|s| s[*axis]).sum::<usize>() == os[*axis];
            if !fits || shifts.len() != shapes.len() || shifts.iter().any(|&d| d.unsigned_abs() > 62) {
                return fail(format!(
                    "a concatenation of {shapes:?} along axis {axis} (shifts {shifts:?}) into {os:?}"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}
