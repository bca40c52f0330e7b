//! ONNX's recurrent layers, unrolled at import: EZKL's one-step lstm example gives
//! onnxruntime's values for each of its three outputs; the seq_lstm fixture (two 6-step
//! LSTMs, one bidirectional, peepholes, initial states, a Relu activation, every output
//! and runtime Concats) in batch-major layout computes exactly what its time-major twin does; and what cannot be unrolled, in LSTMs,
//! GRUs and RNNs, is refused by name. (`fixtures.rs` checks seq_lstm and seq_gru against
//! onnxruntime on 200 sequences each.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::onnx::decode_model;
use cipherproof_model::onnx::proto::{AttributeProto, ModelProto, NodeProto, TensorProto};
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_model::{Graph, ImportOptions, import_onnx, import_onnx_with};
use common::*;

fn ezkl_lstm(output: Option<&str>) -> cipherproof_model::Result<Graph> {
    let bytes = std::fs::read(testdata().join("ezkl/lstm/network.onnx")).unwrap();
    let opts = ImportOptions {
        output: output.map(str::to_string),
    };
    import_onnx_with(&bytes, &opts)
}

/// Each output of EZKL's lstm (Y, Y_h, Y_c), picked with `--output`, equals onnxruntime's
/// on 50 inputs within 1e-4, and its quantized model stays within a hundredth of it.
#[test]
fn ezkl_lstm_gives_onnxruntimes_value_for_each_output() {
    let err = ezkl_lstm(None).unwrap_err().to_string();
    assert!(
        err.contains("pick it with --output (output, 78, 79)"),
        "{err}"
    );
    let reference = read_json(&testdata().join("ezkl/lstm/reference.json"));
    let inputs = rows(&reference["inputs"]);
    for name in ["output", "78", "79"] {
        let graph = ezkl_lstm(Some(name)).unwrap();
        let kinds: Vec<&str> = graph.nodes.iter().map(|n| n.op.kind()).collect();
        // One step from zero states: no recurrent layer, no forget gate.
        assert!(!kinds.contains(&"Add"), "{name}: {kinds:?}");
        let expected = rows(&reference["outputs"][name]);
        let float = FloatRunner::new(&graph).unwrap();
        for (x, want) in inputs.iter().zip(&expected) {
            close_to_onnxruntime(&float.run(x).unwrap(), want)
                .unwrap_or_else(|e| panic!("{name} on {x:?}: {e}"));
        }
        let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
        let integer = IntegerRunner::new(&model).unwrap();
        for (i, (x, want)) in inputs.iter().zip(&expected).enumerate() {
            let q = integer.run(&integer.quantize_input(i, x).unwrap()).unwrap();
            let got = cipherproof_model::exec::integer::dequantize_output(&model, &q);
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - f64::from(*w)).abs() < 0.01,
                    "{name} on {x:?}: {got:?} vs {want:?}"
                );
            }
        }
    }
}

fn fixture_graph(name: &str, file: &str) -> Graph {
    import_onnx(&std::fs::read(testdata().join(name).join(file)).unwrap()).unwrap()
}

/// layout=1 (batch-major), which neither onnxruntime nor onnx's reference evaluator runs,
/// gives bit for bit the float and integer outputs of the same layer in layout 0, which
/// matches onnxruntime (`fixtures.rs`): seq_lstm's forward LSTM, seq_gru's bidirectional
/// RNN (its directions joined along the batch-major axes).
#[test]
fn batch_major_layout_computes_what_time_major_does() {
    for name in ["seq_lstm", "seq_gru"] {
        let (a, b) = (
            fixture_graph(name, "model.onnx"),
            fixture_graph(name, "layout1.onnx"),
        );
        let test = rows(&read_json(&testdata().join(name).join("test.json"))["inputs"]);
        let cal = rows(&read_json(&testdata().join(name).join("calibration.json"))["inputs"]);
        let (fa, fb) = (FloatRunner::new(&a).unwrap(), FloatRunner::new(&b).unwrap());
        for x in &test {
            assert_eq!(fa.run(x).unwrap(), fb.run(x).unwrap(), "{name}: {x:?}");
        }
        let qa = quantize(&a, &cal, &QuantConfig::default()).unwrap();
        let qb = quantize(&b, &cal, &QuantConfig::default()).unwrap();
        // Joined values sit at different scales: the Concats round finer inputs or
        // multiply coarser ones up, and the integer models still agree.
        let shifts: Vec<i32> = qa
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                cipherproof_model::quant::QOp::Concat { shifts, .. } => Some(shifts.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(shifts.iter().any(|&d| d != 0), "{name}: {shifts:?}");
        let (ia, ib) = (
            IntegerRunner::new(&qa).unwrap(),
            IntegerRunner::new(&qb).unwrap(),
        );
        for (i, x) in test.iter().take(20).enumerate() {
            let x = ia.quantize_input(i, x).unwrap();
            assert_eq!(ia.run(&x).unwrap(), ib.run(&x).unwrap(), "{name}");
        }
    }
}

fn model() -> ModelProto {
    fixture_model("seq_lstm")
}

fn fixture_model(name: &str) -> ModelProto {
    let path = testdata().join(name).join("model.onnx");
    decode_model(&std::fs::read(path).unwrap()).unwrap()
}

fn set_attr(n: &mut NodeProto, a: AttributeProto) {
    n.attribute.retain(|x| x.name() != a.name());
    n.attribute.push(a);
}

fn text(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        s: Some(v.as_bytes().to_vec()),
        r#type: Some(3),
        ..Default::default()
    }
}

fn activations(names: &[&str]) -> AttributeProto {
    AttributeProto {
        name: Some("activations".into()),
        strings: names.iter().map(|s| s.as_bytes().to_vec()).collect(),
        r#type: Some(8),
        ..Default::default()
    }
}

/// What the unrolling cannot express is refused naming the node and the reason, and so is
/// a runtime Concat of mismatched or constant inputs.
#[test]
fn what_cannot_be_unrolled_is_refused_by_name() {
    let mut m = model();
    set_attr(
        node(&mut m, "lstm_forward"),
        text("direction", "bidirectional"),
    );
    let e = import_err(&m);
    // Bidirectional with one direction's weights.
    assert!(
        e.contains("lstm_forward") && e.contains("(expected [2, 4·hidden, 4])"),
        "{e}"
    );

    let mut m = model();
    let clip = AttributeProto {
        name: Some("clip".into()),
        f: Some(3.0),
        r#type: Some(1),
        ..Default::default()
    };
    set_attr(node(&mut m, "lstm_forward"), clip);
    let e = import_err(&m);
    assert!(e.contains("lstm_forward") && e.contains("clip"), "{e}");

    let mut m = model();
    let acts = activations(&["Sigmoid", "Tanh", "Tanh", "Sigmoid", "Softsign", "Tanh"]);
    set_attr(node(&mut m, "lstm_bidirectional"), acts);
    let e = import_err(&m);
    assert!(
        e.contains("lstm_bidirectional") && e.contains("activation 'Softsign'"),
        "{e}"
    );

    // A runtime Concat of tensors that disagree off its axis, or joined with a constant.
    let mut m = model();
    node(&mut m, "join_states").input[1] = "y_r".into();
    let e = import_err(&m);
    assert!(
        e.contains("join_states")
            && e.contains("Concat of mismatched shapes [1, 5] and [6, 2, 1, 5]"),
        "{e}"
    );
    let mut m = model();
    node(&mut m, "join_states").input[1] = "b_out".into();
    let e = import_err(&m);
    assert!(
        e.contains("join_states") && e.contains("input 1 is a constant joined to runtime tensors"),
        "{e}"
    );

    // Sequences shorter than the model's length.
    let mut m = model();
    let g = m.graph.as_mut().unwrap();
    let lens: &mut TensorProto = g
        .initializer
        .iter_mut()
        .find(|t| t.name() == "seq_lens")
        .unwrap();
    lens.int32_data = vec![3];
    lens.raw_data = None;
    let e = import_err(&m);
    assert!(
        e.contains("lstm_forward") && e.contains("sequence_lens [3]"),
        "{e}"
    );

    // Weights of the wrong shape.
    let mut m = model();
    node(&mut m, "lstm_forward").input[1] = "w_out".into();
    let e = import_err(&m);
    assert!(
        e.contains("lstm_forward") && e.contains("W of shape [3, 30]"),
        "{e}"
    );
}

/// GRU and RNN share the LSTM's checks: a bidirectional layer with one direction's
/// weights, a wrong activation count and weights of the wrong shape are refused naming
/// the node.
#[test]
fn gru_and_rnn_refuse_what_cannot_be_unrolled() {
    let mut m = fixture_model("seq_gru");
    set_attr(
        node(&mut m, "gru_forward"),
        text("direction", "bidirectional"),
    );
    let e = import_err(&m);
    assert!(
        e.contains("gru_forward") && e.contains("(expected [2, 3·hidden, 4])"),
        "{e}"
    );

    let mut m = fixture_model("seq_gru");
    let acts = activations(&["Tanh", "Tanh", "Tanh"]);
    set_attr(node(&mut m, "rnn"), acts);
    let e = import_err(&m);
    assert!(
        e.contains("rnn") && e.contains("3 activations (a bidirectional RNN takes 2)"),
        "{e}"
    );

    // A GRU's W has 3 gates: an LSTM's does not fit.
    let mut m = fixture_model("seq_gru");
    node(&mut m, "gru_forward").input[1] = "w_n".into();
    let e = import_err(&m);
    assert!(
        e.contains("gru_forward") && e.contains("W of shape [2, 5, 4]"),
        "{e}"
    );
}
