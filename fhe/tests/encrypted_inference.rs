//! Encrypted inference equals the plaintext integer model, and bad keys and
//! ciphertexts are refused with errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_fhe::params::DEFAULT_PARAMS;
use cipherproof_fhe::program::compile;
use cipherproof_fhe::wire::{CIPHERTEXT_LIMIT, EncryptedInputs, EncryptedOutputs, ServerKeyFile, from_bytes, to_bytes};
use cipherproof_fhe::{FheError, client, keys, server};
use cipherproof_model::exec::integer::{IntegerRunner, quantize_input};
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_testkit::{fixture, read_json, samples};

fn model(name: &str) -> QuantModel {
    let graph = import_onnx(&std::fs::read(fixture(&format!("{name}/model.onnx"))).unwrap()).unwrap();
    let cal = samples(&fixture(&format!("{name}/calibration.json")), "inputs");
    quantize(&graph, &cal, &QuantConfig::default()).unwrap()
}

fn test_set(name: &str) -> (Vec<Vec<f32>>, Vec<usize>) {
    let path = fixture(&format!("{name}/test.json"));
    let labels = read_json(&path)["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    (samples(&path, "inputs"), labels)
}

#[test]
fn breast_cancer_lr_encrypted_equals_plaintext_on_all_114_test_samples() {
    let m = model("breast_cancer_lr");
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    assert_eq!(program.budget.log2_p_fail, f64::NEG_INFINITY, "worst case must decode: {:?}", program.budget);
    let (client_key, server_key) = keys::keygen(&program);
    let (xs, labels) = test_set("breast_cancer_lr");
    assert_eq!(xs.len(), 114);
    let q: Vec<Vec<i64>> = xs.iter().enumerate().map(|(i, x)| quantize_input(&m, i, x).unwrap()).collect();
    // Through the wire formats, as client and server would exchange them.
    let ct = to_bytes(&client::encrypt(&program, &client_key, &q).unwrap(), CIPHERTEXT_LIMIT).unwrap();
    let ct: EncryptedInputs = from_bytes(&ct, CIPHERTEXT_LIMIT).unwrap();
    let out = server::evaluate(&program, &server_key, &ct).unwrap();
    let out: EncryptedOutputs = from_bytes(&to_bytes(&out, CIPHERTEXT_LIMIT).unwrap(), CIPHERTEXT_LIMIT).unwrap();
    let got = client::decrypt(&program, &client_key, &out).unwrap();
    let runner = IntegerRunner::new(&m).unwrap();
    let want: Vec<Vec<i64>> = q.iter().map(|x| runner.run(x).unwrap()).collect();
    assert_eq!(got, want, "FHE differs from the plaintext integer model");
    let correct = got
        .iter()
        .zip(&labels)
        .filter(|(o, l)| cipherproof_model::exec::argmax(o) == Some(**l))
        .count();
    let accuracy = correct as f64 / labels.len() as f64;
    assert!(accuracy > 0.97, "accuracy {accuracy}");
}

#[test]
fn models_needing_bootstrapping_are_refused_by_name() {
    let e = compile(&model("breast_cancer_mlp"), DEFAULT_PARAMS).unwrap_err();
    assert!(matches!(e, FheError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("bootstrapping"), "{e}");
}

#[test]
fn bad_keys_and_ciphertexts_are_errors() {
    let m = model("breast_cancer_lr");
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    let (ck, sk) = keys::keygen(&program);
    let (xs, _) = test_set("breast_cancer_lr");
    let q = vec![quantize_input(&m, 0, &xs[0]).unwrap()];
    let bytes = to_bytes(&client::encrypt(&program, &ck, &q).unwrap(), CIPHERTEXT_LIMIT).unwrap();

    // Truncated, corrupted, over the limit, or of another kind.
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(from_bytes::<EncryptedInputs>(&bytes[..cut], CIPHERTEXT_LIMIT), Err(FheError::Corrupt { .. })));
    }
    let mut flipped = bytes.clone();
    flipped[5] ^= 0xff;
    assert!(from_bytes::<EncryptedInputs>(&flipped, CIPHERTEXT_LIMIT).is_err());
    assert!(from_bytes::<EncryptedInputs>(&bytes, 64).is_err());
    assert!(from_bytes::<ServerKeyFile>(&bytes, CIPHERTEXT_LIMIT).is_err(), "a ciphertext is not a key");

    // Keys of another key pair or another model.
    let (other_ck, other_sk) = keys::keygen(&program);
    let ct: EncryptedInputs = from_bytes(&bytes, CIPHERTEXT_LIMIT).unwrap();
    assert!(matches!(server::evaluate(&program, &other_sk, &ct), Err(FheError::Mismatch(_))));
    let out = server::evaluate(&program, &sk, &ct).unwrap();
    assert!(matches!(client::decrypt(&program, &other_ck, &out), Err(FheError::Mismatch(_))));
    let mut foreign = sk.clone();
    foreign.model_id = "0".repeat(64);
    assert!(matches!(server::evaluate(&program, &foreign, &ct), Err(FheError::Mismatch(_))));
    let mut other_params = sk.clone();
    other_params.dimension = 1024;
    assert!(server::evaluate(&program, &other_params, &ct).is_err());

    // Inputs of the wrong size or out of the model's range.
    assert!(matches!(client::encrypt(&program, &ck, &[vec![0; 3]]), Err(FheError::InvalidInput(_))));
    assert!(matches!(client::encrypt(&program, &ck, &[vec![i64::MAX; 30]]), Err(FheError::InvalidInput(_))));
}
