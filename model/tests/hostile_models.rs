//! What the mutation fuzzer (`fuzz_import.rs`) found, pinned down: each damaged
//! model is a clear error naming the problem (or, where the model is still
//! meaningful, a correct run), never a panic, an overflow or a giant
//! allocation. Each case is a small edit of the ops_zoo fixture, whose nodes
//! cover every supported operator family.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::onnx::decode_model;
use cipherproof_model::onnx::proto::tensor_shape_proto::dimension::Value as Dim;
use cipherproof_model::onnx::proto::{
    AttributeProto, ModelProto, NodeProto, TensorProto, type_proto,
};
use cipherproof_model::onnx::summary::summarize;
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_model::{Graph, ModelError, import_onnx};
use cipherproof_testkit::fixture;
use common::{import_err, node};
use prost::Message;

fn zoo() -> ModelProto {
    decode_model(&std::fs::read(fixture("ops_zoo/model.onnx")).unwrap()).unwrap()
}

fn attr<'a>(n: &'a mut NodeProto, name: &str) -> &'a mut AttributeProto {
    n.attribute.iter_mut().find(|a| a.name() == name).unwrap()
}

fn initializer<'a>(m: &'a mut ModelProto, name: &str) -> &'a mut TensorProto {
    let g = m.graph.as_mut().unwrap();
    g.initializer.iter_mut().find(|t| t.name() == name).unwrap()
}

/// Replaces an initializer's values (kept as raw little-endian f32s, as exporters write them).
fn set_values(m: &mut ModelProto, name: &str, v: f32) {
    let t = initializer(m, name);
    let n = t
        .raw_data
        .as_ref()
        .map_or(t.float_data.len(), |r| r.len() / 4);
    t.float_data.clear();
    t.raw_data = Some(std::iter::repeat_n(v.to_le_bytes(), n).flatten().collect());
}

fn import(m: &ModelProto) -> Result<Graph, ModelError> {
    import_onnx(&m.encode_to_vec())
}

/// Quantizes on the fixture's calibration set and runs one sample in integers.
fn quantize_and_run(g: &Graph) -> Result<Vec<i64>, ModelError> {
    let samples = cipherproof_testkit::samples(&fixture("ops_zoo/calibration.json"), "inputs");
    let model = quantize(g, &samples, &QuantConfig::default())?;
    let runner = IntegerRunner::new(&model)?;
    runner.run(&runner.quantize_input(0, &samples[0])?)
}

#[test]
fn dimensions_past_the_tensor_limit_are_refused() {
    let mut m = zoo();
    initializer(&mut m, "wm").dims = vec![i64::MAX, 2];
    let e = import_err(&m);
    assert!(e.contains("'wm'") && e.contains("limit per tensor"), "{e}");

    let mut m = zoo();
    let g = m.graph.as_mut().unwrap();
    let Some(type_proto::Value::TensorType(t)) = g.input[0].r#type.as_mut().unwrap().value.as_mut()
    else {
        panic!("ops_zoo's input is a tensor")
    };
    t.shape.as_mut().unwrap().dim[1].value = Some(Dim::DimValue(1 << 40));
    let e = import_err(&m);
    assert!(e.contains("limit per tensor"), "{e}");

    // `inspect` still describes such a file: its parameter count saturates.
    let mut m = zoo();
    initializer(&mut m, "wm").dims = vec![i64::MAX, i64::MAX];
    let s = summarize(&m.encode_to_vec()).unwrap();
    assert_eq!(s.parameter_count, usize::MAX);
    assert!(s.import_error.unwrap().contains("limit per tensor"));
}

#[test]
fn window_attributes_out_of_bounds_are_named() {
    // (node, int-list attribute, its new value, what the error must name besides the node)
    let cases: [(&str, &str, Vec<i64>, &str); 4] = [
        ("conv_b_dilated", "dilations", vec![1 << 40, 1], "dilations"),
        (
            "avgpool",
            "kernel_shape",
            vec![1 << 40, 3],
            "kernel [1099511627776, 3]",
        ),
        ("maxpool", "pads", vec![0, 0, 1 << 40, 1], "pads"),
        ("avgpool", "strides", vec![i64::MAX, 2], "strides"),
    ];
    for (name, attribute, ints, named) in cases {
        let mut m = zoo();
        attr(node(&mut m, name), attribute).ints = ints;
        let e = import_err(&m);
        assert!(e.contains(name) && e.contains(named), "{e}");
    }
}

#[test]
fn leaky_relu_slopes_are_finite_and_fit_the_weight_bits() {
    let mut m = zoo();
    attr(node(&mut m, "leaky"), "alpha").f = Some(f32::NAN);
    let e = import_err(&m);
    assert!(e.contains("leaky") && e.contains("'alpha' is NaN"), "{e}");

    // A slope too large for 10-bit weights is refused by name...
    let mut m = zoo();
    attr(node(&mut m, "leaky"), "alpha").f = Some(1e6);
    let e = quantize_and_run(&import(&m).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("leaky") && e.contains("alpha 1000000"), "{e}");

    // ...and one too small for any scale is a ReLU, not a shift past 64 bits.
    let mut tiny = zoo();
    attr(node(&mut tiny, "leaky"), "alpha").f = Some(1e-30);
    let mut relu = zoo();
    attr(node(&mut relu, "leaky"), "alpha").f = Some(0.0);
    assert_eq!(
        quantize_and_run(&import(&tiny).unwrap()).unwrap(),
        quantize_and_run(&import(&relu).unwrap()).unwrap()
    );
}

#[test]
fn shape_ops_on_scalars_are_errors() {
    // `zero` is a scalar initializer (Gather's index).
    let mut m = zoo();
    node(&mut m, "gather").input = vec!["zero".into(), "zero".into()];
    let e = import_err(&m);
    assert!(
        e.contains("gather") && e.contains("Gather from a scalar"),
        "{e}"
    );

    let mut m = zoo();
    node(&mut m, "concat").input = vec!["zero".into(), "zero".into()];
    let e = import_err(&m);
    assert!(
        e.contains("concat") && e.contains("Concat of scalars"),
        "{e}"
    );
}

#[test]
fn constants_beyond_the_exact_range_are_refused_not_wrapped() {
    // `one - sigmoid`: a constant of 3e38 at the input's scale would overflow i64.
    let mut m = zoo();
    set_values(&mut m, "one", 3e38);
    match quantize_and_run(&import(&m).unwrap()) {
        Err(ModelError::InvalidConfig(e)) => {
            assert!(
                e.contains("one_minus") && e.contains("added constant 3e38"),
                "{e}"
            )
        }
        other => panic!("expected the added-constant error, got {other:?}"),
    }

    // A subnormal multiplier has a scale past every i32 sum: clamped, no overflow.
    let mut m = zoo();
    set_values(&mut m, "half", 1e-45);
    let _ = quantize_and_run(&import(&m).unwrap());
}
