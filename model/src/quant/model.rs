//! The quantized integer model: the exact computation circuits and FHE reproduce.

use crate::graph::ValueId;
use crate::graph::compare::Comparison;
use crate::graph::geometry::Window;
use serde::{Deserialize, Serialize};

/// Bit-widths and margins that drive quantization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantConfig {
    /// Signed bits of every weight (and of constant multipliers).
    pub weight_bits: u32,
    /// Signed bits every activation is range-checked to.
    pub activation_bits: u32,
    /// Most input bits of a sigmoid/tanh lookup table (table size at most `2^lut_bits`).
    pub lut_bits: u32,
    /// Finest input step of a sigmoid/tanh table as a scale (`2^-lut_max_scale`; 7 = 1/128, EZKL's
    /// default input scale): a table spans its input's calibrated range (with headroom) at this
    /// step or the coarsest one `lut_bits` allows, so a narrow input gets a small table and a
    /// small circuit.
    #[serde(default = "uncapped_lut_scale")]
    pub lut_max_scale: i32,
    /// Extra bits of range above the calibrated maximum of each tensor.
    pub headroom_bits: u32,
    /// Signed bits of the model's output (its last value, before a dropped Softmax); `None`:
    /// `activation_bits`. Outputs need no further arithmetic, so an encrypted model can keep its
    /// hidden activations narrow (few bootstraps) and its logits fine (no argmax ties).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bits: Option<u32>,
}

impl Default for QuantConfig {
    fn default() -> Self {
        Self {
            weight_bits: 10,
            activation_bits: 16,
            lut_bits: 12,
            lut_max_scale: 7,
            headroom_bits: 1,
            output_bits: None,
        }
    }
}

/// Configs written before `lut_max_scale` existed had no cap (full `2^lut_bits` tables).
fn uncapped_lut_scale() -> i32 {
    i32::MAX
}

impl QuantConfig {
    /// Signed bits of the model's output value.
    pub fn output_bits(&self) -> u32 {
        self.output_bits.unwrap_or(self.activation_bits)
    }
}

/// A quantized tensor: integers `q` standing for `q · 2^-scale`, each in `bits` signed bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QValue {
    pub name: String,
    pub shape: Vec<usize>,
    pub scale: i32,
    pub bits: u32,
    /// Largest |x| seen in the float model on the calibration set.
    pub calibrated_max: f32,
}

impl QValue {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Which function a lookup table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LutFunction {
    Sigmoid,
    Tanh,
}

impl LutFunction {
    pub fn eval(self, x: f64) -> f64 {
        match self {
            LutFunction::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            LutFunction::Tanh => x.tanh(),
        }
    }
}

/// An integer op. "Round-shift by d" means [`round_shift`](super::fixed::round_shift).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QOp {
    /// `out[o] = round_shift(Σ_i w[o,i]·x[i] + bias[o], shift)`; weight `[out, in]`.
    Dense {
        weight: Vec<i64>,
        weight_shape: [usize; 2],
        bias: Vec<i64>,
        weight_scale: i32,
        shift: u32,
    },
    /// 2-D convolution with the same rescale; weight `[co, ci, kh, kw]`.
    Conv {
        weight: Vec<i64>,
        weight_shape: [usize; 4],
        bias: Vec<i64>,
        window: Window,
        weight_scale: i32,
        shift: u32,
    },
    /// Max over each window (padding ignored).
    MaxPool { window: Window },
    /// `round_div(Σ window, n)` with `n` the window size (or its non-padding part).
    AvgPool {
        window: Window,
        count_include_pad: bool,
    },
    /// `round_div(Σ_{h,w} x, H·W)` per channel.
    GlobalAvgPool,
    /// `round_shift((a << align[0]) + (b << align[1]), shift)`, broadcasting.
    Add { align: [u32; 2], shift: u32 },
    /// `round_shift((a << align[0]) - (b << align[1]), shift)`, broadcasting.
    Sub { align: [u32; 2], shift: u32 },
    /// `round_shift(a · b, shift)`, broadcasting.
    Mul { shift: u32 },
    /// The inputs joined along `axis`, input `i` first brought to the output's scale:
    /// `round_shift(·, shifts[i])` when `shifts[i] ≥ 0`, times `2^−shifts[i]` when negative
    /// (an input at a coarser scale than the output, e.g. an ArgMax's index beside
    /// probabilities).
    Concat { axis: usize, shifts: Vec<i32> },
    /// `round_shift(x + c, shift)`; `c` at the input's scale, broadcast into x.
    AddConst {
        c: Vec<i64>,
        c_shape: Vec<usize>,
        shift: u32,
    },
    /// `round_shift(x · c, shift)`; `c` at scale `c_scale`, broadcast into x.
    MulConst {
        c: Vec<i64>,
        c_shape: Vec<usize>,
        c_scale: i32,
        shift: u32,
    },
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x ≥ 0`, else `round_shift(x · alpha, alpha_scale)`.
    LeakyRelu { alpha: i64, alpha_scale: u32 },
    /// `table[round_shift(x, in_shift) + offset]`; the index must lie in the table.
    Lut {
        function: LutFunction,
        in_shift: u32,
        offset: i64,
        table: Vec<i64>,
    },
    /// Same integers, new shape.
    Reshape,
    /// Permuted axes.
    Transpose { perm: Vec<usize> },
    /// `(a << align[0]) cmp (b << align[1])`, broadcasting: 1 or 0 (scale 0).
    Compare { cmp: Comparison, align: [u32; 2] },
    /// `x cmp c`, `c` broadcast into x: 1 or 0 (scale 0). `c` is the integer threshold
    /// that makes the integer comparison exact for the real one
    /// ([`Comparison::integer_threshold`]), clamped to one step beyond x's range.
    CompareConst {
        cmp: Comparison,
        c: Vec<i64>,
        c_shape: Vec<usize>,
    },
    /// The index of the first maximum over the last axis (scale 0).
    ArgMax,
    /// `y[i.., r..] = table[x[i..] >> index_shift, r..]`; each index must be an exact
    /// multiple of `2^index_shift` (an integer at the input's scale) within `0..rows`.
    GatherConst {
        table: Vec<i64>,
        rows: usize,
        index_shift: u32,
    },
    /// `y[c] = x[c with c[axis] = idx[c] >> index_shift]` (inputs: data, indices); each
    /// index must be an exact multiple of `2^index_shift` within the axis.
    GatherElements { axis: usize, index_shift: u32 },
    /// `y[i] = x[map[i]]`.
    Pick { map: Vec<usize> },
}

impl QOp {
    pub fn kind(&self) -> &'static str {
        match self {
            QOp::Dense { .. } => "Dense",
            QOp::Conv { .. } => "Conv",
            QOp::MaxPool { .. } => "MaxPool",
            QOp::AvgPool { .. } => "AvgPool",
            QOp::GlobalAvgPool => "GlobalAvgPool",
            QOp::Add { .. } => "Add",
            QOp::Sub { .. } => "Sub",
            QOp::Mul { .. } => "Mul",
            QOp::AddConst { .. } => "AddConst",
            QOp::MulConst { .. } => "MulConst",
            QOp::Relu => "Relu",
            QOp::LeakyRelu { .. } => "LeakyRelu",
            QOp::Lut {
                function: LutFunction::Sigmoid,
                ..
            } => "Sigmoid",
            QOp::Lut {
                function: LutFunction::Tanh,
                ..
            } => "Tanh",
            QOp::Reshape => "Reshape",
            QOp::Transpose { .. } => "Transpose",
            QOp::Compare { cmp, .. } | QOp::CompareConst { cmp, .. } => cmp.name(),
            QOp::ArgMax => "ArgMax",
            QOp::GatherConst { .. } => "GatherConst",
            QOp::GatherElements { .. } => "GatherElements",
            QOp::Pick { .. } => "Pick",
            QOp::Concat { .. } => "Concat",
        }
    }
}

/// One integer node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QNode {
    pub name: String,
    pub op: QOp,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// A quantized model. Value 0 is the input; `values` parallels the float graph's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantModel {
    pub config: QuantConfig,
    pub values: Vec<QValue>,
    pub nodes: Vec<QNode>,
    pub output: ValueId,
    /// The float model ends in a Softmax that the integer model replaces by argmax.
    pub softmax_dropped: bool,
}

impl QuantModel {
    pub fn input(&self) -> &QValue {
        &self.values[0]
    }

    pub fn output_info(&self) -> &QValue {
        &self.values[self.output]
    }
}
