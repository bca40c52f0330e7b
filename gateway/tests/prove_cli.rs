//! `cipherproof compile | prove | verify` as scripts call them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn testdata(rel: &str) -> String {
    cipherproof_testkit::fixture(rel)
        .to_string_lossy()
        .into_owned()
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("cipherproof-prove-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cipherproof(args: &[&str], cache: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cipherproof"))
        .args(args)
        .env("CIPHERPROOF_CACHE", cache)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `cipherproof prove --model MODEL --input INPUT --out PROOF [extra...]`.
fn prove(model: &str, input: &str, proof: &str, extra: &[&str], cache: &PathBuf) -> Output {
    let mut args = vec!["prove", "--model", model, "--input", input, "--out", proof];
    args.extend_from_slice(extra);
    cipherproof(&args, cache)
}

/// `verify` prints exactly "valid" and exits 0.
fn assert_valid(model: &str, proof: &str, cache: &PathBuf) {
    assert_eq!(
        ok(&cipherproof(
            &["verify", "--model", model, "--proof", proof],
            cache
        ))
        .trim(),
        "valid"
    );
}

#[test]
fn compile_prove_verify_the_digits_mlp() {
    let dir = scratch();
    let cache = dir.join("cache");
    let model = dir.join("compiled");
    let (m, proof) = (
        model.to_string_lossy().into_owned(),
        dir.join("proof.json").to_string_lossy().into_owned(),
    );
    let text = ok(&cipherproof(
        &[
            "compile",
            &testdata("digits_mlp/model.onnx"),
            "--out",
            &m,
            "--calibration",
            &testdata("digits_mlp/calibration.json"),
        ],
        &cache,
    ));
    assert!(text.contains("k ") && text.contains("keygen"), "{text}");
    let summary: Value = serde_json::from_str(&ok(&cipherproof(
        &[
            "compile",
            &testdata("digits_mlp/model.onnx"),
            "--out",
            &m,
            "--calibration",
            &testdata("digits_mlp/calibration.json"),
            "--json",
        ],
        &cache,
    )))
    .unwrap();
    assert!(
        summary["k"].as_u64().unwrap() >= 9 && summary["keygen_s"].is_f64(),
        "{summary}"
    );
    let proved: Value = serde_json::from_str(&ok(&prove(
        &m,
        &testdata("digits_mlp/input.json"),
        &proof,
        &["--json"],
        &cache,
    )))
    .unwrap();
    assert!(
        proved["proof_bytes"].as_u64().unwrap() > 1000 && proved["prove_s"].is_f64(),
        "{proved}"
    );
    assert_valid(&m, &proof, &cache);

    // `--backend cpu --repeat 2`: two proofs timed, the last written, and it verifies.
    let repeated: Value = serde_json::from_str(&ok(&prove(
        &m,
        &testdata("digits_mlp/input.json"),
        &proof,
        &["--backend", "cpu", "--repeat", "2", "--json"],
        &cache,
    )))
    .unwrap();
    assert_eq!(repeated["backend"], "cpu", "{repeated}");
    assert_eq!(repeated["repeats"], 2, "{repeated}");
    assert!(
        repeated["prove_best_s"].as_f64().unwrap() <= repeated["prove_s"].as_f64().unwrap(),
        "{repeated}"
    );
    assert!(repeated["gpu_memory_change_bytes"].is_null(), "{repeated}");
    assert_valid(&m, &proof, &cache);
    // An unknown backend, and (in a build without the CUDA prover) `cuda`: clear errors.
    let mut backends = vec![("gpu", "cpu, cuda or auto")];
    if !cfg!(feature = "cuda") {
        backends.push(("cuda", "no CUDA prover"));
    }
    for (backend, says) in backends {
        let out = prove(
            &m,
            &testdata("digits_mlp/input.json"),
            &proof,
            &["--backend", backend],
            &cache,
        );
        assert_eq!(out.status.code(), Some(1), "{backend}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{backend}: {err}");
    }

    // `run` on the compiled directory prints exactly the proven integers.
    let run: Value = serde_json::from_str(&ok(&cipherproof(
        &[
            "run",
            "--model",
            &m,
            "--input",
            &testdata("digits_mlp/input.json"),
            "--json",
        ],
        &cache,
    )))
    .unwrap();
    let proven: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(run["quantized_outputs"][0], proven["quantized_outputs"]);

    // A tampered proof: non-zero exit and a reason.
    let mut bad = proven.clone();
    let hexproof = bad["proof"].as_str().unwrap().to_string();
    let flipped = if hexproof.ends_with('0') { "1" } else { "0" };
    bad["proof"] = Value::from(format!("{}{flipped}", &hexproof[..hexproof.len() - 1]));
    let bad_path = dir.join("bad.json");
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let out = cipherproof(
        &[
            "verify",
            "--model",
            &m,
            "--proof",
            &bad_path.to_string_lossy(),
        ],
        &cache,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid proof"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("valid"));

    // Out-of-range input and a non-compiled directory: clear errors.
    let huge = dir.join("huge.json");
    std::fs::write(
        &huge,
        format!("{{\"input_data\": [[{}]]}}", vec!["50.0"; 64].join(",")),
    )
    .unwrap();
    let out = prove(&m, &huge.to_string_lossy(), &proof, &[], &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the quantized input range"));
    let out = prove(
        &dir.to_string_lossy(),
        &huge.to_string_lossy(),
        &proof,
        &[],
        &cache,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable compiled model"));

    // A layout edited in circuit.json (a break point past the column's rows): halo2 asserts
    // while assigning; `prove` turns that into an error, exit 1 (a panic would exit 101).
    let circuit_path = model.join("circuit.json");
    let original = std::fs::read_to_string(&circuit_path).unwrap();
    let mut circuit: Value = serde_json::from_str(&original).unwrap();
    let first = &mut circuit["shape"]["break_points"][0][0];
    assert!(
        first.is_u64(),
        "digits_mlp at the default budget has several columns: {circuit}"
    );
    *first = Value::from(first.as_u64().unwrap() + 100_000);
    std::fs::write(&circuit_path, circuit.to_string()).unwrap();
    let out = prove(&m, &testdata("digits_mlp/input.json"), &proof, &[], &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("compile the model again"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&circuit_path, original).unwrap();
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn table_activations_compile_prove_and_verify() {
    // wine_sigmoid_mlp: a sigmoid hidden layer, proven through the activation table.
    let dir = scratch().join("sigmoid");
    let cache = dir.join("cache");
    let (m, proof) = (
        dir.join("m").to_string_lossy().into_owned(),
        dir.join("p.json").to_string_lossy().into_owned(),
    );
    let summary: Value = serde_json::from_str(&ok(&cipherproof(
        &[
            "compile",
            &testdata("wine_sigmoid_mlp/model.onnx"),
            "--out",
            &m,
            "--calibration",
            &testdata("wine_sigmoid_mlp/calibration.json"),
            "--json",
        ],
        &cache,
    )))
    .unwrap();
    assert!(
        summary["table_lookup_sets"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(summary["k"].as_u64().unwrap() >= 13, "{summary}");
    let input = testdata("wine_sigmoid_mlp/input.json");
    ok(&prove(&m, &input, &proof, &[], &cache));
    assert_valid(&m, &proof, &cache);
    let run: Value = serde_json::from_str(&ok(&cipherproof(
        &["run", "--model", &m, "--input", &input, "--json"],
        &cache,
    )))
    .unwrap();
    let proven: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(run["quantized_outputs"][0], proven["quantized_outputs"]);
}

#[test]
fn a_hashed_input_proof_carries_its_commitment() {
    let dir = scratch().join("hashed");
    let cache = dir.join("cache");
    let (m, proof) = (
        dir.join("m").to_string_lossy().into_owned(),
        dir.join("p.json").to_string_lossy().into_owned(),
    );
    let model = testdata("breast_cancer_lr/model.onnx");
    let cal = testdata("breast_cancer_lr/calibration.json");
    ok(&cipherproof(
        &[
            "compile",
            &model,
            "--out",
            &m,
            "--calibration",
            &cal,
            "--input-visibility",
            "hashed",
        ],
        &cache,
    ));
    ok(&prove(
        &m,
        &testdata("breast_cancer_lr/input.json"),
        &proof,
        &[],
        &cache,
    ));
    assert_valid(&m, &proof, &cache);
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    assert_eq!(p["input"]["visibility"], "hashed");
    assert_eq!(p["input"]["commitment"], p["instances"][0][0]);
}

/// An EZKL example's compile command (model, calibration, output directory), and the
/// `prove` of its input.json through what it compiled, as `--json`.
struct Example {
    dir: PathBuf,
    cache: PathBuf,
    input: String,
    out: String,
    compile: Vec<String>,
}

impl Example {
    fn new(name: &str, scratch_name: &str) -> Self {
        let dir = scratch().join(scratch_name);
        let input = testdata(&format!("ezkl/{name}/input.json"));
        let out = dir.join("compiled").to_string_lossy().into_owned();
        let model = testdata(&format!("ezkl/{name}/network.onnx"));
        let compile = ["compile", &model, "--out", &out, "--calibration", &input];
        Example {
            cache: dir.join("cache"),
            compile: compile.map(String::from).to_vec(),
            dir,
            input,
            out,
        }
    }

    fn compile(&self, extra: &[&str]) -> Output {
        let mut args: Vec<&str> = self.compile.iter().map(String::as_str).collect();
        args.extend_from_slice(extra);
        cipherproof(&args, &self.cache)
    }

    /// Proves input.json; checks the proof verifies; returns the quantized outputs.
    fn prove_and_verify(&self) -> Vec<i64> {
        let proof = self.dir.join("proof.json").to_string_lossy().into_owned();
        let proved = ok(&prove(&self.out, &self.input, &proof, &["--json"], &self.cache));
        assert_valid(&self.out, &proof, &self.cache);
        let v: Value = serde_json::from_str(&proved).unwrap();
        serde_json::from_value(v["quantized_outputs"].clone()).unwrap()
    }
}

/// A model with two outputs (EZKL's xgboost: class and probabilities) needs `--output`;
/// with it, its class proves and verifies.
#[test]
fn compile_asks_which_output_and_proves_the_one_named() {
    let xgboost = Example::new("xgboost", "xgboost");
    let refused = xgboost.compile(&[]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--output (output, onnx::ArgMax_73)"), "{err}");
    ok(&xgboost.compile(&["--output", "output"]));
    assert_eq!(xgboost.prove_and_verify(), [0]);
}

/// Several outputs proven together (`--output output,78,79`: EZKL's lstm's Y, Y_h and
/// Y_c, all public as in EZKL): one flat output of 9 values in the order named, where
/// the one step's Y and Y_h hold the same values; the proof verifies.
#[test]
fn several_outputs_named_together_prove_as_one_flat_output() {
    let lstm = Example::new("lstm", "lstm-joined");
    ok(&lstm.compile(&["--output", "output,78,79"]));
    let q = lstm.prove_and_verify();
    assert_eq!(q.len(), 9, "{q:?}");
    assert_eq!(q[..3], q[3..6], "Y and Y_h differ: {q:?}");
}
