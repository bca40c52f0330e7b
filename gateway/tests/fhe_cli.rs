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
    let mlp = cipherproof_testkit::fixture("breast_cancer_mlp/model.onnx");
    let o = cipherproof(&["fhe", "keygen", "--model", p(&mlp), "--out", p(&dir.join("mlp"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bootstrapping"));
}
