//! MockProver tests: every fixture's circuit satisfies its constraints with
//! outputs equal to the integer reference; tampering any witness cell, table
//! lookup or public output makes it unsatisfiable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_circuits::field::Fr;
use cipherproof_circuits::size::{check_fits, min_advice_cells};
use cipherproof_circuits::{CircuitError, InputVisibility, ModelCircuit};
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_testkit::{fixture as testdata, samples};
use common::is_zero_hint_of_zero;
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_base::halo2_proofs::plonk::Assigned;

/// A fixture's model (calibrated on its calibration set) and its first test inputs.
fn fixture(name: &str, n: usize) -> (QuantModel, Vec<Vec<i64>>) {
    let (onnx, cal, test) = if name.starts_with("ezkl/") {
        let input = samples(&testdata(&format!("{name}/input.json")), "input_data");
        (
            testdata(&format!("{name}/network.onnx")),
            input.clone(),
            input,
        )
    } else {
        (
            testdata(&format!("{name}/model.onnx")),
            samples(&testdata(&format!("{name}/calibration.json")), "inputs"),
            samples(&testdata(&format!("{name}/test.json")), "inputs"),
        )
    };
    let graph = import_onnx(&std::fs::read(onnx).unwrap()).unwrap();
    let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let inputs = test
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, x)| runner.quantize_input(i, x).unwrap())
        .collect();
    (model, inputs)
}

const K: u32 = 14;

/// A mock-stage circuit at 2^K rows.
fn new_builder() -> ModelCircuit {
    ModelCircuit::new(CircuitBuilderStage::Mock, K, 8)
}

fn mock_builder(model: &QuantModel, input: &[i64]) -> (ModelCircuit, Vec<i64>) {
    mock_builder_dot(model, input, 0)
}

/// [`mock_builder`] with dense/conv sums on the dot-product gate, `width` inputs per row (0: off).
fn mock_builder_dot(model: &QuantModel, input: &[i64], width: usize) -> (ModelCircuit, Vec<i64>) {
    let mut b = new_builder().with_dot_width(width);
    let w = b.assign(model, input, InputVisibility::Private).unwrap();
    b.calculate_params().unwrap();
    (b, w.output_values)
}

/// The instances of a private-input circuit that claims `outputs`.
fn instances(b: &ModelCircuit, outputs: &[i64]) -> Vec<Vec<Fr>> {
    vec![b.output_instances(outputs).expect("outputs in range")]
}

/// Sets advice cell `offset` of the model's thread to `value`; returns what was there.
fn set_cell(b: &mut ModelCircuit, offset: usize, value: Assigned<Fr>) -> Assigned<Fr> {
    std::mem::replace(&mut b.builder.main(0).advice[offset], value)
}

fn satisfied(b: &ModelCircuit, outputs: &[i64]) -> bool {
    let instances = instances(b, outputs);
    MockProver::run(K, b, instances).unwrap().verify().is_ok()
}

/// Whether verification fails with (at least) an unsatisfied table lookup.
fn lookup_fails(b: &ModelCircuit, outputs: &[i64]) -> bool {
    let instances = instances(b, outputs);
    match MockProver::run(K, b, instances).unwrap().verify() {
        Ok(()) => false,
        Err(failures) => failures
            .iter()
            .any(|f| matches!(f, VerifyFailure::Lookup { name, .. } if name == "activation table")),
    }
}

#[test]
fn circuits_reproduce_the_integer_reference_and_are_satisfied() {
    for (name, n) in [
        ("digits_mlp", 3),
        ("digits_cnn", 1),
        ("breast_cancer_lr", 3),
        ("breast_cancer_mlp", 3),
        ("ezkl/1l_conv", 1),
        ("ezkl/1l_mlp", 1),
        ("ezkl/1l_relu", 1),
        ("ezkl/3l_relu_conv_fc", 1),
        ("ezkl/linear_regression", 1),
    ] {
        let (model, inputs) = fixture(name, n);
        let runner = IntegerRunner::new(&model).unwrap();
        for x in inputs {
            let (b, outputs) = mock_builder(&model, &x);
            assert_eq!(
                outputs,
                runner.run(&x).unwrap(),
                "{name}: circuit outputs differ from the reference"
            );
            assert!(satisfied(&b, &outputs), "{name}: constraints not satisfied");
        }
    }
}

#[test]
fn a_wrong_public_output_is_rejected() {
    let (model, inputs) = fixture("digits_mlp", 1);
    let (b, mut outputs) = mock_builder(&model, &inputs[0]);
    outputs[3] += 1;
    assert!(!satisfied(&b, &outputs));
}

/// The packed outputs reach the instance column through copies in the public
/// thread (first rows of the first gate column) and the "public instance"
/// gate: a copy changed together with its instance breaks the copy constraint
/// to the packed word, a copy changed alone breaks the gate.
#[test]
fn a_tampered_instance_copy_is_rejected() {
    let (model, inputs) = fixture("digits_mlp", 1);
    let (mut b, outputs) = mock_builder(&model, &inputs[0]);
    assert!(satisfied(&b, &outputs));
    let honest = instances(&b, &outputs);
    assert_eq!(honest[0].len(), 1, "ten 16-bit logits take one word");
    let public = &mut b.builder.pool(0).threads[0];
    assert_eq!(public.advice.len(), 1);
    public.advice[0] += Assigned::Trivial(Fr::from(1u64));
    let mut forged = outputs.clone();
    forged[0] += 1;
    assert_eq!(instances(&b, &forged)[0][0], honest[0][0] + Fr::from(1u64));
    assert!(
        !satisfied(&b, &forged),
        "a forged output and its copy were accepted"
    );
    let failures = MockProver::run(K, &b, honest)
        .unwrap()
        .verify()
        .unwrap_err();
    assert!(
        failures
            .iter()
            .any(|f| f.to_string().contains("public instance")),
        "a tampered copy did not fail the public instance gate: {failures:?}"
    );
}

/// In a one-column circuit constants (weights, biases, powers of two) are pinned
/// by the "constant" gate on a fixed column, not by copies: a tampered constant
/// cell fails that gate.
#[test]
fn a_tampered_constant_fails_the_constant_gate() {
    let (model, inputs) = fixture("ezkl/1l_mlp", 1);
    let (mut b, outputs) = mock_builder(&model, &inputs[0]);
    assert_eq!(b.params.advice_columns(), 1);
    assert!(
        b.params.constant_gate,
        "one gate column: constants by the gate"
    );
    assert!(satisfied(&b, &outputs));
    let model_thread = b.builder.main(0).id();
    let constants: Vec<usize> = {
        let copies = b.builder.core().copy_manager.lock().unwrap();
        copies
            .constant_equalities
            .iter()
            .filter(|(_, cell)| cell.context_id == model_thread)
            .map(|(_, cell)| cell.offset)
            .collect()
    };
    assert!(constants.len() > 10, "{} constant cells", constants.len());
    for &offset in [0, constants.len() / 2, constants.len() - 1].map(|i| &constants[i]) {
        let original = b.builder.main(0).advice[offset];
        set_cell(&mut b, offset, original + Assigned::Trivial(Fr::from(1u64)));
        let failures = MockProver::run(K, &b, instances(&b, &outputs))
            .unwrap()
            .verify()
            .unwrap_err();
        assert!(
            failures.iter().any(|f| f.to_string().contains("constant")),
            "constant at {offset}: {failures:?}"
        );
        set_cell(&mut b, offset, original);
    }
}

#[test]
fn tampering_any_witness_cell_is_rejected() {
    // 1l_mlp: dense, relu, rescale and range checks — small enough to try every
    // cell, with the sums on halo2-base's gate and on the dot-product gate: at
    // width 3 each rescale is laid out apart, at width 6 its equation joins the
    // neuron's row (3 inputs leave room for the remainder's limbs and `out`),
    // every sum tied to the one zero cell.
    let (model, inputs) = fixture("ezkl/1l_mlp", 1);
    for width in [0, 3, 6] {
        let (mut b, outputs) = mock_builder_dot(&model, &inputs[0], width);
        assert_eq!(b.dots.is_empty(), width == 0);
        let folded = b
            .dots
            .iter()
            .filter(|j| *j.out.value() == Fr::from(0u64) && j.inputs.len() > 3)
            .count();
        assert_eq!(
            folded,
            if width == 6 { b.dots.len() } else { 0 },
            "width {width}"
        );
        let cells = b.builder.main(0).advice.len();
        assert!(cells > 50, "{cells} cells");
        let mut accepted = Vec::new();
        for i in 0..cells {
            let original = b.builder.main(0).advice[i];
            set_cell(&mut b, i, original + Assigned::Trivial(Fr::from(1u64)));
            let accepted_now = satisfied(&b, &outputs);
            set_cell(&mut b, i, original);
            if accepted_now && !is_zero_hint_of_zero(&mut b.builder, i) {
                accepted.push(i);
            }
        }
        assert!(satisfied(&b, &outputs));
        assert!(
            accepted.is_empty(),
            "width {width}: tampered cells still accepted: {accepted:?} of {cells}"
        );
    }
}

/// Whether verification fails with (at least) the dot-product gate unsatisfied.
fn dot_gate_fails(b: &ModelCircuit, outputs: &[i64]) -> bool {
    let instances = instances(b, outputs);
    match MockProver::run(K, b, instances).unwrap().verify() {
        Ok(()) => false,
        Err(failures) => failures
            .iter()
            .any(|f| format!("{f:?}").contains("dot product")),
    }
}

#[test]
fn dot_product_gate_matches_the_reference_and_rejects_tampering() {
    for (name, width) in [
        ("digits_mlp", 4),
        ("ezkl/1l_conv", 5),
        ("ezkl/3l_relu_conv_fc", 7),
        ("breast_cancer_mlp", 16),
    ] {
        let (model, inputs) = fixture(name, 1);
        let reference = IntegerRunner::new(&model).unwrap().run(&inputs[0]).unwrap();
        let (mut b, outputs) = mock_builder_dot(&model, &inputs[0], width);
        assert_eq!(
            outputs, reference,
            "{name}: circuit outputs differ from the reference"
        );
        assert!(
            b.params.dot.sets >= 1 && b.params.dot.width == width,
            "{name}"
        );
        assert!(satisfied(&b, &outputs), "{name}: constraints not satisfied");
        let jobs = b.dots.len();
        for j in [0, jobs / 2, jobs - 1] {
            // A sum that is not the products' (changed in the job's row and in
            // the rescale cell it is copied to, consistently) fails the gate.
            let out = b.dots[j].out;
            let cell = out.cell.unwrap();
            let tampered = out.value + Assigned::Trivial(Fr::from(1u64));
            b.dots[j].out.value = tampered;
            let original = set_cell(&mut b, cell.offset, tampered);
            assert!(
                dot_gate_fails(&b, &outputs),
                "{name}: sum of job {j} tampered accepted"
            );
            set_cell(&mut b, cell.offset, original);
            b.dots[j].out = out;
            // An input in the gate that is not the layer's input cell fails the copy.
            // (A job may have no inputs: a neuron whose weights all quantize to 0.)
            if let Some(x) = b.dots[j].inputs.first().copied() {
                b.dots[j].inputs[0].value = x.value + Assigned::Trivial(Fr::from(1u64));
                assert!(
                    !satisfied(&b, &outputs),
                    "{name}: input of job {j} tampered accepted"
                );
                b.dots[j].inputs[0] = x;
            }
        }
        assert!(satisfied(&b, &outputs), "{name}");
    }
}

#[test]
fn tampering_sampled_cells_of_a_cnn_is_rejected() {
    let (model, inputs) = fixture("ezkl/1l_conv", 1);
    let (mut b, outputs) = mock_builder(&model, &inputs[0]);
    let cells = b.builder.main(0).advice.len();
    for i in (0..cells).step_by((cells / 25).max(1)) {
        let original = b.builder.main(0).advice[i];
        set_cell(&mut b, i, original - Assigned::Trivial(Fr::from(3u64)));
        assert!(
            !satisfied(&b, &outputs),
            "cell {i} of {cells} tampered but accepted"
        );
        set_cell(&mut b, i, original);
    }
}

#[test]
fn table_activations_match_the_reference_and_reject_tampering() {
    for (name, n) in [("wine_sigmoid_mlp", 2), ("iris_tanh_mlp", 2)] {
        let (model, inputs) = fixture(name, n);
        let runner = IntegerRunner::new(&model).unwrap();
        for x in &inputs {
            let (b, outputs) = mock_builder(&model, x);
            assert_eq!(outputs, runner.run(x).unwrap(), "{name}");
            assert!(!b.lookups.is_empty(), "{name}: no table lookups");
            assert!(satisfied(&b, &outputs), "{name}: constraints not satisfied");
        }
        // A looked-up output that is not the table's value is rejected: change
        // the y of a lookup (and the gate cell it is copied from) consistently.
        let (mut b, outputs) = mock_builder(&model, &inputs[0]);
        for i in [0, b.lookups.len() / 2, b.lookups.len() - 1] {
            for delta in [1u64, 7] {
                let y = b.lookups[i].y;
                let cell = y.cell.unwrap();
                let tampered = y.value + Assigned::Trivial(Fr::from(delta));
                b.lookups[i].y.value = tampered;
                let original = set_cell(&mut b, cell.offset, tampered);
                assert!(
                    lookup_fails(&b, &outputs),
                    "{name}: lookup {i} tampered by {delta} accepted"
                );
                set_cell(&mut b, cell.offset, original);
                b.lookups[i].y.value = original;
            }
            // A key that is not the rounded input (but still in the table) is rejected too.
            let x = b.lookups[i].x;
            b.lookups[i].x.value = x.value + Assigned::Trivial(Fr::from(1u64));
            assert!(
                !satisfied(&b, &outputs),
                "{name}: lookup key {i} tampered accepted"
            );
            b.lookups[i].x = x;
        }
        assert!(satisfied(&b, &outputs));
    }
}

#[test]
fn a_table_key_outside_the_table_has_no_witness() {
    // Feed the sigmoid a pre-activation far beyond its calibrated range by
    // tampering the key cell and its lookup copy together: no table row matches.
    let (model, inputs) = fixture("wine_sigmoid_mlp", 1);
    let (mut b, outputs) = mock_builder(&model, &inputs[0]);
    let far = Fr::from(1u64 << 20);
    b.lookups[0].x.value = Assigned::Trivial(far);
    assert!(lookup_fails(&b, &outputs));
}

#[test]
fn a_wrong_input_length_is_an_error() {
    let (model, _) = fixture("digits_mlp", 1);
    let mut b = new_builder();
    assert!(matches!(
        b.assign(&model, &[1, 2, 3], InputVisibility::Private),
        Err(CircuitError::InputLength {
            expected: 64,
            got: 3
        })
    ));
}

#[test]
fn public_and_hashed_inputs_are_bound_to_the_instances() {
    let (model, inputs) = fixture("breast_cancer_lr", 1);
    for visibility in [InputVisibility::Public, InputVisibility::Hashed] {
        let mut b = new_builder();
        let w = b.assign(&model, &inputs[0], visibility).unwrap();
        b.calculate_params().unwrap();
        let expected = if visibility == InputVisibility::Public {
            inputs[0].len()
        } else {
            1
        };
        assert_eq!(w.input_instances.len(), expected);
        let mut instances: Vec<Fr> = w.input_instances.clone();
        instances.extend(b.output_instances(&w.output_values).unwrap());
        assert!(
            MockProver::run(K, &b, vec![instances.clone()])
                .unwrap()
                .verify()
                .is_ok(),
            "{visibility:?}"
        );
        // Another input (or commitment) in the instances is rejected.
        instances[0] += Fr::from(1u64);
        assert!(
            MockProver::run(K, &b, vec![instances])
                .unwrap()
                .verify()
                .is_err(),
            "{visibility:?}"
        );
    }
}

#[test]
fn the_commitment_depends_on_every_input_value() {
    let (model, inputs) = fixture("breast_cancer_lr", 1);
    let commit = |x: &[i64]| {
        let mut b = new_builder();
        b.assign(&model, x, InputVisibility::Hashed)
            .unwrap()
            .input_instances[0]
    };
    let base = commit(&inputs[0]);
    assert_eq!(base, commit(&inputs[0]));
    for i in [0, 15, 29] {
        let mut x = inputs[0].clone();
        x[i] += 1;
        assert_ne!(commit(&x), base, "input {i}");
    }
}

/// `size::min_advice_cells` is a lower bound: every fixture's layout, on halo2-base's gate
/// and on the dot-product gate, holds at least that many cells (gate advice plus dot terms).
#[test]
fn the_size_bound_never_exceeds_a_real_layout() {
    for name in [
        "digits_mlp",
        "digits_cnn",
        "ops_zoo",
        "seq_lstm",
        "seq_gru",
        "ezkl/1l_conv",
        "ezkl/3l_relu_conv_fc",
        "ezkl/2l_relu_sigmoid_small",
        "ezkl/decision_tree",
    ] {
        let (model, inputs) = fixture(name, 1);
        let bound = min_advice_cells(&model);
        for width in [0, 6] {
            let (b, _) = mock_builder_dot(&model, &inputs[0], width);
            let gate = b.builder.statistics().gate.total_advice_per_phase[0];
            let dot: usize = b.dots.iter().map(|j| j.inputs.len()).sum();
            let cells = (gate + dot) as u128;
            assert!(
                bound <= cells,
                "{name}, width {width}: bound {bound} > {cells} cells"
            );
            eprintln!(
                "{name}, width {width}: bound {bound}, layout {cells} ({:.1}x)",
                cells as f64 / bound as f64
            );
        }
    }
}

/// A few hundred bytes of ONNX can declare billions of cells: 1l_conv's 1×1 convolution over
/// a declared 3×4096×4096 input. It is refused from the model alone, before any layout.
#[test]
fn a_model_declaring_a_huge_circuit_is_refused_before_layout() {
    use cipherproof_model::onnx::decode_model;
    use cipherproof_model::onnx::proto::tensor_shape_proto::dimension::Value as Dim;
    use cipherproof_model::onnx::proto::type_proto;
    use cipherproof_model::quant::quantize_for_range;
    let bytes = std::fs::read(testdata("ezkl/1l_conv/network.onnx")).unwrap();
    let mut m = decode_model(&bytes).unwrap();
    let input = &mut m.graph.as_mut().unwrap().input[0];
    let Some(type_proto::Value::TensorType(t)) = input.r#type.as_mut().unwrap().value.as_mut()
    else {
        panic!("1l_conv's input is a tensor")
    };
    let dims = &mut t.shape.as_mut().unwrap().dim;
    dims[2].value = Some(Dim::DimValue(4096));
    dims[3].value = Some(Dim::DimValue(4096));
    let graph = import_onnx(&prost::Message::encode_to_vec(&m)).unwrap();
    let model = quantize_for_range(&graph, 1.0, &QuantConfig::default()).unwrap();
    assert!(min_advice_cells(&model) > 100_000_000);
    match check_fits(&model, 22, 8) {
        Err(CircuitError::TooLarge { needed, max: 22 }) => assert!(needed >= 24, "{needed}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(check_fits(&fixture("ezkl/1l_conv", 1).0, 22, 8).is_ok());
}
