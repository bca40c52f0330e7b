//! The integer reference: the exact semantics of a [`QuantModel`], op by op.
//! Matmuls and convolutions run on candle-core in f64, which is exact because
//! quantization bounds every accumulator below 2^53; everything else is plain
//! i64 arithmetic with the rounding rules of [`fixed`](crate::quant::fixed).
//! Every output is checked against its bit-width, as the circuits do.

mod elementwise;
mod linear;
mod pool;
mod select;

pub use select::first_max;
pub use select::row_index;

use crate::error::{ModelError, Result};
use crate::quant::fixed::{dequantize, quantize_scalar, signed_range};
use crate::quant::model::{QNode, QOp, QuantModel};
use candle_core::Tensor;

/// An integer executor for one quantized model.
#[derive(Debug)]
pub struct IntegerRunner<'m> {
    model: &'m QuantModel,
    /// Per node: the weight matrix as an f64 tensor (Dense/Conv only).
    weights: Vec<Option<Tensor>>,
}

impl<'m> IntegerRunner<'m> {
    pub fn new(model: &'m QuantModel) -> Result<Self> {
        crate::quant::check_selection_ops(model)?;
        let weights = model
            .nodes
            .iter()
            .map(|n| linear::prepare(&n.name, &n.op))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { model, weights })
    }

    /// Quantizes a flat float input to the model's input scale, rejecting values out of range.
    pub fn quantize_input(&self, sample: usize, input: &[f32]) -> Result<Vec<i64>> {
        quantize_input(self.model, sample, input)
    }

    /// Every value (indexed by value id) for one quantized input.
    pub fn run_all(&self, input: &[i64]) -> Result<Vec<Vec<i64>>> {
        let m = self.model;
        let expected = m.input().numel();
        if input.len() != expected {
            return Err(ModelError::IntegerExecution {
                node: "input".into(),
                reason: format!("{} values for an input of {expected}", input.len()),
            });
        }
        check_range(m, 0, input, "input")?;
        let mut values: Vec<Vec<i64>> = vec![Vec::new(); m.values.len()];
        values[0] = input.to_vec();
        for (node, weight) in m.nodes.iter().zip(&self.weights) {
            let out = self.eval(node, &values, weight.as_ref())?;
            check_range(m, node.output, &out, &node.name)?;
            values[node.output] = out;
        }
        Ok(values)
    }

    /// The model output for one quantized input.
    pub fn run(&self, input: &[i64]) -> Result<Vec<i64>> {
        Ok(self.run_all(input)?.swap_remove(self.model.output))
    }

    fn eval(&self, node: &QNode, values: &[Vec<i64>], weight: Option<&Tensor>) -> Result<Vec<i64>> {
        let m = self.model;
        let inputs: Vec<OpInput> = node
            .inputs
            .iter()
            .map(|&v| OpInput {
                data: &values[v],
                shape: &m.values[v].shape,
                scale: m.values[v].scale,
            })
            .collect();
        eval_with(
            &node.name,
            &node.op,
            &inputs,
            &m.values[node.output].shape,
            weight,
        )
    }
}

/// One operand of an integer op: its integers, shape and scale.
#[derive(Debug, Clone, Copy)]
pub struct OpInput<'a> {
    pub data: &'a [i64],
    pub shape: &'a [usize],
    pub scale: i32,
}

/// Evaluates a single integer op (the per-layer reference the circuits check their chips against).
/// No range check is applied to the result.
pub fn eval_op(name: &str, op: &QOp, inputs: &[OpInput], out_shape: &[usize]) -> Result<Vec<i64>> {
    let weight = linear::prepare(name, op)?;
    eval_with(name, op, inputs, out_shape, weight.as_ref())
}

fn eval_with(
    name: &str,
    op: &QOp,
    inputs: &[OpInput],
    out_shape: &[usize],
    weight: Option<&Tensor>,
) -> Result<Vec<i64>> {
    let missing = || ModelError::IntegerExecution {
        node: name.to_string(),
        reason: "missing operand".into(),
    };
    let exec = |source| ModelError::Execution {
        node: name.to_string(),
        source,
    };
    let x = inputs.first().ok_or_else(missing)?;
    let y = || inputs.get(1).ok_or_else(missing);
    Ok(match op {
        QOp::Dense {
            weight: w,
            weight_shape,
            bias,
            shift,
            ..
        } if linear::is_small(x.data.len(), weight_shape) => {
            linear::dense_small(x.data, w, *weight_shape, bias, *shift)
        }
        QOp::Dense { bias, shift, .. } => {
            linear::dense(x.data, weight.ok_or_else(missing)?, bias, *shift).map_err(exec)?
        }
        QOp::Conv {
            bias,
            window,
            shift,
            ..
        } => linear::conv(
            x.data,
            x.shape,
            out_shape,
            weight.ok_or_else(missing)?,
            bias,
            window,
            *shift,
        )
        .map_err(exec)?,
        QOp::MaxPool { window } => pool::max_pool(x.data, x.shape, out_shape, window),
        QOp::AvgPool {
            window,
            count_include_pad,
        } => pool::avg_pool(x.data, x.shape, out_shape, window, *count_include_pad),
        QOp::GlobalAvgPool => pool::global_avg_pool(x.data, x.shape),
        QOp::Add { align, shift } => {
            let y = y()?;
            elementwise::binary(x.data, x.shape, y.data, y.shape, out_shape, |a, b| {
                ((a << align[0]) + (b << align[1]), *shift)
            })
        }
        QOp::Sub { align, shift } => {
            let y = y()?;
            elementwise::binary(x.data, x.shape, y.data, y.shape, out_shape, |a, b| {
                ((a << align[0]) - (b << align[1]), *shift)
            })
        }
        QOp::Mul { shift } => {
            let y = y()?;
            elementwise::binary(x.data, x.shape, y.data, y.shape, out_shape, |a, b| {
                (a * b, *shift)
            })
        }
        QOp::AddConst { c, c_shape, shift } => {
            elementwise::binary(x.data, x.shape, c, c_shape, out_shape, |a, b| {
                (a + b, *shift)
            })
        }
        QOp::MulConst {
            c, c_shape, shift, ..
        } => elementwise::binary(x.data, x.shape, c, c_shape, out_shape, |a, b| {
            (a * b, *shift)
        }),
        QOp::Relu => x.data.iter().map(|&v| v.max(0)).collect(),
        QOp::LeakyRelu { alpha, alpha_scale } => {
            elementwise::leaky_relu(x.data, *alpha, *alpha_scale)
        }
        QOp::Lut {
            in_shift,
            offset,
            table,
            ..
        } => elementwise::lookup(x.data, *in_shift, *offset, table, name, x.scale)?,
        QOp::Reshape => x.data.to_vec(),
        QOp::Transpose { perm } => crate::graph::broadcast::transpose(x.data, x.shape, perm),
        QOp::Compare { cmp, align } => {
            let y = y()?;
            elementwise::binary(x.data, x.shape, y.data, y.shape, out_shape, |a, b| {
                (cmp.indicator(a << align[0], b << align[1]), 0)
            })
        }
        QOp::CompareConst { cmp, c, c_shape } => {
            elementwise::binary(x.data, x.shape, c, c_shape, out_shape, |a, b| {
                (cmp.indicator(a, b), 0)
            })
        }
        QOp::ArgMax => select::argmax(x.data, x.shape.last().copied().unwrap_or(1), name)?,
        QOp::GatherConst {
            table,
            rows,
            index_shift,
        } => select::gather_const(x.data, table, *rows, *index_shift, x.scale, name)?,
        QOp::Pick { map } => select::pick(x.data, map, name)?,
        QOp::Concat { axis, shifts } => select::concat(inputs, *axis, shifts, name)?,
        QOp::GatherElements { axis, index_shift } => {
            let idx = y()?;
            select::gather_elements(x, idx, *axis, *index_shift, name)?
        }
    })
}

/// Quantizes a flat float input to `model`'s input scale, rejecting non-finite or out-of-range values.
pub fn quantize_input(model: &QuantModel, sample: usize, input: &[f32]) -> Result<Vec<i64>> {
    let info = model.input();
    crate::exec::validate_input(
        &crate::graph::ValueInfo {
            name: info.name.clone(),
            shape: info.shape.clone(),
        },
        sample,
        input,
    )?;
    let (lo, hi) = signed_range(info.bits);
    input
        .iter()
        .enumerate()
        .map(|(index, &x)| {
            let q = quantize_scalar(f64::from(x), info.scale);
            if q < lo || q > hi {
                Err(ModelError::InputOutOfRange {
                    sample,
                    index,
                    value: x,
                    limit: dequantize(hi, info.scale),
                })
            } else {
                Ok(q)
            }
        })
        .collect()
}

/// Dequantizes the model output.
pub fn dequantize_output(model: &QuantModel, q: &[i64]) -> Vec<f64> {
    let s = model.output_info().scale;
    q.iter().map(|&v| dequantize(v, s)).collect()
}

/// Checks that every integer of value `value` fits its bit-width (as [`IntegerRunner`] does after
/// each node), naming `node` in the error.
pub fn check_range(model: &QuantModel, value: usize, data: &[i64], node: &str) -> Result<()> {
    let info = &model.values[value];
    let (lo, hi) = signed_range(info.bits);
    match data.iter().find(|&&v| v < lo || v > hi) {
        Some(&v) => Err(ModelError::Overflow {
            node: node.to_string(),
            value: v,
            bits: info.bits,
            scale: info.scale,
        }),
        None => Ok(()),
    }
}

/// Convenience: quantize a float input and run the model.
pub fn run(model: &QuantModel, input: &[f32]) -> Result<Vec<i64>> {
    let runner = IntegerRunner::new(model)?;
    let q = runner.quantize_input(0, input)?;
    runner.run(&q)
}
