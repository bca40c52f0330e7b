//! Quantizing for an input range (no samples): no input within ±R overflows any
//! intermediate, by construction of the interval bounds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize_for_range};
use cipherproof_testkit::fixture;
use proptest::prelude::*;

fn check_model(name: &str, range: f32) -> impl Fn(Vec<f32>) -> Result<(), TestCaseError> {
    let graph = import_onnx(&std::fs::read(fixture(name)).unwrap()).unwrap();
    let model = quantize_for_range(&graph, range, &QuantConfig::default()).unwrap();
    move |x: Vec<f32>| {
        let runner = IntegerRunner::new(&model).unwrap();
        let q = runner
            .quantize_input(0, &x)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runner
            .run(&q)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_input_within_the_range_overflows_the_digits_mlp(x in proptest::collection::vec(-1.0f32..=1.0, 64)) {
        check_model("digits_mlp/model.onnx", 1.0)(x)?;
    }

    #[test]
    fn no_input_within_the_range_overflows_lenet(x in proptest::collection::vec(-3.0f32..=3.0, 1024)) {
        check_model("ezkl/lenet_5/network.onnx", 3.0)(x)?;
    }
}

#[test]
fn extreme_corners_of_the_range_do_not_overflow() {
    let check = check_model("digits_cnn/model.onnx", 1.0);
    for v in [1.0f32, -1.0] {
        check(vec![v; 64]).unwrap();
        check((0..64).map(|i| if i % 2 == 0 { v } else { -v }).collect()).unwrap();
    }
}

#[test]
fn a_non_positive_range_is_refused() {
    let graph = import_onnx(&std::fs::read(fixture("digits_mlp/model.onnx")).unwrap()).unwrap();
    assert!(quantize_for_range(&graph, 0.0, &QuantConfig::default()).is_err());
    assert!(quantize_for_range(&graph, f32::NAN, &QuantConfig::default()).is_err());
}

/// The quantization-aware trained MLP: its gen.py simulates the integer model these flags build,
/// and exported weights on their grid, so the quantizer must reproduce its predictions exactly.
#[test]
fn the_qat_mlp_quantizes_to_the_integer_model_it_was_trained_as() {
    let dir = fixture("breast_cancer_mlp_qat");
    let graph = import_onnx(&std::fs::read(dir.join("model.onnx")).unwrap()).unwrap();
    let meta = cipherproof_testkit::read_json(&dir.join("meta.json"));
    assert_eq!(
        meta["compile_flags"],
        "--input-range 0.875 --activation-bits 4 --weight-bits 3 --output-bits 8"
    );
    let config = QuantConfig {
        weight_bits: 3,
        activation_bits: 4,
        output_bits: Some(8),
        ..QuantConfig::default()
    };
    let model = quantize_for_range(&graph, 0.875, &config).unwrap();
    // Narrow hidden activations, fine logits.
    let bits: Vec<u32> = model.values.iter().map(|v| v.bits).collect();
    assert_eq!(bits, [4, 4, 4, 8], "{bits:?}");
    let runner = IntegerRunner::new(&model).unwrap();
    let inputs = cipherproof_testkit::samples(&dir.join("test.json"), "inputs");
    let predicted: String = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let out = runner.run(&runner.quantize_input(i, x).unwrap()).unwrap();
            char::from(b'0' + cipherproof_model::exec::argmax(&out).unwrap() as u8)
        })
        .collect();
    assert_eq!(predicted, meta["integer_test_predictions"].as_str().unwrap());
}

#[test]
fn output_bits_out_of_range_are_refused() {
    let graph = import_onnx(&std::fs::read(fixture("digits_mlp/model.onnx")).unwrap()).unwrap();
    let config = QuantConfig {
        output_bits: Some(2),
        ..QuantConfig::default()
    };
    assert!(quantize_for_range(&graph, 1.0, &config).is_err());
    // An output that keeps its input's scale (a final ReLU) cannot take its own width.
    let mut relu_last = import_onnx(&std::fs::read(fixture("breast_cancer_mlp_qat/model.onnx")).unwrap()).unwrap();
    relu_last.nodes.truncate(2); // fc1, relu
    relu_last.output = relu_last.nodes[1].output;
    relu_last.values.truncate(relu_last.output + 1);
    let config = QuantConfig {
        activation_bits: 4,
        output_bits: Some(8),
        ..QuantConfig::default()
    };
    let e = quantize_for_range(&relu_last, 1.0, &config).unwrap_err();
    assert!(e.to_string().contains("keeps its input's scale"), "{e}");
    // Equal to the activations' width: the default, the same model as without it.
    let same = QuantConfig {
        output_bits: Some(16),
        ..QuantConfig::default()
    };
    assert_eq!(
        quantize_for_range(&graph, 1.0, &same).unwrap(),
        quantize_for_range(&graph, 1.0, &QuantConfig::default()).unwrap()
    );
}
