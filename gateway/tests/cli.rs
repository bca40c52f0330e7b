//! The `cipherproof` binary as users' scripts call it: flags, JSON shapes, exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use cipherproof_testkit::fixture as testdata;
use serde_json::Value;
use std::process::{Command, Output};

fn cipherproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cipherproof"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn path(rel: &str) -> String {
    testdata(rel).to_string_lossy().into_owned()
}

fn ok_json(args: &[&str]) -> Value {
    let out = cipherproof(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn fails_with(args: &[&str], needle: &str) {
    let out = cipherproof(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail cleanly: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: expected '{needle}' in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn run_single_input_json_has_the_contracted_keys() {
    let v = ok_json(&[
        "run",
        "--model",
        &path("digits_mlp/model.onnx"),
        "--input",
        &path("digits_mlp/input.json"),
        "--json",
    ]);
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "argmax",
            "dequantized_outputs",
            "float_argmax",
            "outputs",
            "quantized_outputs"
        ]
    );
    assert_eq!(v["outputs"][0].as_array().unwrap().len(), 10);
    assert!(v["quantized_outputs"][0][0].is_i64());
    assert_eq!(v["argmax"], v["float_argmax"]);
}

#[test]
fn run_batch_with_calibration_gives_one_row_per_input() {
    let v = ok_json(&[
        "run",
        "--model",
        &path("digits_cnn/model.onnx"),
        "--batch",
        &path("digits_cnn/test.json"),
        "--calibration",
        &path("digits_cnn/calibration.json"),
        "--json",
    ]);
    assert_eq!(v["argmax"].as_array().unwrap().len(), 450);
    assert_eq!(v["outputs"].as_array().unwrap().len(), 450);
    // Softmax output stays in the float outputs (rows sum to 1).
    let row: f64 = v["outputs"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!((row - 1.0).abs() < 1e-4);
}

#[test]
fn calibration_accepts_ezkl_input_format() {
    let input = path("ezkl/lenet_5/input.json");
    let v = ok_json(&[
        "run",
        "--model",
        &path("ezkl/lenet_5/network.onnx"),
        "--input",
        &input,
        "--calibration",
        &input,
        "--json",
    ]);
    assert_eq!(v["argmax"], v["float_argmax"]);
}

#[test]
fn run_text_output_and_report_file() {
    let report =
        std::env::temp_dir().join(format!("cipherproof-report-{}.json", std::process::id()));
    let out = cipherproof(&[
        "run",
        "--model",
        &path("wine_sigmoid_mlp/model.onnx"),
        "--input",
        &path("wine_sigmoid_mlp/input.json"),
        "--report",
        &report.to_string_lossy(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("quantized outputs") && text.contains("argmax"),
        "{text}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["layers"][1]["op"], "Sigmoid");
    assert_eq!(r["agreement"]["argmax_agreement"], 1.0);
    std::fs::remove_file(report).ok();
}

/// EZKL's 1l_relu with its Relu made an Erf (GELU's building block), which cipherproof does
/// not support, written to `dir`.
fn unsupported_model(dir: &std::path::Path) -> String {
    use prost::Message;
    let bytes = std::fs::read(path("ezkl/1l_relu/network.onnx")).unwrap();
    let mut m = cipherproof_model::onnx::decode_model(&bytes).unwrap();
    let graph = m.graph.as_mut().unwrap();
    let relu = graph.node.iter_mut().find(|n| n.op_type() == "Relu").unwrap();
    relu.op_type = Some("Erf".into());
    let p = dir.join("erf.onnx");
    std::fs::write(&p, m.encode_to_vec()).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn inspect_reports_ops_shapes_and_support() {
    let v = ok_json(&["inspect", &path("ezkl/lenet_5/network.onnx"), "--json"]);
    assert_eq!(v["all_supported"], true);
    assert_eq!(v["parameter_count"], 61706);
    assert_eq!(
        v["inputs"][0]["shape"],
        serde_json::json!(["batch_size", "1", "32", "32"])
    );
    assert_eq!(
        v["nodes"][0]["output_shape"],
        serde_json::json!([1, 6, 28, 28])
    );
    // Every operator of lstm is supported; its three outputs need a choice, and each one's
    // import gives the shapes (the LSTM node's first output, Y, is [1, 1, 1, 3]).
    let lstm = ok_json(&["inspect", &path("ezkl/lstm/network.onnx"), "--json"]);
    assert_eq!(lstm["all_supported"], true);
    let why = lstm["import_error"].as_str().unwrap();
    assert!(why.contains("pick it with --output (output, 78, 79)"), "{why}");
    let node = lstm["nodes"].as_array().unwrap().iter().find(|n| n["op_type"] == "LSTM");
    assert_eq!(node.unwrap()["output_shape"], serde_json::json!([1, 1, 1, 3]));
    let dir = std::env::temp_dir().join(format!("cipherproof-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let erf = unsupported_model(&dir);
    let v = ok_json(&["inspect", &erf, "--json"]);
    assert_eq!(v["all_supported"], false);
    assert_eq!(v["unsupported_ops"], serde_json::json!(["Erf"]));
    let text = cipherproof(&["inspect", &erf]);
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("supported  no: unsupported operators"));
    std::fs::remove_dir_all(dir).ok();
    // Every operator of xgboost is supported; its two outputs need a choice.
    let text = cipherproof(&["inspect", &path("ezkl/xgboost/network.onnx")]);
    assert!(text.status.success());
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("pick it with --output (output, onnx::ArgMax_73)"), "{out}");
}

#[test]
fn bad_inputs_fail_with_a_clear_message_and_exit_1() {
    let dir = std::env::temp_dir().join(format!("cipherproof-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_string_lossy().into_owned()
    };
    let model = path("digits_mlp/model.onnx");
    let garbage = write("garbage.onnx", b"not a model");
    let truncated = write("truncated.onnx", &std::fs::read(&model).unwrap()[..500]);
    let short = write("short.json", br#"{"input_data": [[0.1, 0.2]]}"#);
    let nan = write("nan.json", br#"{"input_data": [[null]]}"#);
    let not_json = write("bad.json", b"{");
    let huge = write(
        "huge.json",
        format!(r#"{{"input_data": [[{}]]}}"#, vec!["1000.0"; 64].join(",")).as_bytes(),
    );
    fails_with(&["inspect", &garbage], "malformed ONNX model");
    fails_with(
        &["run", "--model", &truncated, "--input", &short],
        "truncated",
    );
    fails_with(
        &["run", "--model", &model, "--input", &short],
        "has 2 values but the model input 'input' of shape [1, 64] needs 64",
    );
    fails_with(&["run", "--model", &model, "--input", &nan], "null");
    fails_with(
        &["run", "--model", &model, "--input", &not_json],
        "not valid JSON",
    );
    fails_with(
        &[
            "run",
            "--model",
            &model,
            "--input",
            &huge,
            "--calibration",
            &path("digits_mlp/calibration.json"),
        ],
        "outside the quantized input range",
    );
    let erf = unsupported_model(&dir);
    fails_with(
        &["run", "--model", &erf, "--input", &path("ezkl/1l_relu/input.json")],
        "unsupported operator Erf",
    );
    fails_with(
        &["run", "--model", "/nonexistent.onnx", "--input", &short],
        "cannot read /nonexistent.onnx",
    );
    std::fs::remove_dir_all(dir).ok();
}

/// `serve --backend cuda` in a build without the CUDA prover stops at once with
/// the reason (exit 1, nothing bound); a backend name it does not know is a usage error.
#[test]
fn serve_with_a_backend_it_cannot_run_says_why() {
    if cipherproof_prover::prove::HAS_CUDA_PROVER {
        eprintln!("SKIP: this build has the CUDA prover");
        return;
    }
    let data = std::env::temp_dir().join(format!("cipherproof-cli-serve-{}", std::process::id()));
    let data = data.to_string_lossy().into_owned();
    let serve = ["serve", "--listen", "127.0.0.1:0", "--data", &data, "--backend"];
    fails_with(&[&serve[..], &["cuda"]].concat(), "build it with `--features cuda`");
    let out = cipherproof(&[&serve[..], &["gpu"]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected cpu, cuda or auto"), "{stderr}");
}

/// Output piped into a reader that closes early (`cipherproof inspect … | head -1`):
/// the command ends as Unix tools do (SIGPIPE), without a panic or a backtrace.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    const SIGPIPE: i32 = 13; // Linux and the BSDs
    for _ in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cipherproof"))
            .args(["inspect", &path("ezkl/lenet_5/network.onnx")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the model is read and anything printed.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.signal(), Some(SIGPIPE), "{:?}: {stderr}", out.status);
    }
}
