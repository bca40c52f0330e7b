//! The selection gadgets of tree models (comparisons, argmax, gathers from
//! constant tables): the decision tree's circuit equals the integer reference
//! on iris samples, and no false comparison bit, argmax index or table row has
//! a witness.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_circuits::chips::select::{
    argmax_claiming, gather_row_claiming, less_than_claiming,
};
use cipherproof_circuits::field::{Fr, fr_i64, i64_fr};
use cipherproof_circuits::{InputVisibility, ModelCircuit};
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_testkit::{fixture, read_json, rows};
use common::{is_zero_hint_of_zero, lay_out, ok};
use halo2_base::QuantumCell::{Constant, Existing};
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::halo2_proofs::plonk::Assigned;

const TREE_K: u32 = 11;

/// The decision tree (calibrated on its reference inputs) and those inputs, quantized.
fn decision_tree() -> (cipherproof_model::quant::QuantModel, Vec<Vec<i64>>) {
    let dir = "ezkl/decision_tree";
    let graph =
        import_onnx(&std::fs::read(fixture(&format!("{dir}/network.onnx"))).unwrap()).unwrap();
    let inputs = rows(&read_json(&fixture(&format!("{dir}/reference.json")))["inputs"]);
    let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let q = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| runner.quantize_input(i, x).unwrap())
        .collect();
    (model, q)
}

fn tree_circuit(
    model: &cipherproof_model::quant::QuantModel,
    input: &[i64],
) -> (ModelCircuit, Vec<i64>) {
    let mut b = ModelCircuit::new(CircuitBuilderStage::Mock, TREE_K, 8);
    let w = b.assign(model, input, InputVisibility::Private).unwrap();
    b.calculate_params().unwrap();
    (b, w.output_values)
}

fn tree_ok(b: &ModelCircuit, outputs: &[i64]) -> bool {
    let instances = vec![b.output_instances(outputs).unwrap()];
    MockProver::run(TREE_K, b, instances)
        .unwrap()
        .verify()
        .is_ok()
}

#[test]
fn the_decision_tree_circuit_equals_the_reference_on_iris_samples() {
    let (model, inputs) = decision_tree();
    for op in ["Greater", "Equal", "ArgMax", "GatherConst", "Pick"] {
        assert!(
            model.nodes.iter().any(|n| n.op.kind() == op),
            "no {op} node"
        );
    }
    let runner = IntegerRunner::new(&model).unwrap();
    let mut classes = std::collections::BTreeSet::new();
    // Every tenth sample: all three classes, both sides of every threshold.
    for x in inputs.iter().step_by(10) {
        let (b, outputs) = tree_circuit(&model, x);
        assert_eq!(outputs, runner.run(x).unwrap());
        assert!(tree_ok(&b, &outputs), "constraints fail on {x:?}");
        classes.insert(outputs[0]);
        let other =
            (outputs[0] + (1 << model.output_info().scale)) % (3 << model.output_info().scale);
        assert!(!tree_ok(&b, &[other]), "another class accepted on {x:?}");
    }
    assert_eq!(classes.len(), 3, "{classes:?}");
}

/// The advice cells of the model's thread that, each changed by one alone, still leave the
/// circuit satisfied (halo2-base's free inverse hints of zeros aside).
fn tampered_cells_accepted(b: &mut ModelCircuit, outputs: &[i64]) -> Vec<usize> {
    let mut accepted = Vec::new();
    for i in 0..b.builder.main(0).advice.len() {
        let original = b.builder.main(0).advice[i];
        b.builder.main(0).advice[i] = original + Assigned::Trivial(Fr::from(1u64));
        let now = tree_ok(b, outputs);
        b.builder.main(0).advice[i] = original;
        if now && !is_zero_hint_of_zero(&mut b.builder, i) {
            accepted.push(i);
        }
    }
    accepted
}

#[test]
fn tampering_any_cell_of_the_decision_tree_is_rejected() {
    let (model, inputs) = decision_tree();
    let (mut b, outputs) = tree_circuit(&model, &inputs[0]);
    let cells = b.builder.main(0).advice.len();
    assert!(cells > 500, "{cells} cells");
    let accepted = tampered_cells_accepted(&mut b, &outputs);
    assert!(tree_ok(&b, &outputs));
    assert!(
        accepted.is_empty(),
        "tampered cells accepted: {accepted:?} of {cells}"
    );
}

#[test]
fn a_false_comparison_bit_has_no_witness() {
    // 16-bit operands, including the extremes and equal ones.
    let m = 1i64 << 15;
    for (a, b) in [(3, 5), (5, 3), (4, 4), (-m, m - 1), (m - 1, -m), (-1, 0)] {
        for claim in [false, true] {
            let (builder, t) = lay_out(|chip| {
                let x = Existing(chip.ctx.load_witness(fr_i64(a)));
                less_than_claiming(chip, x, Constant(fr_i64(b)), 16, claim)
            });
            assert_eq!(i64_fr(t.value()), Some(i64::from(claim)));
            // The bit, `e`, `f`, `g` and `d` follow the claim, so every gate of the
            // comparison holds: only the range check of `d` (a negative number when the
            // claim is false) can object, and it does.
            assert_eq!(ok(&builder), claim == (a < b), "{a} < {b} claimed {claim}");
        }
    }
}

#[test]
fn only_the_first_maximum_is_an_argmax() {
    let row = [4i64, -7, 9, 9, 2];
    for index in 0..=row.len() {
        let (builder, _) = lay_out(|chip| {
            let cells: Vec<_> = row
                .iter()
                .map(|&v| chip.ctx.load_witness(fr_i64(v)))
                .collect();
            argmax_claiming(chip, &cells, 16, index)
        });
        // A smaller value, the later of two equal maxima (its `m − x_2 − 1` is −1), or an
        // index past the end (an all-zero indicator) has no witness.
        assert_eq!(ok(&builder), index == 2, "index {index}");
    }
}

#[test]
fn a_table_row_must_be_the_index() {
    let table = [10i64, 11, 20, 21, 30, 31];
    // Index 2 at scale 2^3 (the integer 16).
    for (q, row, good) in [
        (16, 2, true),
        (16, 1, false),
        (24, 3, false),
        (-8, 0, false),
    ] {
        let (builder, out) = lay_out(|chip| {
            let q = chip.ctx.load_witness(fr_i64(q));
            gather_row_claiming(chip, q, &table, 3, 3, row)
        });
        assert_eq!(ok(&builder), good, "q {q} row {row}");
        if good {
            let got: Vec<_> = out.iter().map(|c| i64_fr(c.value()).unwrap()).collect();
            assert_eq!(got, [30, 31]);
        }
    }
}

/// GatherElements by computed indices (`idx = (x < 0) + [0, 1, 2, 0]`): the circuit equals
/// the reference, and tampering any of its cells is rejected.
#[test]
fn gather_elements_by_computed_indices_is_exact_and_tamper_proof() {
    use cipherproof_model::graph::compare::Comparison;
    use cipherproof_model::graph::constant::Weights;
    use cipherproof_model::graph::{Graph, Node, Op, ValueInfo};
    let value = |name: &str| ValueInfo {
        name: name.into(),
        shape: vec![1, 4],
    };
    let graph = Graph {
        values: vec![value("x"), value("neg"), value("idx"), value("y")],
        nodes: vec![
            Node {
                name: "neg".into(),
                op: Op::CompareConst {
                    cmp: Comparison::Less,
                    c: vec![0.0],
                    c_shape: vec![1],
                },
                inputs: vec![0],
                output: 1,
            },
            Node {
                name: "idx".into(),
                op: Op::AddConst {
                    c: Weights::new(vec![4], vec![0.0, 1.0, 2.0, 0.0]),
                },
                inputs: vec![1],
                output: 2,
            },
            Node {
                name: "y".into(),
                op: Op::GatherElements { axis: 1 },
                inputs: vec![0, 2],
                output: 3,
            },
        ],
        output: 3,
        opset: 13,
    };
    let x = [0.5, -1.0, 2.0, -0.25];
    let model = quantize(&graph, &[x.to_vec()], &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let q = runner.quantize_input(0, &x).unwrap();
    let want = runner.run(&q).unwrap();
    assert_eq!(want, [q[0], q[2], q[2], q[1]]);
    let (mut b, outputs) = tree_circuit(&model, &q);
    assert_eq!(outputs, want);
    assert!(tree_ok(&b, &outputs));
    let cells = b.builder.main(0).advice.len();
    let accepted = tampered_cells_accepted(&mut b, &outputs);
    assert!(accepted.is_empty(), "tampered cells accepted: {accepted:?} of {cells}");
}

/// xgboost (its class output): node, threshold and leaf tables of up to 1,152 rows are
/// gathered by lookups into fixed tables; the circuit equals the reference on iris samples
/// of each class, and a looked-up value changed by one fails its lookup.
#[test]
fn xgboost_gathers_by_lookup_and_equals_the_reference() {
    const K: u32 = 13;
    let dir = "ezkl/xgboost";
    let bytes = std::fs::read(fixture(&format!("{dir}/network.onnx"))).unwrap();
    let opts = cipherproof_model::ImportOptions {
        output: Some("output".into()),
    };
    let graph = cipherproof_model::import_onnx_with(&bytes, &opts).unwrap();
    let inputs = rows(&read_json(&fixture(&format!("{dir}/reference.json")))["inputs"]);
    let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let run = |x: &[i64]| {
        let mut b = ModelCircuit::new(CircuitBuilderStage::Mock, K, 8);
        let w = b.assign(&model, x, InputVisibility::Private).unwrap();
        b.calculate_params().unwrap();
        (b, w.output_values)
    };
    let verdict = |b: &ModelCircuit, outputs: &[i64]| {
        let instances = vec![b.output_instances(outputs).unwrap()];
        MockProver::run(K, b, instances).unwrap().verify()
    };
    for i in [1, 51, 101] {
        let x = runner.quantize_input(i, &inputs[i]).unwrap();
        let (b, outputs) = run(&x);
        assert_eq!(outputs, runner.run(&x).unwrap());
        assert!(verdict(&b, &outputs).is_ok(), "sample {i}");
        assert!(!b.lookups.is_empty());
    }
    // Change looked-up values (and the cells they are copied from) consistently: the
    // first (a feature index from the root table) and the last (a leaf value).
    let x = runner.quantize_input(0, &inputs[1]).unwrap();
    let (mut b, outputs) = run(&x);
    for i in [0, b.lookups.len() - 1] {
        let y = b.lookups[i].y;
        let tampered = y.value + Assigned::Trivial(Fr::from(1u64));
        b.lookups[i].y.value = tampered;
        b.builder.main(0).advice[y.cell.unwrap().offset] = tampered;
        let failures = verdict(&b, &outputs).unwrap_err();
        assert!(
            failures.iter().any(|f| format!("{f:?}").contains("activation table")),
            "lookup {i}: {failures:?}"
        );
        b.lookups[i].y = y;
        b.builder.main(0).advice[y.cell.unwrap().offset] = y.value;
    }
    assert!(verdict(&b, &outputs).is_ok());
}

/// skl2onnx's decision tree proven with its label and probabilities joined
/// (`--output label,probabilities`): the label's index is multiplied up to the
/// probabilities' scale in the circuit, which equals the integer reference, and a
/// changed label is rejected.
#[test]
fn a_label_joined_with_probabilities_equals_the_reference() {
    let dir = "breast_cancer_tree_onnxml";
    let opts = cipherproof_model::ImportOptions {
        output: Some("label,probabilities".into()),
    };
    let bytes = std::fs::read(fixture(&format!("{dir}/model.onnx"))).unwrap();
    let graph = cipherproof_model::import_onnx_with(&bytes, &opts).unwrap();
    let inputs = rows(&read_json(&fixture(&format!("{dir}/test.json")))["inputs"]);
    let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let samples: Vec<Vec<i64>> = (inputs.iter().enumerate().take(12))
        .map(|(i, x)| runner.quantize_input(i, x).unwrap())
        .collect();
    // The two labels as the joined output holds them (0 and 1, multiplied up).
    let labels: std::collections::BTreeSet<i64> =
        samples.iter().map(|x| runner.run(x).unwrap()[0]).collect();
    assert_eq!(labels.len(), 2, "both classes among the samples: {labels:?}");
    assert!(labels.contains(&0) && labels.iter().any(|&l| l > 1), "{labels:?}");
    for (i, x) in samples.iter().enumerate() {
        let (b, outputs) = tree_circuit(&model, x);
        assert_eq!(outputs, runner.run(x).unwrap(), "sample {i}");
        assert!(tree_ok(&b, &outputs), "sample {i}");
        let mut claimed = outputs.clone();
        claimed[0] = *labels.iter().find(|&&l| l != outputs[0]).unwrap();
        assert!(!tree_ok(&b, &claimed), "sample {i}: the other label accepted");
    }
}
