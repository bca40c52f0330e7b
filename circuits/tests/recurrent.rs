//! Recurrent layers in circuits: unrolled at import into Dense, table activations and
//! elementwise Mul/Add/Sub, whose circuits give the integer reference's outputs for EZKL's
//! lstm (each of its outputs, and all three joined) and the 6-step seq_lstm (LSTMs) and seq_gru (GRUs, an RNN)
//! fixtures, and reject tampered cells and lookups.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_circuits::field::Fr;
use cipherproof_circuits::{InputVisibility, ModelCircuit};
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_model::{ImportOptions, import_onnx_with};
use cipherproof_testkit::{fixture, samples};
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::halo2_proofs::plonk::Assigned;

const K: u32 = 14;

/// A model (calibrated on `cal`) with `output` picked, and the quantized `test` inputs.
fn load(onnx: &str, output: Option<&str>, cal: &str, test: &str) -> (QuantModel, Vec<Vec<i64>>) {
    let opts = ImportOptions {
        output: output.map(str::to_string),
    };
    let graph = import_onnx_with(&std::fs::read(fixture(onnx)).unwrap(), &opts).unwrap();
    let (cal, test) = (
        samples(&fixture(cal), "inputs"),
        samples(&fixture(test), "inputs"),
    );
    let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let q = test
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, x)| runner.quantize_input(i, x).unwrap())
        .collect();
    (model, q)
}

fn seq_lstm() -> (QuantModel, Vec<Vec<i64>>) {
    load(
        "seq_lstm/model.onnx",
        None,
        "seq_lstm/calibration.json",
        "seq_lstm/test.json",
    )
}

fn circuit(model: &QuantModel, input: &[i64]) -> (ModelCircuit, Vec<i64>) {
    let mut b = ModelCircuit::new(CircuitBuilderStage::Mock, K, 8);
    let w = b.assign(model, input, InputVisibility::Private).unwrap();
    b.calculate_params().unwrap();
    (b, w.output_values)
}

fn satisfied(b: &ModelCircuit, outputs: &[i64]) -> bool {
    let instances = vec![b.output_instances(outputs).unwrap()];
    MockProver::run(K, b, instances).unwrap().verify().is_ok()
}

#[test]
fn recurrent_circuits_equal_the_integer_reference() {
    let seq_gru = load(
        "seq_gru/model.onnx",
        None,
        "seq_gru/calibration.json",
        "seq_gru/test.json",
    );
    let mut cases = vec![("seq_lstm", seq_lstm()), ("seq_gru", seq_gru)];
    for output in ["output", "78", "79", "output,78,79"] {
        let json = "ezkl/lstm/reference.json";
        cases.push((
            output,
            load("ezkl/lstm/network.onnx", Some(output), json, json),
        ));
    }
    for (name, (model, inputs)) in cases {
        let runner = IntegerRunner::new(&model).unwrap();
        for x in &inputs {
            let (b, outputs) = circuit(&model, x);
            assert_eq!(outputs, runner.run(x).unwrap(), "{name}");
            assert!(!b.lookups.is_empty(), "{name}: no table lookups");
            assert!(satisfied(&b, &outputs), "{name}: constraints not satisfied");
        }
    }
}

/// Cells sampled across the 6-step unrolling (both LSTMs, every gate kind), each changed
/// by one, and looked-up activations changed consistently with the cell they are copied
/// from: every change is rejected.
#[test]
fn tampering_an_lstm_circuit_is_rejected() {
    let (model, inputs) = seq_lstm();
    let (mut b, outputs) = circuit(&model, &inputs[0]);
    let cells = b.builder.main(0).advice.len();
    assert!(cells > 2000, "{cells} cells");
    for i in (0..cells).step_by(cells / 40) {
        let original = b.builder.main(0).advice[i];
        b.builder.main(0).advice[i] = original + Assigned::Trivial(Fr::from(1u64));
        assert!(
            !satisfied(&b, &outputs),
            "cell {i} of {cells} tampered but accepted"
        );
        b.builder.main(0).advice[i] = original;
    }
    let n = b.lookups.len();
    for i in [0, n / 3, 2 * n / 3, n - 1] {
        let y = b.lookups[i].y;
        let tampered = y.value + Assigned::Trivial(Fr::from(1u64));
        b.lookups[i].y.value = tampered;
        b.builder.main(0).advice[y.cell.unwrap().offset] = tampered;
        assert!(
            !satisfied(&b, &outputs),
            "lookup {i} of {n} tampered but accepted"
        );
        b.lookups[i].y = y;
        b.builder.main(0).advice[y.cell.unwrap().offset] = y.value;
    }
    assert!(satisfied(&b, &outputs));
}

/// The Concat gadget: a part at a finer scale is rounded (`round_shift`, range-checked),
/// a part at the output's scale copied; a rounded value changed by one has no witness.
#[test]
fn a_concat_rounds_finer_parts_and_rejects_a_changed_rounding() {
    use cipherproof_circuits::chips::select::{Part, concat};
    use cipherproof_circuits::field::{fr_i64, i64_fr};
    let (mut b, out) = common::lay_out(|chip| {
        let fine = [13, -6].map(|v| chip.load_signed(fr_i64(v), 10)).to_vec();
        let coarse = vec![chip.load_signed(fr_i64(4), 8)];
        let parts = [
            Part {
                cells: &fine,
                shape: &[2],
                bits: 10,
            },
            Part {
                cells: &coarse,
                shape: &[1],
                bits: 8,
            },
        ];
        concat(chip, &parts, 0, &[2, 0], 8).unwrap()
    });
    let values: Vec<i64> = out.iter().map(|v| i64_fr(v.value()).unwrap()).collect();
    assert_eq!(values, [3, -1, 4]);
    assert!(common::ok(&b));
    for v in &out[..2] {
        let at = v.cell.unwrap().offset;
        common::bump(&mut b, at, 1);
        assert!(
            !common::ok(&b),
            "a rounded value changed by one was accepted"
        );
        common::bump(&mut b, at, -1);
    }
    assert!(common::ok(&b));
}

/// A part at a coarser scale than the output is multiplied up (a constant product), and
/// range-checked when its bits plus the lift exceed the output's: a lifted value changed
/// by one is rejected, and one that no longer fits the output's bits has no witness.
#[test]
fn a_concat_multiplies_coarser_parts_up_and_range_checks_them() {
    use cipherproof_circuits::chips::select::{Part, concat};
    use cipherproof_circuits::field::{fr_i64, i64_fr};
    let lay_out = |coarse: i64| {
        common::lay_out(|chip| {
            let fine = vec![chip.load_signed(fr_i64(-70), 8)];
            let coarse = vec![chip.load_signed(fr_i64(coarse), 7)];
            let parts = [
                Part {
                    cells: &fine,
                    shape: &[1],
                    bits: 8,
                },
                Part {
                    cells: &coarse,
                    shape: &[1],
                    bits: 7,
                },
            ];
            concat(chip, &parts, 0, &[0, -2], 8).unwrap()
        })
    };
    let (mut b, out) = lay_out(-31);
    let values: Vec<i64> = out.iter().map(|v| i64_fr(v.value()).unwrap()).collect();
    assert_eq!(values, [-70, -124]);
    assert!(common::ok(&b));
    let at = out[1].cell.unwrap().offset;
    for delta in [1, -1] {
        common::bump(&mut b, at, delta);
        assert!(!common::ok(&b), "a lifted value changed by {delta} was accepted");
        common::bump(&mut b, at, -delta);
    }
    assert!(common::ok(&b));
    // A 7-bit value lifted by 2 may need 9 bits: −33·4 = −132 is past the output's 8.
    let (b, _) = lay_out(-33);
    assert!(!common::ok(&b), "a lifted value past the output's bits was accepted");
}
