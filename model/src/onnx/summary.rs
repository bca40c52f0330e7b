//! What `cipherproof inspect` reports about an ONNX file: operators, shapes,
//! parameter count (initializers and numbers held in node attributes) and support, without requiring the import to succeed.

use super::attributes::node_label;
use super::import::{ImportOptions, import_model, import_model_with, is_supported, qualified_op};
use super::proto::{
    ModelProto, TensorProto, ValueInfoProto, tensor_shape_proto::dimension::Value as Dim, type_proto,
};
use super::{decode_model, default_opset};
use crate::error::Result;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A graph input or output as declared in the file (symbolic dims as names).
#[derive(Debug, Clone, Serialize)]
pub struct DeclaredTensor {
    pub name: String,
    pub shape: Vec<String>,
}

/// One ONNX node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub name: String,
    pub op_type: String,
    pub supported: bool,
    /// Static shape of the first of its outputs the import computes (absent for folded
    /// constants or when import failed).
    pub output_shape: Option<Vec<usize>>,
}

/// The inspection report.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub ir_version: i64,
    pub opset: i64,
    pub producer: String,
    pub inputs: Vec<DeclaredTensor>,
    pub outputs: Vec<DeclaredTensor>,
    pub nodes: Vec<NodeSummary>,
    pub op_counts: BTreeMap<String, usize>,
    pub parameter_count: usize,
    pub unsupported_ops: Vec<String>,
    pub all_supported: bool,
    /// Why import failed even though every op is known (bad attributes, dynamic shapes...).
    pub import_error: Option<String>,
}

/// How many of a multi-output model's outputs `inspect` imports for their shapes.
const MAX_OUTPUTS_SHAPED: usize = 8;

/// Summarises ONNX bytes. Errors only when the file is not a readable ONNX model.
pub fn summarize(bytes: &[u8]) -> Result<ModelSummary> {
    let model = decode_model(bytes)?;
    Ok(summarize_model(&model))
}

fn summarize_model(model: &ModelProto) -> ModelSummary {
    let empty = Default::default();
    let graph = model.graph.as_ref().unwrap_or(&empty);
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|i| i.name()).collect();
    let mut op_counts = BTreeMap::new();
    let mut unsupported = Vec::new();
    for n in &graph.node {
        let op = qualified_op(n);
        *op_counts.entry(op.clone()).or_insert(0) += 1;
        if !is_supported(n.domain(), n.op_type()) && !unsupported.contains(&op) {
            unsupported.push(op);
        }
    }
    // Saturating: a damaged file's dims must not overflow a summary.
    let numel = |t: &TensorProto| {
        t.dims
            .iter()
            .fold(1usize, |n, &d| n.saturating_mul(d.max(0) as usize))
    };
    // Initializers, and the numbers nodes carry in attributes: Constant tensors and the
    // float lists of ONNX-ML tree ensembles (thresholds, leaf weights, base values).
    // (Hit rates are profiling hints, not parameters.)
    let in_attributes = graph.node.iter().flat_map(|n| &n.attribute);
    let in_attributes = in_attributes.filter(|a| !a.name().starts_with("nodes_hitrates"));
    let in_attributes = in_attributes.map(|a| {
        let tensors = a.t.iter().chain(&a.tensors).map(numel);
        tensors.fold(a.floats.len(), usize::saturating_add)
    });
    let parameter_count = graph
        .initializer
        .iter()
        .map(numel)
        .chain(in_attributes)
        .fold(0usize, usize::saturating_add);
    let shapes_of = |g: crate::graph::Graph| {
        g.values
            .into_iter()
            .map(|v| (v.name, v.shape))
            .collect::<HashMap<_, _>>()
    };
    let (shapes, import_error) = match import_model(model) {
        Ok(g) => (shapes_of(g), None),
        Err(e) => {
            // A model with several outputs imports once per output (`--output`), for its
            // first few: a file may declare thousands.
            let mut shapes = HashMap::new();
            if graph.output.len() > 1 {
                for o in graph.output.iter().take(MAX_OUTPUTS_SHAPED) {
                    let opts = ImportOptions {
                        output: Some(o.name().to_string()),
                    };
                    if let Ok(g) = import_model_with(model, &opts) {
                        shapes.extend(shapes_of(g));
                    }
                }
            }
            (shapes, Some(e.to_string()))
        }
    };
    let nodes = graph
        .node
        .iter()
        .map(|n| NodeSummary {
            name: node_label(n),
            op_type: qualified_op(n),
            supported: is_supported(n.domain(), n.op_type()),
            output_shape: n.output.iter().find_map(|o| shapes.get(o).cloned()),
        })
        .collect();
    ModelSummary {
        ir_version: model.ir_version(),
        opset: default_opset(model),
        producer: format!("{} {}", model.producer_name(), model.producer_version())
            .trim()
            .to_string(),
        inputs: graph
            .input
            .iter()
            .filter(|i| !initializers.contains(i.name()))
            .map(declared)
            .collect(),
        outputs: graph.output.iter().map(declared).collect(),
        nodes,
        op_counts,
        parameter_count,
        all_supported: unsupported.is_empty(),
        unsupported_ops: unsupported,
        import_error,
    }
}

fn declared(v: &ValueInfoProto) -> DeclaredTensor {
    let dims = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => {
            t.shape.as_ref().map(|s| s.dim.clone()).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let shape = dims
        .iter()
        .map(|d| match &d.value {
            Some(Dim::DimValue(v)) => v.to_string(),
            Some(Dim::DimParam(p)) => p.clone(),
            None => "?".into(),
        })
        .collect();
    DeclaredTensor {
        name: v.name().to_string(),
        shape,
    }
}
