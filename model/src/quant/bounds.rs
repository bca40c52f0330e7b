//! Worst-case magnitude bounds of every tensor for inputs with |x| ≤ R, by
//! interval arithmetic through the weights. Quantizing with these bounds (instead
//! of calibration samples) guarantees that no input within ±R overflows any
//! intermediate, at the price of coarser scales.

use crate::graph::{Graph, Op};

/// Upper bound of |value| for every value of `graph` when every input |x| ≤ `input_range`.
pub fn interval_bounds(graph: &Graph, input_range: f32) -> Vec<f32> {
    let mut b = vec![0f32; graph.values.len()];
    b[0] = input_range.abs();
    for node in &graph.nodes {
        let x = b[node.inputs[0]];
        let y = node.inputs.get(1).map_or(0.0, |&v| b[v]);
        let max_abs = |d: &[f32]| d.iter().fold(0f32, |m, v| m.max(v.abs()));
        b[node.output] = match &node.op {
            Op::Dense { weight, bias } | Op::Conv { weight, bias, .. } => {
                let per_out = weight.data.len() / bias.len().max(1);
                weight
                    .data
                    .chunks(per_out.max(1))
                    .zip(bias)
                    .map(|(row, bb)| row.iter().map(|w| w.abs()).sum::<f32>() * x + bb.abs())
                    .fold(0.0, f32::max)
            }
            Op::Add | Op::Sub => x + y,
            Op::Mul => x * y,
            Op::AddConst { c } => x + max_abs(&c.data),
            Op::MulConst { c } => x * max_abs(&c.data),
            Op::LeakyRelu { alpha } => x * alpha.abs().max(1.0),
            Op::Sigmoid | Op::Tanh | Op::Softmax | Op::Compare { .. } | Op::CompareConst { .. } => {
                1.0
            }
            Op::ArgMax => graph.values[node.inputs[0]]
                .shape
                .last()
                .map_or(0.0, |&n| n.saturating_sub(1) as f32),
            Op::GatherConst { table } => max_abs(&table.data),
            Op::Concat { .. } => node.inputs.iter().map(|&v| b[v]).fold(0.0, f32::max),
            Op::MaxPool { .. }
            | Op::AvgPool { .. }
            | Op::GlobalAvgPool
            | Op::Relu
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Pick { .. }
            | Op::GatherElements { .. } => x,
        };
    }
    b
}
