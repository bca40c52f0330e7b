//! ONNX graph → [`Graph`] IR: resolves the input shape, folds constants,
//! dispatches each node to its builder and checks the result.

mod activations;
mod concat;
mod elementwise;
pub mod index_maps;
mod kinds;
mod layers;
mod outputs;
mod pooling;
mod recurrent;
mod reduce;
mod selection;
pub mod shapes;
mod trees;

use super::attributes::{Attributes, node_label};
use super::constants::{FOLDABLE, fold};
use super::proto::{
    GraphProto, ModelProto, NodeProto, ValueInfoProto, tensor_shape_proto::dimension::Value as Dim,
};
use super::tensor::decode_tensor;
use super::{decode_model, default_opset};
use crate::error::{ModelError, Result};
use crate::graph::constant::Const;
use crate::graph::{Graph, MAX_GRAPH_VALUES, Node, Op, ValueId, ValueInfo, check_shape};
use std::collections::HashMap;

pub use outputs::ImportOptions;

/// Operators the importer turns into IR ops (on runtime tensors).
pub const RUNTIME_OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "Conv",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "BatchNormalization",
    "Flatten",
    "Reshape",
    "Transpose",
    "Softmax",
    "Identity",
    "Dropout",
    "Cast",
    "Squeeze",
    "Unsqueeze",
    "Less",
    "LessOrEqual",
    "Greater",
    "GreaterOrEqual",
    "Equal",
    "And",
    "ArgMax",
    "Gather",
    "Slice",
    "ReduceSum",
    "ReduceMean",
    "GatherElements",
    "LSTM",
    "GRU",
    "RNN",
    "Concat",
];

/// Operators accepted only when every input is a constant (shape arithmetic).
pub const CONSTANT_ONLY_OPS: &[&str] = &[
    "Constant",
    "Shape",
    "ConstantOfShape",
    "Neg",
];

/// Whether an ONNX op (domain, type) can appear in a model cipherproof imports.
pub fn is_supported(domain: &str, op_type: &str) -> bool {
    match domain {
        "" | "ai.onnx" => RUNTIME_OPS.contains(&op_type) || CONSTANT_ONLY_OPS.contains(&op_type),
        "ai.onnx.ml" => ML_OPS.contains(&op_type),
        _ => false,
    }
}

/// Ops of the `ai.onnx.ml` domain, rewritten at import into ops of the IR ([`trees`]).
pub const ML_OPS: &[&str] = &["TreeEnsembleClassifier", "TreeEnsembleRegressor"];

/// The qualified name users see for an op of a non-default domain.
pub fn qualified_op(node: &NodeProto) -> String {
    match node.domain() {
        "" | "ai.onnx" => node.op_type().to_string(),
        d => format!("{d}.{}", node.op_type()),
    }
}

/// Imports ONNX bytes into the IR.
pub fn import_onnx(bytes: &[u8]) -> Result<Graph> {
    import_onnx_with(bytes, &ImportOptions::default())
}

/// Imports ONNX bytes into the IR with `opts` (e.g. which of several outputs to keep).
pub fn import_onnx_with(bytes: &[u8], opts: &ImportOptions) -> Result<Graph> {
    let model = decode_model(bytes)?;
    import_model_with(&model, opts)
}

/// Imports a decoded ONNX model into the IR.
pub fn import_model(model: &ModelProto) -> Result<Graph> {
    import_model_with(model, &ImportOptions::default())
}

/// Imports a decoded ONNX model into the IR with `opts`.
pub fn import_model_with(model: &ModelProto, opts: &ImportOptions) -> Result<Graph> {
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| ModelError::MalformedOnnx("no graph".into()))?;
    reject_unsupported(graph)?;
    let mut b = Builder::new(graph, default_opset(model))?;
    for node in &graph.node {
        b.node(node)?;
    }
    b.finish(graph, opts)
}

fn reject_unsupported(graph: &GraphProto) -> Result<()> {
    let bad: Vec<&NodeProto> = graph
        .node
        .iter()
        .filter(|n| !is_supported(n.domain(), n.op_type()))
        .collect();
    let Some(first) = bad.first() else {
        return Ok(());
    };
    let mut others: Vec<String> = bad.iter().skip(1).map(|n| qualified_op(n)).collect();
    others.sort();
    others.dedup();
    others.retain(|o| *o != qualified_op(first));
    let more = if others.is_empty() {
        String::new()
    } else {
        format!("; also unsupported: {}", others.join(", "))
    };
    Err(ModelError::UnsupportedOp {
        op_type: qualified_op(first),
        node: node_label(first),
        more,
    })
}

/// A node input resolved to either a runtime value or a constant.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Value(ValueId),
    Const(Const),
}

pub(crate) struct Builder {
    consts: HashMap<String, Const>,
    values: HashMap<String, ValueId>,
    /// How many node inputs and graph outputs read each tensor name.
    uses: HashMap<String, usize>,
    pub(crate) graph: Graph,
    pub(crate) opset: i64,
    /// The kind of each value's numbers, filled on demand ([`kinds`]).
    kinds: Vec<kinds::Kind>,
    /// Node outputs a builder could not produce, with why: an error only where read.
    missing: HashMap<String, Missing>,
}

/// A node output a builder could not produce (a recurrent layer's output whose parts do
/// not join, say), refused only if the model reads it.
#[derive(Debug, Clone)]
pub(crate) struct Missing {
    pub op: String,
    pub node: String,
    pub reason: String,
}

impl Builder {
    fn new(graph: &GraphProto, opset: i64) -> Result<Self> {
        let mut consts = HashMap::new();
        for init in &graph.initializer {
            consts.insert(init.name().to_string(), decode_tensor(init, init.name())?);
        }
        let runtime: Vec<&ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !consts.contains_key(i.name()))
            .collect();
        let input = match runtime.as_slice() {
            [one] => *one,
            [] => {
                return Err(ModelError::invalid(
                    "graph",
                    "the model has no runtime input",
                ));
            }
            many => {
                let names: Vec<&str> = many.iter().map(|i| i.name()).collect();
                return Err(ModelError::unsupported_use(
                    "graph",
                    "inputs",
                    format!(
                        "{} runtime inputs ({}); cipherproof supports models with one input",
                        many.len(),
                        names.join(", ")
                    ),
                ));
            }
        };
        let shape = input_shape(input)?;
        let mut uses = HashMap::new();
        for name in graph
            .node
            .iter()
            .flat_map(|n| n.input.iter())
            .chain(graph.output.iter().flat_map(|o| &o.name))
        {
            *uses.entry(name.clone()).or_insert(0) += 1;
        }
        let mut values = HashMap::new();
        values.insert(input.name().to_string(), Graph::INPUT);
        Ok(Self {
            consts,
            values,
            uses,
            graph: Graph {
                values: vec![ValueInfo {
                    name: input.name().to_string(),
                    shape,
                }],
                nodes: Vec::new(),
                output: Graph::INPUT,
                opset,
            },
            opset,
            kinds: Vec::new(),
            missing: HashMap::new(),
        })
    }

    fn node(&mut self, node: &NodeProto) -> Result<()> {
        let label = node_label(node);
        let op = node.op_type();
        if op == "Constant" {
            let c = constant_node(node)?;
            return self.define_const(node, c);
        }
        let operands = node
            .input
            .iter()
            .map(|name| {
                if name.is_empty() {
                    Ok(None)
                } else {
                    self.operand(name, &label).map(Some)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let all_const = operands
            .iter()
            .all(|o| !matches!(o, Some(Operand::Value(_))));
        if op == "Shape" {
            let shape: Vec<i64> = match operands.first() {
                Some(Some(Operand::Value(v))) => self.shape(*v).iter().map(|&d| d as i64).collect(),
                Some(Some(Operand::Const(c))) => c.shape.iter().map(|&d| d as i64).collect(),
                _ => return Err(ModelError::invalid(&label, "Shape needs an input")),
            };
            return self.define_const(node, Const::i64(vec![shape.len()], shape));
        }
        if all_const && FOLDABLE.contains(&op) {
            let consts: Vec<Option<&Const>> = operands
                .iter()
                .map(|o| {
                    o.as_ref().and_then(|o| {
                        if let Operand::Const(c) = o {
                            Some(c)
                        } else {
                            None
                        }
                    })
                })
                .collect();
            let c = fold(node, &consts, self.opset)?;
            return self.define_const(node, c);
        }
        if all_const {
            return Err(ModelError::unsupported_use(
                op,
                label,
                "cannot be evaluated on constant inputs",
            ));
        }
        let attrs = Attributes::of(node);
        let fresh = self.graph.values.len();
        let ctx = Ctx {
            label: &label,
            attrs,
            op_type: op,
            node,
        };
        if let Some(unroll) = match op {
            "LSTM" => Some(recurrent::lstm as MultiOutputBuilder),
            "GRU" => Some(recurrent::gru as MultiOutputBuilder),
            "RNN" => Some(recurrent::rnn as MultiOutputBuilder),
            "TreeEnsembleClassifier" => Some(trees::classifier as MultiOutputBuilder),
            "TreeEnsembleRegressor" => Some(trees::regressor as MultiOutputBuilder),
            _ => None,
        } {
            let outs = unroll(self, &ctx, &operands)?;
            self.check_new_shapes(fresh, &label)?;
            return self.name_outputs(node, &label, fresh, outs);
        }
        let out = match op {
            "Gemm" => layers::gemm(self, &ctx, &operands)?,
            "MatMul" => layers::matmul(self, &ctx, &operands)?,
            "Conv" => layers::conv(self, &ctx, &operands)?,
            "BatchNormalization" => layers::batch_norm(self, &ctx, &operands)?,
            "Add" | "Sub" | "Mul" | "Div" => elementwise::binary(self, &ctx, &operands)?,
            "Relu" | "LeakyRelu" | "Sigmoid" | "Tanh" | "Softmax" => {
                activations::activation(self, &ctx, &operands)?
            }
            "Identity" | "Dropout" => activations::passthrough(self, &ctx, &operands)?,
            "Cast" => selection::cast(self, &ctx, &operands)?,
            "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "Equal" => {
                selection::compare(self, &ctx, &operands)?
            }
            "And" => selection::and(self, &ctx, &operands)?,
            "ArgMax" => selection::argmax(self, &ctx, &operands)?,
            "Gather" => selection::gather(self, &ctx, &operands)?,
            "Concat" => concat::concat(self, &ctx, &operands)?,
            "Slice" => selection::slice(self, &ctx, &operands)?,
            "GatherElements" => selection::gather_elements(self, &ctx, &operands)?,
            "ReduceSum" | "ReduceMean" => reduce::reduce(self, &ctx, &operands)?,
            "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" | "Transpose" => {
                elementwise::reshape_like(self, &ctx, &operands)?
            }
            "MaxPool" | "AveragePool" | "GlobalAveragePool" => {
                pooling::pool(self, &ctx, &operands)?
            }
            _ => {
                return Err(ModelError::unsupported_use(
                    op,
                    label,
                    "only supported on constant inputs",
                ));
            }
        };
        self.check_new_shapes(fresh, &label)?;
        if node.output.first().is_none_or(|n| n.is_empty()) {
            return Err(ModelError::invalid(&label, "node has no output"));
        }
        if node
            .output
            .iter()
            .skip(1)
            .any(|o| !o.is_empty() && self.uses.contains_key(o))
        {
            return Err(ModelError::unsupported_use(
                op,
                label,
                "only the first output may be used",
            ));
        }
        self.name_outputs(node, &label, fresh, vec![Ok(out)])
    }

    fn check_new_shapes(&self, fresh: ValueId, label: &str) -> Result<()> {
        for v in self.graph.values.iter().skip(fresh) {
            check_shape(label, &v.shape)?;
        }
        Ok(())
    }

    /// Binds the node's output names to the values `outs` (in output order; values from
    /// `fresh` on are the node's own); an output the builder could not produce is
    /// remembered as [`Missing`].
    fn name_outputs(
        &mut self,
        node: &NodeProto,
        label: &str,
        fresh: ValueId,
        outs: Vec<std::result::Result<ValueId, Missing>>,
    ) -> Result<()> {
        if node.output.iter().all(|n| n.is_empty()) {
            return Err(ModelError::invalid(label, "node has no outputs"));
        }
        for (name, out) in node.output.iter().zip(outs) {
            if name.is_empty() {
                continue;
            }
            let out = match out {
                Ok(v) => v,
                Err(missing) => {
                    self.missing.insert(name.clone(), missing);
                    continue;
                }
            };
            if out >= fresh {
                self.graph.values[out].name = name.clone();
            } else {
                // An alias (Identity, Dropout, a no-op Reshape, a folded bias): readers of
                // the new name read the old value.
                let extra = self.uses.get(name).copied().unwrap_or(0);
                let old = self.graph.values[out].name.clone();
                *self.uses.entry(old).or_insert(0) += extra.saturating_sub(1);
            }
            self.values.insert(name.clone(), out);
        }
        Ok(())
    }

    fn define_const(&mut self, node: &NodeProto, c: Const) -> Result<()> {
        c.check_finite(&node_label(node))?;
        let name = node
            .output
            .first()
            .ok_or_else(|| ModelError::invalid(node_label(node), "node has no output"))?;
        self.consts.insert(name.clone(), c);
        Ok(())
    }

    fn operand(&self, name: &str, label: &str) -> Result<Operand> {
        if let Some(&v) = self.values.get(name) {
            Ok(Operand::Value(v))
        } else if let Some(c) = self.consts.get(name) {
            Ok(Operand::Const(c.clone()))
        } else if let Some(e) = self.unavailable(name) {
            Err(e)
        } else {
            Err(ModelError::invalid(
                label,
                format!("input '{name}' is not produced by any earlier node"),
            ))
        }
    }

    /// The error for reading `name` when it is a [`Missing`] output.
    fn unavailable(&self, name: &str) -> Option<ModelError> {
        self.missing
            .get(name)
            .map(|m| ModelError::unsupported_use(&m.op, &m.node, m.reason.clone()))
    }

    pub(crate) fn shape(&self, v: ValueId) -> &[usize] {
        &self.graph.values[v].shape
    }

    /// Appends a node producing a new value of `shape`.
    pub(crate) fn push(
        &mut self,
        name: &str,
        op: Op,
        inputs: Vec<ValueId>,
        shape: Vec<usize>,
    ) -> ValueId {
        let output = self.graph.values.len();
        self.graph.values.push(ValueInfo {
            name: name.to_string(),
            shape,
        });
        self.graph.nodes.push(Node {
            name: name.to_string(),
            op,
            inputs,
            output,
        });
        output
    }

    /// The node that produced `v` if it is the most recent one and nothing else reads `v`:
    /// a candidate for folding (BatchNormalization, bias Add).
    pub(crate) fn sole_producer(&mut self, v: ValueId) -> Option<&mut Node> {
        let name = &self.graph.values[v].name;
        let single_use = self.uses.get(name).copied().unwrap_or(0) == 1;
        match self.graph.nodes.last_mut() {
            Some(n) if n.output == v && single_use => Some(n),
            _ => None,
        }
    }

    fn finish(mut self, graph: &GraphProto, opts: &ImportOptions) -> Result<Graph> {
        let names: Vec<&str> = graph.output.iter().map(|o| o.name()).collect();
        let mut picked = Vec::new();
        for name in outputs::chosen(&names, opts)? {
            let v = match self.values.get(name) {
                Some(&v) => v,
                None => {
                    return Err(self.unavailable(name).unwrap_or_else(|| {
                        ModelError::invalid(
                            "graph",
                            format!("output '{name}' is a constant or never computed"),
                        )
                    }));
                }
            };
            picked.push((name, v));
        }
        let id = outputs::join(&mut self, &picked)?;
        self.graph.output = id;
        self.graph = outputs::prune(self.graph);
        let id = self.graph.output;
        let total = self
            .graph
            .values
            .iter()
            .fold(0usize, |t, v| t.saturating_add(v.numel()));
        if total > MAX_GRAPH_VALUES {
            return Err(ModelError::invalid(
                "graph",
                format!(
                    "its tensors hold {total} values together, more than the limit of {MAX_GRAPH_VALUES}"
                ),
            ));
        }
        if let Some(n) = self
            .graph
            .nodes
            .iter()
            .find(|n| matches!(n.op, Op::Softmax) && n.output != id)
        {
            return Err(ModelError::unsupported_use(
                "Softmax",
                &n.name,
                "Softmax is only supported as the model's final op",
            ));
        }
        Ok(self.graph)
    }
}

/// A builder of a node with several outputs (recurrent layers, tree ensembles).
type MultiOutputBuilder = fn(&mut Builder, &Ctx, &[Option<Operand>]) -> Result<recurrent::Outputs>;

/// What a builder needs to know about the node it builds.
pub(crate) struct Ctx<'a> {
    pub label: &'a str,
    pub attrs: Attributes<'a>,
    pub op_type: &'a str,
    pub node: &'a NodeProto,
}

impl Ctx<'_> {
    pub fn invalid(&self, reason: impl Into<String>) -> ModelError {
        ModelError::invalid(self.label, reason)
    }

    pub fn unsupported(&self, reason: impl Into<String>) -> ModelError {
        ModelError::unsupported_use(self.op_type, self.label, reason)
    }

    /// The runtime value at input `i`.
    pub fn value(&self, operands: &[Option<Operand>], i: usize) -> Result<ValueId> {
        match operands.get(i) {
            Some(Some(Operand::Value(v))) => Ok(*v),
            Some(Some(Operand::Const(_))) => Err(self.unsupported(format!(
                "input {i} must be a runtime tensor, not a constant"
            ))),
            _ => Err(self.invalid(format!("missing input {i}"))),
        }
    }

    /// The constant at input `i`, if present.
    pub fn constant<'o>(
        &self,
        operands: &'o [Option<Operand>],
        i: usize,
    ) -> Result<Option<&'o Const>> {
        match operands.get(i) {
            Some(Some(Operand::Const(c))) => Ok(Some(c)),
            Some(Some(Operand::Value(_))) => Err(self.unsupported(format!(
                "input {i} must be a constant (weights), not a runtime tensor"
            ))),
            _ => Ok(None),
        }
    }
}

fn input_shape(input: &ValueInfoProto) -> Result<Vec<usize>> {
    let name = input.name();
    let tensor = input
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .and_then(|v| match v {
            super::proto::type_proto::Value::TensorType(t) => Some(t),
            _ => None,
        })
        .ok_or_else(|| ModelError::invalid(name, "the input is not a tensor"))?;
    if tensor.elem_type() != 1 && tensor.elem_type() != 11 {
        return Err(ModelError::unsupported_use(
            "input",
            name,
            format!("element type {} (only float inputs)", tensor.elem_type()),
        ));
    }
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    dims.iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(Dim::DimValue(v)) if *v > 0 => Ok(*v as usize),
            // A symbolic or missing leading dimension is the batch: one sample at a time.
            _ if i == 0 => Ok(1),
            Some(Dim::DimParam(p)) => Err(ModelError::DynamicShape {
                tensor: name.to_string(),
                dim: i,
                param: p.clone(),
            }),
            _ => Err(ModelError::DynamicShape {
                tensor: name.to_string(),
                dim: i,
                param: "?".into(),
            }),
        })
        .collect::<Result<Vec<usize>>>()
        .and_then(|shape| check_shape(name, &shape).map(|_| shape))
}

fn constant_node(node: &NodeProto) -> Result<Const> {
    let attrs = Attributes::of(node);
    if let Some(t) = attrs.tensor("value")? {
        return Ok(t);
    }
    if attrs.has("value_float") {
        return Ok(Const::f32(vec![], vec![attrs.float("value_float", 0.0)?]));
    }
    if attrs.has("value_int") {
        return Ok(Const::i64(vec![], vec![attrs.int("value_int", 0)?]));
    }
    if let Some(v) = attrs.ints("value_ints")? {
        return Ok(Const::i64(vec![v.len()], v));
    }
    Err(ModelError::unsupported_use(
        "Constant",
        node_label(node),
        "only tensor, float and int values are supported",
    ))
}
