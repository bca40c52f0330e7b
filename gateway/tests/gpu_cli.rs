//! `cipherproof gpu info | witness` as scripts call them. The witness on the
//! CPU backend equals `run --json` on the same model and inputs; on a machine
//! without a GPU, `--backend cuda` fails saying why and `auto` falls back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::process::{Command, Output};

fn cipherproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cipherproof"))
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn witness_on_the_cpu_equals_run_and_cuda_says_why_it_cannot_run() {
    let info = json(&cipherproof(&["gpu", "info", "--json"]));
    let has_gpu = !info["devices"].as_array().unwrap().is_empty();
    let model = cipherproof_testkit::fixture("digits_cnn/model.onnx");
    let input = cipherproof_testkit::fixture("digits_cnn/test.json");
    let (model, input) = (model.to_str().unwrap(), input.to_str().unwrap());
    let base = [
        "gpu", "witness", "--model", model, "--input", input, "--json",
    ];
    let cpu = json(&cipherproof(
        &[&base[..], &["--backend", "cpu", "--compare"]].concat(),
    ));
    assert_eq!(cpu["device"], "cpu");
    assert_eq!(cpu["equal_to_cpu"], true);
    let run = json(&cipherproof(&[
        "run",
        "--model",
        model,
        "--batch",
        input,
        "--calibration",
        input,
        "--json",
    ]));
    assert_eq!(cpu["quantized_outputs"], run["quantized_outputs"]);

    // --batch repeats the inputs in turn.
    let eight = json(&cipherproof(
        &[&base[..], &["--backend", "cpu", "--batch", "8"]].concat(),
    ));
    assert_eq!(
        eight["quantized_outputs"].as_array().unwrap()[..],
        cpu["quantized_outputs"].as_array().unwrap()[..8]
    );

    let auto = json(&cipherproof(
        &[
            &base[..],
            &["--backend", "auto", "--batch", "32", "--compare"],
        ]
        .concat(),
    ));
    assert_eq!(auto["equal_to_cpu"], true);
    let repeated = json(&cipherproof(
        &[
            &base[..],
            &["--backend", "auto", "--batch", "8", "--repeat", "3"],
        ]
        .concat(),
    ));
    assert_eq!(repeated["repeats"], 3);
    assert_eq!(repeated["quantized_outputs"], eight["quantized_outputs"]);
    if has_gpu {
        let leaked = repeated["device_memory_change_bytes"].as_i64().unwrap();
        assert!(
            leaked < 1 << 20,
            "device memory fell by {leaked} bytes over 3 runs"
        );
    }
    if !has_gpu {
        assert_eq!(auto["device"], "cpu");
        let out = cipherproof(&[&base[..], &["--backend", "cuda"]].concat());
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("CUDA"), "{err}");
    }
    let out = cipherproof(&[&base[..], &["--backend", "tpu"]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cpu, cuda or auto"));
}
