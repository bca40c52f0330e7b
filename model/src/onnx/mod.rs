//! ONNX front end: protobuf types (generated from the vendored `onnx.proto` at
//! build time by prost + protox), tensor decoding, and the importer that turns
//! an ONNX graph into the crate's [`Graph`](crate::graph::Graph) IR.

pub mod attributes;
pub mod constants;
pub mod import;
pub mod summary;
pub mod tensor;

/// Generated ONNX protobuf messages (`onnx.proto`, IR version 10).
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

use crate::error::{ModelError, Result};
use prost::Message;

/// Decodes ONNX bytes into the protobuf model, rejecting anything that is not a model with a graph.
pub fn decode_model(bytes: &[u8]) -> Result<proto::ModelProto> {
    if bytes.is_empty() {
        return Err(ModelError::MalformedOnnx("the file is empty".into()));
    }
    let model = proto::ModelProto::decode(bytes)
        .map_err(|e| ModelError::MalformedOnnx(format!("protobuf decoding failed: {e}")))?;
    match &model.graph {
        Some(g) if !g.node.is_empty() || !g.output.is_empty() => Ok(model),
        _ => Err(ModelError::MalformedOnnx(
            "no graph in the model (is this an ONNX file?)".into(),
        )),
    }
}

/// The default-domain opset version the model was exported with (0 if absent).
pub fn default_opset(model: &proto::ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .unwrap_or(0)
}
