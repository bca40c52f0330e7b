//! Lowering of each float op to its integer op, choosing output scales.

use super::calibrate::value_ranges;
use super::fixed::{fitting_scale, quantize_scalar, signed_range};
use super::model::{LutFunction, QNode, QOp, QValue, QuantConfig, QuantModel};
use crate::error::{ModelError, Result};
use crate::graph::compare::Comparison;
use crate::graph::constant::Weights;
use crate::graph::{Graph, Node, Op};

/// Accumulators stay below 2^53 so the f64 matmuls of the reference are exact.
const EXACT_F64_BITS: u32 = 53;

/// Whether a magnitude bound reaches 2^[`EXACT_F64_BITS`], where f64 stops being exact.
fn beyond_exact_f64(bound: f64) -> bool {
    bound >= 2f64.powi(EXACT_F64_BITS as i32)
}

/// The largest rescale (`2^-62`): with accumulators below 2^53, `round_shift`'s
/// half-up offset cannot overflow an `i64`.
const MAX_SHIFT: i32 = 62;

/// The finest scale of a LeakyRelu slope: `alpha · 2^-24`.
const MAX_ALPHA_SCALE: i32 = 24;

/// Quantizes `graph`, calibrating scales on `samples` (flat input vectors).
pub fn quantize(graph: &Graph, samples: &[Vec<f32>], config: &QuantConfig) -> Result<QuantModel> {
    validate(config)?;
    let ranges = value_ranges(graph, samples)?;
    quantize_with_ranges(graph, &ranges, config)
}

/// Quantizes `graph` for every input with |x| ≤ `input_range`, with scales from
/// worst-case bounds through the weights (no samples, no headroom needed): no
/// input within the range can overflow.
pub fn quantize_for_range(
    graph: &Graph,
    input_range: f32,
    config: &QuantConfig,
) -> Result<QuantModel> {
    if !(input_range.is_finite() && input_range > 0.0) {
        return Err(ModelError::InvalidConfig(format!(
            "input range {input_range} must be positive and finite"
        )));
    }
    let config = QuantConfig {
        headroom_bits: 0,
        ..config.clone()
    };
    validate(&config)?;
    let ranges = super::bounds::interval_bounds(graph, input_range);
    quantize_with_ranges(graph, &ranges, &config)
}

fn quantize_with_ranges(graph: &Graph, ranges: &[f32], config: &QuantConfig) -> Result<QuantModel> {
    // An output width equal to the activations' is the default: one model, one JSON, one id.
    let config = &QuantConfig {
        output_bits: config.output_bits.filter(|&b| b != config.activation_bits),
        ..config.clone()
    };
    let ranges = ranges.to_vec();
    let softmax_dropped = graph.ends_in_softmax();
    let nodes: &[Node] = if softmax_dropped {
        &graph.nodes[..graph.nodes.len() - 1]
    } else {
        &graph.nodes
    };
    let input = graph.input();
    let input_scale = fitting_scale(
        f64::from(ranges[0]),
        config.activation_bits,
        config.headroom_bits,
    )
    .unwrap_or(config.activation_bits as i32 - 2);
    let mut values = vec![QValue {
        name: input.name.clone(),
        shape: input.shape.clone(),
        scale: input_scale,
        bits: config.activation_bits,
        calibrated_max: ranges[0],
    }];
    let output = graph.integer_output();
    if config.output_bits.is_some()
        && let Some(last) = nodes.iter().find(|n| n.output == output)
        && !rescales(&last.op)
    {
        return Err(ModelError::InvalidConfig(format!(
            "output_bits needs the model's output to come from an operator that rescales \
             (Dense, Conv, Add, Mul, a sigmoid/tanh table); '{}' keeps its input's scale",
            last.name
        )));
    }
    let mut qnodes = Vec::with_capacity(nodes.len());
    // Which values are exact integers (`exact.rs`); the input is a real number.
    let mut exact = vec![false];
    for node in nodes {
        if node.output != values.len() {
            return Err(ModelError::IntegerExecution {
                node: node.name.clone(),
                reason: "values out of order".into(),
            });
        }
        let bits = if node.output == output {
            config.output_bits()
        } else {
            config.activation_bits
        };
        let l = Lowering {
            config,
            ranges: &ranges,
            values: &values,
            exact: &exact,
            node,
            bits,
        };
        let (op, scale) = l.lower()?;
        exact.push(super::exact::exact_integer(node, &op, &values, &exact, scale));
        let info = &graph.values[node.output];
        values.push(QValue {
            name: info.name.clone(),
            shape: info.shape.clone(),
            scale,
            bits,
            calibrated_max: ranges[node.output],
        });
        qnodes.push(QNode {
            name: node.name.clone(),
            op,
            inputs: node.inputs.clone(),
            output: node.output,
        });
    }
    Ok(QuantModel {
        config: config.clone(),
        values,
        nodes: qnodes,
        output,
        softmax_dropped,
    })
}

/// Whether `op` chooses its output's scale (and so can honour `output_bits`).
fn rescales(op: &Op) -> bool {
    matches!(
        op,
        Op::Dense { .. }
            | Op::Conv { .. }
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::AddConst { .. }
            | Op::MulConst { .. }
            | Op::Sigmoid
            | Op::Tanh
    )
}

fn validate(c: &QuantConfig) -> Result<()> {
    let bad = |m: String| Err(ModelError::InvalidConfig(m));
    if !(2..=16).contains(&c.weight_bits) {
        return bad(format!("weight_bits {} must be in 2..=16", c.weight_bits));
    }
    if !(4..=24).contains(&c.activation_bits) {
        return bad(format!(
            "activation_bits {} must be in 4..=24",
            c.activation_bits
        ));
    }
    if !(2..=16).contains(&c.lut_bits) {
        return bad(format!("lut_bits {} must be in 2..=16", c.lut_bits));
    }
    if c.lut_max_scale < -16 {
        return bad(format!("lut_max_scale {} must be at least -16", c.lut_max_scale));
    }
    if let Some(b) = c.output_bits
        && !(4..=32).contains(&b)
    {
        return bad(format!("output_bits {b} must be in 4..=32"));
    }
    if c.headroom_bits > 8 {
        return bad(format!(
            "headroom_bits {} must be at most 8",
            c.headroom_bits
        ));
    }
    Ok(())
}

struct Lowering<'a> {
    config: &'a QuantConfig,
    ranges: &'a [f32],
    values: &'a [QValue],
    /// Per value so far: whether it is an exact integer.
    exact: &'a [bool],
    node: &'a Node,
    /// Signed bits of this node's output value.
    bits: u32,
}

impl Lowering<'_> {
    fn scale_of(&self, input: usize) -> i32 {
        self.values[self.node.inputs[input]].scale
    }

    /// Output scale after an exact result at `work` scale: as fine as the calibrated
    /// range allows, never finer than `work` (so the rescale shift is ≥ 0).
    fn out_scale(&self, work: i32) -> Result<(i32, u32)> {
        let c = self.config;
        let fit = fitting_scale(
            f64::from(self.ranges[self.node.output]),
            self.bits,
            c.headroom_bits,
        );
        let scale = fit.map_or(work, |f| f.min(work));
        Ok((scale, self.shift(work - scale)?))
    }

    /// A rescale by `2^-d`, refused past [`MAX_SHIFT`] (values this far apart in scale
    /// come from weights or ranges no fixed-point model can hold).
    fn shift(&self, d: i32) -> Result<u32> {
        if d > MAX_SHIFT {
            return Err(self.fail(format!(
                "a rescale by 2^-{d} (more than 2^-{MAX_SHIFT}): the model's values span too \
                 wide a range of magnitudes"
            )));
        }
        Ok(d.max(0) as u32)
    }

    fn weight_scale(&self, w: &Weights) -> i32 {
        fitting_scale(f64::from(w.max_abs()), self.config.weight_bits, 0).unwrap_or(0)
    }

    fn fail(&self, reason: String) -> ModelError {
        ModelError::InvalidConfig(format!("node '{}': {reason}", self.node.name))
    }

    /// Checks that `bound` (an upper bound on |accumulator|) keeps the reference exact.
    fn check_bound(&self, bound: f64) -> Result<()> {
        if beyond_exact_f64(bound) {
            return Err(self.fail(format!(
                "accumulator bound {bound:e} exceeds 2^{EXACT_F64_BITS}; lower the bit-widths"
            )));
        }
        Ok(())
    }

    fn max_activation(&self) -> f64 {
        2f64.powi(self.config.activation_bits as i32 - 1)
    }

    fn lower(&self) -> Result<(QOp, i32)> {
        let s_in = self.scale_of(0);
        Ok(match &self.node.op {
            Op::Dense { weight, bias } => {
                let (w, b, s_w) = self.quantize_layer(weight, bias, s_in)?;
                let (scale, shift) = self.out_scale(s_in + s_w)?;
                let weight_shape = [weight.shape[0], weight.shape[1]];
                (
                    QOp::Dense {
                        weight: w,
                        weight_shape,
                        bias: b,
                        weight_scale: s_w,
                        shift,
                    },
                    scale,
                )
            }
            Op::Conv {
                weight,
                bias,
                window,
            } => {
                let (w, b, s_w) = self.quantize_layer(weight, bias, s_in)?;
                let (scale, shift) = self.out_scale(s_in + s_w)?;
                let ws = &weight.shape;
                let weight_shape = [ws[0], ws[1], ws[2], ws[3]];
                (
                    QOp::Conv {
                        weight: w,
                        weight_shape,
                        bias: b,
                        window: window.clone(),
                        weight_scale: s_w,
                        shift,
                    },
                    scale,
                )
            }
            Op::MaxPool { window } => (
                QOp::MaxPool {
                    window: window.clone(),
                },
                s_in,
            ),
            Op::AvgPool {
                window,
                count_include_pad,
            } => (
                QOp::AvgPool {
                    window: window.clone(),
                    count_include_pad: *count_include_pad,
                },
                s_in,
            ),
            Op::GlobalAvgPool => (QOp::GlobalAvgPool, s_in),
            Op::Add | Op::Sub => {
                let align = self.align(s_in, self.scale_of(1))?;
                let (scale, shift) = self.out_scale(s_in.max(self.scale_of(1)))?;
                let op = if matches!(self.node.op, Op::Add) {
                    QOp::Add { align, shift }
                } else {
                    QOp::Sub { align, shift }
                };
                (op, scale)
            }
            Op::Mul => {
                let (scale, shift) = self.out_scale(s_in + self.scale_of(1))?;
                (QOp::Mul { shift }, scale)
            }
            Op::AddConst { c } => {
                // The constant joins the input at its scale: its size bounds the sum.
                let c_max = c.data.iter().fold(0f32, |m, &v| m.max(v.abs()));
                if beyond_exact_f64(self.max_activation() + f64::from(c_max) * 2f64.powi(s_in)) {
                    return Err(self.fail(format!(
                        "the added constant {c_max:e} at the input's scale 2^{s_in} exceeds \
                         2^{EXACT_F64_BITS}"
                    )));
                }
                let q: Vec<i64> = c
                    .data
                    .iter()
                    .map(|&v| quantize_scalar(f64::from(v), s_in))
                    .collect();
                let (scale, shift) = self.out_scale(s_in)?;
                (
                    QOp::AddConst {
                        c: q,
                        c_shape: c.shape.clone(),
                        shift,
                    },
                    scale,
                )
            }
            Op::MulConst { c } => {
                let s_c = self.weight_scale(c);
                let q: Vec<i64> = c
                    .data
                    .iter()
                    .map(|&v| quantize_scalar(f64::from(v), s_c))
                    .collect();
                let (scale, shift) = self.out_scale(s_in + s_c)?;
                (
                    QOp::MulConst {
                        c: q,
                        c_shape: c.shape.clone(),
                        c_scale: s_c,
                        shift,
                    },
                    scale,
                )
            }
            Op::Relu => (QOp::Relu, s_in),
            Op::LeakyRelu { alpha } => {
                let (alpha, alpha_scale) = self.leaky_alpha(*alpha)?;
                (QOp::LeakyRelu { alpha, alpha_scale }, s_in)
            }
            Op::Sigmoid => self.lut(LutFunction::Sigmoid, s_in)?,
            Op::Tanh => self.lut(LutFunction::Tanh, s_in)?,
            Op::Reshape => (QOp::Reshape, s_in),
            Op::Transpose { perm } => (QOp::Transpose { perm: perm.clone() }, s_in),
            Op::Compare { cmp } => {
                let align = self.align(s_in, self.scale_of(1))?;
                (QOp::Compare { cmp: *cmp, align }, 0)
            }
            Op::CompareConst { cmp, c, c_shape } => (self.compare_const(*cmp, c, c_shape, s_in), 0),
            Op::ArgMax => {
                let n = self.values[self.node.inputs[0]].shape.last().copied().unwrap_or(1);
                if n.saturating_sub(1) as f64 >= self.max_activation() {
                    return Err(self.fail(format!(
                        "ArgMax over {n} values: the index does not fit {} bits",
                        self.bits
                    )));
                }
                (QOp::ArgMax, 0)
            }
            Op::GatherConst { table } => self.gather_const(table)?,
            Op::Pick { map } => (QOp::Pick { map: map.clone() }, s_in),
            Op::Concat { axis } => {
                // The finest input scale, or coarser where the output's range needs it:
                // finer inputs are rounded to it, coarser ones multiplied up (exact; the
                // output's range bounds every input's, so a lifted value still fits).
                let scales: Vec<i32> = (0..self.node.inputs.len()).map(|i| self.scale_of(i)).collect();
                let work = scales.iter().copied().max().unwrap_or(s_in);
                let (scale, _) = self.out_scale(work)?;
                let shifts = scales
                    .iter()
                    .map(|&s| match s - scale {
                        d if d >= 0 => self.shift(d).map(|d| d as i32),
                        d => self.shift(-d).map(|_| d),
                    })
                    .collect::<Result<Vec<i32>>>()?;
                (QOp::Concat { axis: *axis, shifts }, scale)
            }
            Op::GatherElements { axis } => {
                let index_shift = self.index_shift(1)?;
                (QOp::GatherElements { axis: *axis, index_shift }, s_in)
            }
            Op::Softmax => {
                return Err(ModelError::unsupported_use(
                    "Softmax",
                    &self.node.name,
                    "Softmax is only supported as the final op",
                ));
            }
        })
    }

    /// Left shifts that bring operands at scales `sa` and `sb` to the finer of the two.
    fn align(&self, sa: i32, sb: i32) -> Result<[u32; 2]> {
        let work = sa.max(sb);
        let align = [(work - sa) as u32, (work - sb) as u32];
        if align.iter().any(|&a| a + self.config.activation_bits > 60) {
            return Err(self.fail(format!(
                "operand scales 2^{sa} and 2^{sb} are too far apart"
            )));
        }
        Ok(align)
    }

    /// `x cmp c` on integers: each threshold moved to the integer that decides the real
    /// comparison exactly for every input integer, then clamped to one step beyond the
    /// input's range (where every comparison is already decided).
    fn compare_const(&self, cmp: Comparison, c: &[f64], c_shape: &[usize], s_in: i32) -> QOp {
        let (lo, hi) = signed_range(self.values[self.node.inputs[0]].bits);
        let (lo, hi) = ((lo - 1) as f64, (hi + 1) as f64);
        let q = c
            .iter()
            .map(|&t| {
                let mut scaled = t * 2f64.powi(s_in);
                if scaled == 0.0 && t != 0.0 {
                    // Underflow: any magnitude below 1 rounds to the same integer threshold.
                    scaled = f64::MIN_POSITIVE.copysign(t);
                }
                let k = cmp.integer_threshold(scaled);
                k.map_or(hi, |k| k.clamp(lo, hi)) as i64
            })
            .collect();
        QOp::CompareConst {
            cmp,
            c: q,
            c_shape: c_shape.to_vec(),
        }
    }

    /// The shift that turns input `i`, a tensor of indices, into integers: its scale,
    /// which may not be coarser than 1, and it must be an exact integer ([`super::exact`]).
    fn index_shift(&self, i: usize) -> Result<u32> {
        let s = self.scale_of(i);
        if s < 0 || !self.exact[self.node.inputs[i]] {
            return Err(self.fail(format!(
                "its indices are not exact integers at their scale 2^{s} (a constant they \
                 were computed with is not an integer, or was rounded to {} weight bits)",
                self.config.weight_bits
            )));
        }
        Ok(s as u32)
    }

    /// A gather from a constant table: the index must be an exact integer at the input's
    /// scale (so that scale may not be coarser than 1); the table is quantized at the
    /// finest scale its largest value allows.
    fn gather_const(&self, table: &Weights) -> Result<(QOp, i32)> {
        let index_shift = self.index_shift(0)?;
        let scale = match fitting_scale(f64::from(table.max_abs()), self.bits, 0) {
            Some(s) if s < 0 => {
                return Err(self.fail(format!(
                    "table values up to {} do not fit {} bits",
                    table.max_abs(),
                    self.bits
                )));
            }
            fit => fit.unwrap_or(0),
        };
        let q = table
            .data
            .iter()
            .map(|&v| quantize_scalar(f64::from(v), scale))
            .collect();
        Ok((
            QOp::GatherConst {
                table: q,
                rows: table.shape.first().copied().unwrap_or(0),
                index_shift,
            },
            scale,
        ))
    }

    /// LeakyRelu's slope as `alpha · 2^-scale` with `alpha` within the weight bits. The scale
    /// stops at [`MAX_ALPHA_SCALE`]: a slope below that precision rounds to what it holds
    /// (a slope under 2^-25 is a ReLU). A slope too large for the weight bits is an error.
    fn leaky_alpha(&self, alpha: f32) -> Result<(i64, u32)> {
        let bits = self.config.weight_bits;
        let s = fitting_scale(f64::from(alpha.abs()), bits, 0).unwrap_or(0);
        if s < 0 || !alpha.is_finite() {
            return Err(ModelError::unsupported_use(
                "LeakyRelu",
                &self.node.name,
                format!("alpha {alpha} does not fit {bits}-bit weights"),
            ));
        }
        let s = s.min(MAX_ALPHA_SCALE);
        Ok((quantize_scalar(f64::from(alpha), s), s as u32))
    }

    /// Weights at their own power-of-two scale, bias at the accumulator's scale.
    fn quantize_layer(
        &self,
        weight: &Weights,
        bias: &[f32],
        s_in: i32,
    ) -> Result<(Vec<i64>, Vec<i64>, i32)> {
        let s_w = self.weight_scale(weight);
        let w: Vec<i64> = weight
            .data
            .iter()
            .map(|&v| quantize_scalar(f64::from(v), s_w))
            .collect();
        let b: Vec<i64> = bias
            .iter()
            .map(|&v| quantize_scalar(f64::from(v), s_in + s_w))
            .collect();
        let per_out = w.len() / b.len().max(1);
        for (o, row) in w.chunks(per_out.max(1)).enumerate() {
            let sum: f64 = row.iter().map(|v| v.unsigned_abs() as f64).sum();
            self.check_bound(
                sum * self.max_activation() + b.get(o).map_or(0.0, |v| v.unsigned_abs() as f64),
            )?;
        }
        Ok((w, b, s_w))
    }

    /// A lookup table indexed by the input rescaled to the table's scale: the finest of the
    /// input's own scale, `lut_max_scale` and what `lut_bits` can span; then the fewest index
    /// bits that still span the input's range (with headroom) at that scale.
    fn lut(&self, function: LutFunction, s_in: i32) -> Result<(QOp, i32)> {
        let c = self.config;
        let in_range = f64::from(self.ranges[self.node.inputs[0]]);
        let s_t = fitting_scale(in_range, c.lut_bits, c.headroom_bits)
            .map_or(s_in, |f| f.min(s_in))
            .min(c.lut_max_scale);
        let bits = (2..c.lut_bits)
            .find(|&b| fitting_scale(in_range, b, c.headroom_bits).is_some_and(|f| f >= s_t))
            .unwrap_or(c.lut_bits);
        let s_out = self.bits as i32 - 2;
        let offset = 1i64 << (bits - 1);
        let table = (0..(1i64 << bits))
            .map(|i| quantize_scalar(function.eval((i - offset) as f64 * 2f64.powi(-s_t)), s_out))
            .collect();
        Ok((
            QOp::Lut {
                function,
                in_shift: self.shift(s_in - s_t)?,
                offset,
                table,
            },
            s_out,
        ))
    }
}
