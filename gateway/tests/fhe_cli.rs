//! `cipherproof fhe keygen | encrypt | infer | decrypt` as scripts call them:
//! the decrypted outputs equal `run --json` on the same compiled model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cipherproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cipherproof")).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn keygen_encrypt_infer_decrypt_equals_run() {
    let dir = std::env::temp_dir().join(format!("cipherproof-fhe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = |f: &str| cipherproof_testkit::fixture(&format!("breast_cancer_lr/{f}"));
    let (model, keys, ct, out): (PathBuf, PathBuf, PathBuf, PathBuf) =
        (dir.join("lr"), dir.join("keys"), dir.join("ct.bin"), dir.join("out.bin"));
    ok(&cipherproof(&[
        "compile", p(&fixture("model.onnx")), "--out", p(&model),
        "--calibration", p(&fixture("calibration.json")), "--cache", p(&dir.join("cache")),
    ]));
    let kg: Value = serde_json::from_str(ok(&cipherproof(&["fhe", "keygen", "--model", p(&model), "--out", p(&keys)])).trim()).unwrap();
    assert_eq!(kg["lwe_dimension"], 2048);
    let test = fixture("test.json");
    ok(&cipherproof(&["fhe", "encrypt", "--keys", p(&keys), "--input", p(&test), "--out", p(&ct)]));
    ok(&cipherproof(&[
        "fhe", "infer", "--model", p(&model), "--server-key", p(&keys.join("server.key")),
        "--input", p(&ct), "--out", p(&out),
    ]));
    let fhe: Value = serde_json::from_str(ok(&cipherproof(&["fhe", "decrypt", "--keys", p(&keys), "--input", p(&out), "--json"])).trim()).unwrap();
    let run: Value = serde_json::from_str(ok(&cipherproof(&["run", "--model", p(&model), "--batch", p(&test), "--json"])).trim()).unwrap();
    assert_eq!(fhe["quantized_outputs"], run["quantized_outputs"]);
    assert_eq!(fhe["argmax"], run["argmax"]);
    assert_eq!(fhe["quantized_outputs"].as_array().unwrap().len(), 114);

    // A truncated ciphertext, a client key passed as the server key, an MLP: clear errors, exit 1.
    let bytes = std::fs::read(&ct).unwrap();
    std::fs::write(dir.join("cut.bin"), &bytes[..bytes.len() / 2]).unwrap();
    for args in [
        vec!["fhe", "infer", "--model", p(&model), "--server-key", p(&keys.join("server.key")), "--input", p(&dir.join("cut.bin")), "--out", p(&out)],
        vec!["fhe", "infer", "--model", p(&model), "--server-key", p(&keys.join("client.key")), "--input", p(&ct), "--out", p(&out)],
    ] {
        let o = cipherproof(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: "), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let sigmoid = cipherproof_testkit::fixture("wine_sigmoid_mlp/model.onnx");
    let o = cipherproof(&["fhe", "keygen", "--model", p(&sigmoid), "--out", p(&dir.join("sigmoid"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Sigmoid"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn mlp_keygen_encrypt_infer_decrypt_equals_run() {
    let dir = std::env::temp_dir().join(format!("cipherproof-fhe-mlp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = |f: &str| cipherproof_testkit::fixture(&format!("breast_cancer_mlp_qat/{f}"));
    let (model, keys, ct, out) = (dir.join("mlp"), dir.join("keys"), dir.join("ct.bin"), dir.join("out.bin"));
    // The quantization-aware trained MLP, compiled with the flags it was trained for (its meta.json).
    ok(&cipherproof(&[
        "compile", p(&fixture("model.onnx")), "--out", p(&model), "--input-range", "0.875", "--activation-bits", "4",
        "--weight-bits", "3", "--output-bits", "8", "--cache", p(&dir.join("cache")),
    ]));
    let kg: Value = serde_json::from_str(ok(&cipherproof(&["fhe", "keygen", "--model", p(&model), "--out", p(&keys)])).trim()).unwrap();
    assert_eq!(kg["bootstraps_per_sample"].as_u64(), Some(48), "{kg}");
    assert_eq!(kg["hidden_layers"][0]["fast_key_bootstraps_per_value"].as_u64(), Some(2), "{kg}");
    assert!(kg["log2_p_fail_bootstraps_per_sample"].as_f64().unwrap() < -40.0, "{kg}");
    // Two test samples: the hidden layer bootstraps (under a second per sample).
    let two = dir.join("two.json");
    let test: Value = serde_json::from_str(&std::fs::read_to_string(fixture("test.json")).unwrap()).unwrap();
    std::fs::write(&two, serde_json::json!({"inputs": &test["inputs"].as_array().unwrap()[..2]}).to_string()).unwrap();
    ok(&cipherproof(&["fhe", "encrypt", "--keys", p(&keys), "--input", p(&two), "--out", p(&ct)]));
    ok(&cipherproof(&[
        "fhe", "infer", "--model", p(&model), "--server-key", p(&keys.join("server.key")), "--input", p(&ct), "--out", p(&out),
    ]));
    let fhe: Value = serde_json::from_str(ok(&cipherproof(&["fhe", "decrypt", "--keys", p(&keys), "--input", p(&out), "--json"])).trim()).unwrap();
    let run: Value = serde_json::from_str(ok(&cipherproof(&["run", "--model", p(&model), "--batch", p(&two), "--json"])).trim()).unwrap();
    assert_eq!(fhe["quantized_outputs"], run["quantized_outputs"]);
    assert_eq!(fhe["argmax"], run["argmax"]);
    // The LR's server key has no bootstrapping keys: refused for the MLP.
    let lr = dir.join("lr-keys");
    ok(&cipherproof(&[
        "fhe", "keygen", "--model", p(&cipherproof_testkit::fixture("breast_cancer_lr/model.onnx")), "--calibration",
        p(&cipherproof_testkit::fixture("breast_cancer_lr/calibration.json")), "--out", p(&lr),
    ]));
    let o = cipherproof(&[
        "fhe", "infer", "--model", p(&model), "--server-key", p(&lr.join("server.key")), "--input", p(&ct), "--out", p(&out),
    ]);
    assert_eq!(o.status.code(), Some(1));
}
