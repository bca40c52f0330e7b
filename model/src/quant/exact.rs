//! Which quantized values are exact integers: the float value is an integer and
//! its quantized form `q = v·2^s` (scale `s ≥ 0`) loses nothing. Comparison
//! results and argmax indices are; sums, products and rescales of exact values
//! stay exact when every constant they add or multiply by is an integer that
//! quantization kept exactly and the result's scale is not coarser than 1. A
//! table gather needs an exact index: a rounded one would pick another row.

use super::model::{QOp, QValue};
use crate::graph::{Node, Op};

/// Whether every value of `w` is an integer and `q[i]·2^-s` equals it.
fn kept(w: &[f32], q: &[i64], s: i32) -> bool {
    w.len() == q.len()
        && w.iter()
            .zip(q)
            .all(|(&v, &q)| v.fract() == 0.0 && q as f64 * 2f64.powi(-s) == f64::from(v))
}

/// Whether the output of `node`, lowered to `op` at `scale`, is an exact integer,
/// given which values already are.
pub(super) fn exact_integer(
    node: &Node,
    op: &QOp,
    values: &[QValue],
    exact: &[bool],
    scale: i32,
) -> bool {
    let input = |i: usize| {
        node.inputs
            .get(i)
            .is_some_and(|&v| exact.get(v) == Some(&true))
    };
    let s_in = node.inputs.first().map_or(0, |&v| values[v].scale);
    let whole = |v: &[f32]| v.iter().all(|x| x.fract() == 0.0);
    match (&node.op, op) {
        (Op::Compare { .. } | Op::CompareConst { .. } | Op::ArgMax, _) => true,
        (Op::GatherConst { table }, QOp::GatherConst { table: q, .. }) => {
            scale >= 0 && kept(&table.data, q, scale)
        }
        (
            Op::Pick { .. }
            | Op::GatherElements { .. }
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Relu
            | Op::MaxPool { .. },
            _,
        ) => input(0),
        (Op::Add | Op::Sub | Op::Mul, _) => input(0) && input(1) && scale >= 0,
        (Op::Concat { .. }, _) => (0..node.inputs.len()).all(input) && scale >= 0,
        (Op::AddConst { c }, _) => input(0) && whole(&c.data) && s_in >= 0 && scale >= 0,
        (Op::MulConst { c }, QOp::MulConst { c: q, c_scale, .. }) => {
            input(0) && kept(&c.data, q, *c_scale) && scale >= 0
        }
        (
            Op::Dense { weight, bias },
            QOp::Dense {
                weight: q,
                weight_scale,
                ..
            },
        ) => {
            input(0)
                && kept(&weight.data, q, *weight_scale)
                && whole(bias)
                && s_in + weight_scale >= 0
                && scale >= 0
        }
        _ => false,
    }
}
