//! The per-model quantization report: bit-widths and scales of every tensor,
//! accumulator sizes, and float-vs-quantized agreement on a sample set.

use super::model::{QOp, QuantConfig, QuantModel};
use crate::error::Result;
use crate::exec::argmax;
use crate::exec::float::FloatRunner;
use crate::exec::integer::{IntegerRunner, dequantize_output};
use crate::graph::Graph;
use serde::Serialize;

/// One quantized node.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub op: String,
    pub shape: Vec<usize>,
    /// Output scale exponent: integers stand for `q · 2^-scale`.
    pub scale: i32,
    pub bits: u32,
    pub calibrated_max: f32,
    pub weight_scale: Option<i32>,
    /// Right shift applied by the rescale after the op.
    pub shift: Option<u32>,
    /// Worst-case signed bits of the accumulator before rescaling.
    pub accumulator_bits: Option<u32>,
    /// Entries of the lookup table.
    pub table_size: Option<usize>,
}

/// How closely the integer model follows the float one.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    pub samples: usize,
    /// Fraction of samples whose integer argmax equals the float argmax.
    pub argmax_agreement: f64,
    /// Largest |dequantized − float| over all outputs (before any final Softmax).
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
}

/// The report for one quantized model.
#[derive(Debug, Clone, Serialize)]
pub struct QuantReport {
    pub config: QuantConfig,
    pub input_scale: i32,
    pub input_bits: u32,
    pub softmax_dropped: bool,
    pub layers: Vec<LayerReport>,
    pub agreement: Agreement,
}

/// Builds the report, measuring agreement on `samples`.
pub fn build_report(
    graph: &Graph,
    model: &QuantModel,
    samples: &[Vec<f32>],
) -> Result<QuantReport> {
    let layers = model
        .nodes
        .iter()
        .map(|n| {
            let v = &model.values[n.output];
            let (weight_scale, shift, accumulator_bits, table_size) = match &n.op {
                QOp::Dense {
                    weight,
                    bias,
                    weight_scale,
                    shift,
                    ..
                }
                | QOp::Conv {
                    weight,
                    bias,
                    weight_scale,
                    shift,
                    ..
                } => {
                    let bits = accumulator_bits(weight, bias, model.values[n.inputs[0]].bits);
                    (Some(*weight_scale), Some(*shift), Some(bits), None)
                }
                QOp::MulConst { c_scale, shift, .. } => (Some(*c_scale), Some(*shift), None, None),
                QOp::Add { shift, .. }
                | QOp::Sub { shift, .. }
                | QOp::Mul { shift }
                | QOp::AddConst { shift, .. } => (None, Some(*shift), None, None),
                QOp::Lut {
                    table, in_shift, ..
                } => (None, Some(*in_shift), None, Some(table.len())),
                _ => (None, None, None, None),
            };
            LayerReport {
                name: n.name.clone(),
                op: n.op.kind().to_string(),
                shape: v.shape.clone(),
                scale: v.scale,
                bits: v.bits,
                calibrated_max: v.calibrated_max,
                weight_scale,
                shift,
                accumulator_bits,
                table_size,
            }
        })
        .collect();
    Ok(QuantReport {
        config: model.config.clone(),
        input_scale: model.input().scale,
        input_bits: model.input().bits,
        softmax_dropped: model.softmax_dropped,
        layers,
        agreement: agreement(graph, model, samples)?,
    })
}

fn accumulator_bits(weight: &[i64], bias: &[i64], input_bits: u32) -> u32 {
    let per_out = weight.len() / bias.len().max(1);
    let max_in = 2f64.powi(input_bits as i32 - 1);
    let bound = weight
        .chunks(per_out.max(1))
        .zip(bias)
        .map(|(row, b)| {
            row.iter().map(|w| w.unsigned_abs() as f64).sum::<f64>() * max_in
                + b.unsigned_abs() as f64
        })
        .fold(0.0, f64::max);
    (bound + 1.0).log2().ceil() as u32 + 1
}

/// Float vs integer outputs on `samples`.
pub fn agreement(graph: &Graph, model: &QuantModel, samples: &[Vec<f32>]) -> Result<Agreement> {
    let float = FloatRunner::new(graph)?;
    let integer = IntegerRunner::new(model)?;
    let (mut agree, mut max_err, mut sum_err, mut count) = (0usize, 0f64, 0f64, 0usize);
    for (i, s) in samples.iter().enumerate() {
        let f = float.run_all(s)?.swap_remove(graph.integer_output());
        let q = dequantize_output(model, &integer.run(&integer.quantize_input(i, s)?)?);
        agree += usize::from(argmax(&f) == argmax(&q));
        for (a, b) in f.iter().zip(&q) {
            let e = (f64::from(*a) - b).abs();
            max_err = max_err.max(e);
            sum_err += e;
            count += 1;
        }
    }
    Ok(Agreement {
        samples: samples.len(),
        argmax_agreement: agree as f64 / samples.len().max(1) as f64,
        max_abs_error: max_err,
        mean_abs_error: sum_err / count.max(1) as f64,
    })
}
