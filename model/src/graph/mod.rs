//! The typed graph IR every engine starts from: one runtime input, static
//! shapes (batch dimension fixed at 1), weights folded in as constants.
//!
//! Ops are already normalised: `Gemm`/`MatMul` with constant weights become
//! [`Op::Dense`], BatchNormalization is folded into the layer before it,
//! constant shape arithmetic is evaluated, `Flatten`/`Reshape`/`Squeeze`
//! become [`Op::Reshape`].

pub mod broadcast;
pub mod compare;
pub mod constant;
pub mod geometry;

use crate::error::{ModelError, Result};
use compare::Comparison;
use constant::Weights;
use geometry::Window;
use serde::{Deserialize, Serialize};

/// Index of a value (tensor) in [`Graph::values`]. Value 0 is the model input.
pub type ValueId = usize;

/// A runtime tensor of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueInfo {
    /// The ONNX tensor name.
    pub name: String,
    /// Static shape, row-major.
    pub shape: Vec<usize>,
}

impl ValueInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The most values one tensor may hold (2^26, 512 MiB as `i64`): beyond any model a
/// circuit or a ciphertext batch can take, small enough that every size computed from
/// a checked shape (a sub-shape's count, a byte length) fits a `usize`, and a bound on
/// what a hostile file can make the executors allocate.
pub const MAX_TENSOR_VALUES: usize = 1 << 26;

/// The most values all of a graph's runtime tensors may hold together (2^28).
pub const MAX_GRAPH_VALUES: usize = 1 << 28;

/// The number of values of `shape`, or `None` when its non-zero dimensions multiply
/// past [`MAX_TENSOR_VALUES`] (so no part of the shape overflows either).
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d.max(1)))
        .filter(|&n| n <= MAX_TENSOR_VALUES)?;
    Some(shape.iter().product())
}

/// The number of values of `shape`, or an error naming `tensor` when it holds more
/// than [`MAX_TENSOR_VALUES`]: the one check every declared or computed shape passes.
pub(crate) fn check_shape(tensor: &str, shape: &[usize]) -> Result<usize> {
    checked_numel(shape).ok_or_else(|| {
        ModelError::invalid(
            tensor,
            format!(
                "shape {shape:?} holds more than {MAX_TENSOR_VALUES} values, the limit per tensor"
            ),
        )
    })
}

/// An operation of the IR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `y[.., o] = Σ_i x[.., i]·weight[o, i] + bias[o]` (weight shape `[out, in]`).
    Dense {
        weight: Weights,
        bias: Vec<f32>,
    },
    /// 2-D convolution, NCHW, weight `[out_c, in_c, kh, kw]`, one group.
    Conv {
        weight: Weights,
        bias: Vec<f32>,
        window: Window,
    },
    /// Max over each window; padding positions are ignored.
    MaxPool {
        window: Window,
    },
    /// Mean over each window; padding counts only when `count_include_pad`.
    AvgPool {
        window: Window,
        count_include_pad: bool,
    },
    /// Mean over H×W per channel: `[N, C, H, W] -> [N, C, 1, 1]`.
    GlobalAvgPool,
    /// Elementwise sum of two runtime tensors (broadcasting).
    Add,
    /// Elementwise difference of two runtime tensors (broadcasting).
    Sub,
    /// Elementwise product of two runtime tensors (broadcasting).
    Mul,
    /// Adds a constant that broadcasts into the input's shape.
    AddConst {
        c: Weights,
    },
    /// Multiplies by a constant that broadcasts into the input's shape.
    MulConst {
        c: Weights,
    },
    Relu,
    LeakyRelu {
        alpha: f32,
    },
    Sigmoid,
    Tanh,
    /// Same data, new shape.
    Reshape,
    /// Output dimension `i` is input dimension `perm[i]`.
    Transpose {
        perm: Vec<usize>,
    },
    /// Softmax over the last axis; only as the graph's final op.
    Softmax,
    /// `a cmp b` of two runtime tensors (broadcasting): 1 where it holds, else 0.
    Compare {
        cmp: Comparison,
    },
    /// `x cmp c` with a constant (of shape `c_shape`, kept in f64: a threshold may lie
    /// between two f32s) that broadcasts into the input's shape: 1 or 0.
    CompareConst {
        cmp: Comparison,
        c: Vec<f64>,
        c_shape: Vec<usize>,
    },
    /// The index of the first maximum over the last axis (that axis dropped).
    ArgMax,
    /// Rows of a constant table picked by a runtime index tensor:
    /// `y[i.., r..] = table[x[i..], r..]`, shape `x.shape ++ table.shape[1..]`.
    /// Every index must be an integer in `0..table.shape[0]`.
    GatherConst {
        table: Weights,
    },
    /// ONNX GatherElements of runtime data by runtime integer indices along `axis`:
    /// `y[c] = x[c with c[axis] = idx[c]]`, shape of the indices (inputs: data, indices).
    GatherElements {
        axis: usize,
    },
    /// A fixed selection of input values: `y[i] = x[map[i]]` (flat, row-major): what
    /// Gather with constant indices and Slice compute on a runtime tensor.
    Pick {
        map: Vec<usize>,
    },
    /// The inputs (two or more runtime tensors, equal but for `axis`) joined along `axis`.
    Concat {
        axis: usize,
    },
}

impl Op {
    /// A short operator name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Dense { .. } => "Dense",
            Op::Conv { .. } => "Conv",
            Op::MaxPool { .. } => "MaxPool",
            Op::AvgPool { .. } => "AvgPool",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::Add => "Add",
            Op::Sub => "Sub",
            Op::Mul => "Mul",
            Op::AddConst { .. } => "AddConst",
            Op::MulConst { .. } => "MulConst",
            Op::Relu => "Relu",
            Op::LeakyRelu { .. } => "LeakyRelu",
            Op::Sigmoid => "Sigmoid",
            Op::Tanh => "Tanh",
            Op::Reshape => "Reshape",
            Op::Transpose { .. } => "Transpose",
            Op::Softmax => "Softmax",
            Op::Compare { cmp } | Op::CompareConst { cmp, .. } => cmp.name(),
            Op::ArgMax => "ArgMax",
            Op::GatherConst { .. } => "GatherConst",
            Op::GatherElements { .. } => "GatherElements",
            Op::Pick { .. } => "Pick",
            Op::Concat { .. } => "Concat",
        }
    }

    /// Number of trainable parameters the op carries.
    pub fn parameter_count(&self) -> usize {
        match self {
            Op::Dense { weight, bias } | Op::Conv { weight, bias, .. } => {
                weight.data.len() + bias.len()
            }
            Op::AddConst { c } | Op::MulConst { c } => c.data.len(),
            Op::CompareConst { c, .. } => c.len(),
            Op::GatherConst { table } => table.data.len(),
            _ => 0,
        }
    }
}

/// One node: an op applied to runtime values, producing one value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The ONNX node name (or a generated label).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// An imported model: nodes in topological order from value 0 to `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub values: Vec<ValueInfo>,
    pub nodes: Vec<Node>,
    pub output: ValueId,
    /// The ONNX opset the model was exported with.
    pub opset: i64,
}

impl Graph {
    pub const INPUT: ValueId = 0;

    pub fn input(&self) -> &ValueInfo {
        &self.values[Self::INPUT]
    }

    pub fn output_info(&self) -> &ValueInfo {
        &self.values[self.output]
    }

    pub fn parameter_count(&self) -> usize {
        self.nodes.iter().map(|n| n.op.parameter_count()).sum()
    }

    /// True when the final op is a Softmax, which the integer model replaces by argmax.
    pub fn ends_in_softmax(&self) -> bool {
        self.nodes
            .last()
            .is_some_and(|n| matches!(n.op, Op::Softmax) && n.output == self.output)
    }

    /// The value whose integer version the quantized model outputs: the graph
    /// output, or the input of a final Softmax.
    pub fn integer_output(&self) -> ValueId {
        match self.nodes.last() {
            Some(n) if self.ends_in_softmax() => n.inputs[0],
            _ => self.output,
        }
    }
}
