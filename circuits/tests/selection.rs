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

#[test]
fn tampering_any_cell_of_the_decision_tree_is_rejected() {
    let (model, inputs) = decision_tree();
    let (mut b, outputs) = tree_circuit(&model, &inputs[0]);
    let cells = b.builder.main(0).advice.len();
    assert!(cells > 500, "{cells} cells");
    let mut accepted = Vec::new();
    for i in 0..cells {
        let original = b.builder.main(0).advice[i];
        b.builder.main(0).advice[i] = original + Assigned::Trivial(Fr::from(1u64));
        let now = tree_ok(&b, &outputs);
        b.builder.main(0).advice[i] = original;
        if now && !is_zero_hint_of_zero(&mut b.builder, i) {
            accepted.push(i);
        }
    }
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
