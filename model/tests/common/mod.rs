//! Fixture loading and ONNX model edits shared by the integration tests.
#![allow(dead_code, unused_imports)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

pub use cipherproof_testkit::{models_dir as testdata, read_json, rows};

/// The trained fixtures: name and minimum float/quantized argmax agreement on the test set.
pub const TRAINED: &[(&str, f64)] = &[
    ("digits_mlp", 0.995),
    ("digits_cnn", 0.99),
    ("breast_cancer_lr", 0.99),
    ("breast_cancer_mlp", 0.99),
    ("breast_cancer_mlp_qat", 0.99),
    ("breast_cancer_tree", 0.99),
    ("breast_cancer_gbt", 0.99),
    ("iris_tanh_mlp", 0.99),
    ("wine_sigmoid_mlp", 0.99),
    ("ops_zoo", 0.99),
    ("seq_lstm", 0.99),
    ("seq_gru", 0.99),
];

/// |a − b| ≤ 1e-4 · max(1, |b|): onnxruntime parity for f32 models.
pub fn close_to_onnxruntime(ours: &[f32], ort: &[f32]) -> Result<(), String> {
    if ours.len() != ort.len() {
        return Err(format!(
            "{} outputs vs onnxruntime's {}",
            ours.len(),
            ort.len()
        ));
    }
    for (i, (a, b)) in ours.iter().zip(ort).enumerate() {
        if (a - b).abs() > 1e-4 * b.abs().max(1.0) {
            return Err(format!("output {i}: ours {a} vs onnxruntime {b}"));
        }
    }
    Ok(())
}

/// Node `name` of an ONNX model, to edit (the node must exist).
pub fn node<'a>(
    m: &'a mut cipherproof_model::onnx::proto::ModelProto,
    name: &str,
) -> &'a mut cipherproof_model::onnx::proto::NodeProto {
    let g = m.graph.as_mut().unwrap();
    g.node.iter_mut().find(|n| n.name() == name).unwrap()
}

/// The import error of an edited model (which must not import).
pub fn import_err(m: &cipherproof_model::onnx::proto::ModelProto) -> String {
    use prost::Message;
    cipherproof_model::import_onnx(&m.encode_to_vec())
        .expect_err("a damaged model must not import")
        .to_string()
}
