//! Encrypted inference equals the plaintext integer model, and bad keys and
//! ciphertexts are refused with errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_fhe::params::DEFAULT_PARAMS;
use cipherproof_fhe::program::{Activation, BootstrapKey, compile};
use cipherproof_fhe::wire::{CIPHERTEXT_LIMIT, EncryptedInputs, EncryptedOutputs, SERVER_KEY_LIMIT, ServerKeyFile, from_bytes, to_bytes};
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

/// The decrypted outputs must equal the plaintext integer model's; returns their accuracy.
fn assert_equal_to_plaintext(m: &QuantModel, q: &[Vec<i64>], got: &[Vec<i64>], labels: &[usize]) -> f64 {
    let runner = IntegerRunner::new(m).unwrap();
    let want: Vec<Vec<i64>> = q.iter().map(|x| runner.run(x).unwrap()).collect();
    assert_eq!(got, want, "FHE differs from the plaintext integer model");
    let correct = got.iter().zip(labels).filter(|(o, l)| cipherproof_model::exec::argmax(o) == Some(**l)).count();
    correct as f64 / labels.len() as f64
}

/// Keys for `program`, then the first `limit` test samples of fixture `name` encrypted, evaluated
/// and decrypted; asserts every output equals the plaintext integer model's and returns the accuracy.
fn encrypted_round_trip(m: &QuantModel, program: &cipherproof_fhe::program::FheProgram, name: &str, limit: usize) -> f64 {
    let (client_key, server_key) = keys::keygen(program);
    let (xs, labels) = test_set(name);
    let q: Vec<Vec<i64>> = xs.iter().take(limit).enumerate().map(|(i, x)| quantize_input(m, i, x).unwrap()).collect();
    assert_eq!(q.len(), limit, "{name} has fewer test samples");
    let ct = client::encrypt(program, &client_key, &q).unwrap();
    let out = server::evaluate(program, &server_key, &ct).unwrap();
    let got = client::decrypt(program, &client_key, &out).unwrap();
    assert_equal_to_plaintext(m, &q, &got, &labels[..q.len()])
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
    let accuracy = assert_equal_to_plaintext(&m, &q, &got, &labels);
    assert!(accuracy > 0.97, "accuracy {accuracy}");
}

#[test]
fn operators_without_an_encrypted_form_are_refused_by_name() {
    let e = compile(&model("wine_sigmoid_mlp"), DEFAULT_PARAMS).unwrap_err();
    assert!(matches!(e, FheError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("Sigmoid"), "{e}");
    let e = compile(&model("digits_cnn"), DEFAULT_PARAMS).unwrap_err();
    assert!(e.to_string().contains("Conv"), "{e}");
}

/// The breast-cancer MLP quantized for encrypted inference (see `docs/FHE.md`).
fn fhe_mlp() -> QuantModel {
    let graph = import_onnx(&std::fs::read(fixture("breast_cancer_mlp/model.onnx")).unwrap()).unwrap();
    let cal = samples(&fixture("breast_cancer_mlp/calibration.json"), "inputs");
    quantize(&graph, &cal, &FHE_MLP_CONFIG).unwrap()
}

const FHE_MLP_CONFIG: QuantConfig = QuantConfig {
    weight_bits: 3,
    activation_bits: 8,
    lut_bits: 12,
    lut_max_scale: 7,
    headroom_bits: 2,
    output_bits: None,
};

#[test]
fn breast_cancer_mlp_encrypted_equals_plaintext_on_test_samples() {
    let m = fhe_mlp();
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    assert!(program.pbs.is_some() && program.bootstraps() > 0);
    assert!(program.log2_p_fail_bootstraps < -30.0, "{program:?}");
    let (client_key, server_key) = keys::keygen(&program);
    // Wide windows, read digit by digit (12 bootstraps per hidden value): 8 samples; the
    // quantization-aware trained MLP below is the one checked on all 114.
    assert!(program.layers[0].requant.as_ref().unwrap().wide);
    assert_eq!(program.pbs.unwrap().pbs_level, 3, "its kept digits need the 3-level accurate key");
    let (mut xs, mut labels) = test_set("breast_cancer_mlp");
    xs.truncate(8);
    labels.truncate(8);
    let q: Vec<Vec<i64>> = xs.iter().enumerate().map(|(i, x)| quantize_input(&m, i, x).unwrap()).collect();
    let sk: ServerKeyFile = from_bytes(&to_bytes(&server_key, SERVER_KEY_LIMIT).unwrap(), SERVER_KEY_LIMIT).unwrap();
    let ct = client::encrypt(&program, &client_key, &q).unwrap();
    let out = server::evaluate(&program, &sk, &ct).unwrap();
    let got = client::decrypt(&program, &client_key, &out).unwrap();
    let accuracy = assert_equal_to_plaintext(&m, &q, &got, &labels);
    assert!(accuracy > 0.85, "accuracy {accuracy}");

    // A server key without its bootstrapping keys, or with another key pair's, is refused.
    let mut bare = sk.clone();
    bare.eval = None;
    assert!(matches!(server::evaluate(&program, &bare, &ct), Err(FheError::Mismatch(_))));
    let lr = compile(&model("breast_cancer_lr"), DEFAULT_PARAMS).unwrap();
    let (_, lr_sk) = keys::keygen(&lr);
    let mut grafted = lr_sk;
    grafted.model_id = sk.model_id.clone();
    grafted.key_id = sk.key_id.clone();
    assert!(server::evaluate(&program, &grafted, &ct).is_err());
}

/// The quantization-aware trained MLP (testdata/models/breast_cancer_mlp_qat), quantized with
/// the flags of its meta.json: `--input-range 0.875 --activation-bits 4 --weight-bits 3 --output-bits 8`.
fn qat_mlp() -> QuantModel {
    let graph = import_onnx(&std::fs::read(fixture("breast_cancer_mlp_qat/model.onnx")).unwrap()).unwrap();
    let config = QuantConfig {
        weight_bits: 3,
        activation_bits: 4,
        output_bits: Some(8),
        ..QuantConfig::default()
    };
    cipherproof_model::quant::quantize_for_range(&graph, 0.875, &config).unwrap()
}

#[test]
fn qat_mlp_encrypted_equals_plaintext_on_all_114_test_samples() {
    let m = qat_mlp();
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    // One 4-bit digit (sign flag and read, both with the fast key) and the window, read with the
    // 2-level accurate key: the outputs' noise budget allows nothing cheaper.
    let rq = program.layers[0].requant.as_ref().unwrap();
    assert!(rq.shift <= 4 && rq.digits.len() == 1, "{rq:?}");
    assert_eq!((rq.window_bits, rq.bootstraps, rq.fast_bootstraps()), (4, 3, 2), "{rq:?}");
    assert_eq!((rq.digit_key, rq.window_key), (BootstrapKey::Fast, BootstrapKey::Accurate));
    assert_eq!(program.pbs.unwrap().pbs_level, 2);
    assert!(program.log2_p_fail_bootstraps < -60.0, "{program:?}");
    let accuracy = encrypted_round_trip(&m, &program, "breast_cancer_mlp_qat", 114);
    assert!(accuracy > 0.96, "accuracy {accuracy}");
}

/// A tree model in GEMM form (testdata/models/breast_cancer_tree or _gbt), quantized with the
/// flags of its meta.json: `--input-range 1.9375 --activation-bits 6 --weight-bits 4 --output-bits 16`
/// (its 6-bit features exactly; 4-bit leaf values, since every leaf's ciphertext adds its noise
/// times its value to the decrypted scores; 16-bit scores, free: the client decrypts them).
fn tree(name: &str) -> QuantModel {
    tree_with(
        name,
        QuantConfig {
            weight_bits: 4,
            output_bits: Some(16),
            ..QuantConfig::default()
        },
    )
}

/// The tree model `name` with 6-bit inputs read exactly from `--input-range 1.9375`, other flags from `config`.
fn tree_with(name: &str, config: QuantConfig) -> QuantModel {
    // skl2onnx's exports have two outputs: the probabilities are encrypted (their Softmax dropped).
    let output = name.ends_with("_onnxml").then(|| "probabilities".to_string());
    let bytes = std::fs::read(fixture(&format!("{name}/model.onnx"))).unwrap();
    let graph = cipherproof_model::import_onnx_with(&bytes, &cipherproof_model::ImportOptions { output }).unwrap();
    let config = QuantConfig { activation_bits: 6, ..config };
    cipherproof_model::quant::quantize_for_range(&graph, 1.9375, &config).unwrap()
}

#[test]
fn decision_tree_encrypted_equals_plaintext_on_all_114_test_samples() {
    let m = tree("breast_cancer_tree");
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    // Node tests: the 6-bit feature against its threshold (7 bits), one digit cleared, then the sign.
    // Leaf tests: the path sum read whole. The leaf values are decrypted by the client.
    let (nodes, leaves) = (&program.layers[0], &program.layers[1]);
    assert_eq!((nodes.dot.outputs, leaves.dot.outputs, program.layers.len()), (14, 15, 3));
    let (n, l) = (nodes.requant.as_ref().unwrap(), leaves.requant.as_ref().unwrap());
    assert_eq!((n.activation, l.activation), (Activation::Negative, Activation::Zero));
    assert!(n.window_bits <= 4 && l.window_bits <= 4 && l.shift == 0, "{n:?} {l:?}");
    assert_eq!((n.bootstraps, l.bootstraps), (1 + 2 * n.digits.len() as u32, 1));
    assert_eq!(program.bootstraps(), 14 * u64::from(n.bootstraps) + 15);
    // Small leaf values leave the scores room for the fast key's noise: every bootstrap uses it.
    assert_eq!((n.fast_bootstraps(), l.fast_bootstraps()), (n.bootstraps, 1), "{n:?} {l:?}");
    assert!(program.log2_p_fail_bootstraps <= -40.0, "{program:?}");
    let accuracy = encrypted_round_trip(&m, &program, "breast_cancer_tree", 114);
    // scikit-learn's own accuracy on these features (meta.json): the integer model loses nothing.
    let meta = read_json(&fixture("breast_cancer_tree/meta.json"));
    assert_eq!(accuracy, meta["sklearn_test_accuracy"].as_f64().unwrap());
}

/// The 20 gradient-boosted trees of depth 3 (testdata/models/breast_cancer_gbt), same flags: 140 node
/// tests read feature by feature (22 features split once each, 43 shared low-digit tests, one sign
/// per node), and the 160 leaves read by 40 tables (each half tree's 4 leaves hang on 4 nodes), per
/// sample; the first 4 test samples decrypt to the plaintext model (`fhe bench` runs more, in
/// release mode: docs/BENCHMARKS.md).
#[test]
fn boosted_trees_encrypted_equal_plaintext() {
    let m = tree("breast_cancer_gbt");
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    assert_eq!((program.layers[0].dot.outputs, program.layers[1].dot.outputs), (140, 40));
    let (n, l) = (program.layers[0].requant.as_ref().unwrap(), program.layers[1].requant.as_ref().unwrap());
    assert_eq!((n.activation, l.activation, l.tables.len(), l.window_bits), (Activation::Negative, Activation::Lookup, 40, 4));
    let split = n.split.as_ref().expect("the node tests are read feature by feature");
    assert_eq!((split.features.len(), split.nodes.len(), split.digit.width), (22, 140, 3), "{split:?}");
    assert_eq!(program.bootstraps(), split.bootstraps() + 40);
    assert!(program.bootstraps() < 140 * 3, "{}", program.bootstraps());
    assert!(program.log2_p_fail_bootstraps <= -40.0 && program.budget.log2_p_fail <= -40.0, "{program:?}");
    // The node tests read with the fast key.
    assert_eq!(n.window_key, BootstrapKey::Fast);
    encrypted_round_trip(&m, &program, "breast_cancer_gbt", 4);
}

/// The same 20 trees as skl2onnx exports them (one `ai.onnx.ml.TreeEnsembleClassifier` node, binary
/// logistic): imported into the same GEMM form, planned alike (267 bootstraps), exact encrypted.
#[test]
fn skl2onnx_boosted_trees_run_encrypted_like_their_gemm_form() {
    let m = tree("breast_cancer_gbt_onnxml");
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    let gemm = compile(&tree("breast_cancer_gbt"), DEFAULT_PARAMS).unwrap();
    assert_eq!((program.bootstraps(), program.layers[1].dot.outputs), (gemm.bootstraps(), 40));
    encrypted_round_trip(&m, &program, "breast_cancer_gbt_onnxml", 2);
}

/// With the default 10-bit weights the leaf values are wide, but a table returns its value with one
/// bootstrap's noise whatever its size (a leaf test's 0 or 1 would carry its noise times the value
/// into the scores): the boosted trees fit, decrypting to the plaintext model.
#[test]
fn boosted_trees_with_wide_leaf_values_fit_through_their_tables() {
    let m = tree_with("breast_cancer_gbt", QuantConfig { output_bits: Some(24), ..QuantConfig::default() });
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    assert!(program.budget.log2_p_fail <= -64.0, "{:?}", program.budget);
    encrypted_round_trip(&m, &program, "breast_cancer_gbt", 2);
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

/// Which quantizations of the breast-cancer MLP run encrypted, and at what accuracy
/// (`cargo test -p cipherproof-fhe --test encrypted_inference -- --ignored --nocapture`).
#[test]
#[ignore]
fn survey_mlp_quantizations() {
    use cipherproof_model::quant::quantize_for_range;
    let graph = import_onnx(&std::fs::read(fixture("breast_cancer_mlp/model.onnx")).unwrap()).unwrap();
    let cal = samples(&fixture("breast_cancer_mlp/calibration.json"), "inputs");
    let (xs, labels) = test_set("breast_cancer_mlp");
    for wb in [3, 4, 5, 6] {
        for ab in [3, 4, 5, 6, 8] {
            for hb in [0, 1, 2] {
                for range in [None, Some(4.0f32), Some(6.0), Some(10.0)] {
                    let config = QuantConfig { weight_bits: wb, activation_bits: ab, lut_bits: 12, lut_max_scale: 7, headroom_bits: hb, output_bits: None };
                    let m = match range {
                        None => quantize(&graph, &cal, &config),
                        Some(r) => {
                            if hb > 0 {
                                continue;
                            }
                            quantize_for_range(&graph, r, &config)
                        }
                    };
                    let Ok(m) = m else { continue };
                    let runner = IntegerRunner::new(&m).unwrap();
                    let (mut ok, mut correct) = (0, 0);
                    for (i, (x, l)) in xs.iter().zip(&labels).enumerate() {
                        if let Ok(q) = quantize_input(&m, i, x)
                            && let Ok(o) = runner.run(&q)
                        {
                            ok += 1;
                            correct += usize::from(cipherproof_model::exec::argmax(&o) == Some(*l));
                        }
                    }
                    let plan = match compile(&m, DEFAULT_PARAMS) {
                        Ok(p) => format!(
                            "bootstraps {} p_fail 2^{:.1} windows {:?}",
                            p.bootstraps(),
                            p.log2_p_fail_bootstraps,
                            p.layers.iter().filter_map(|l| l.requant.as_ref().map(|r| (r.shift, r.window_bits))).collect::<Vec<_>>()
                        ),
                        Err(e) => format!("refused: {}", &e.to_string()[..e.to_string().len().min(90)]),
                    };
                    println!("w{wb} a{ab} h{hb} range {range:?}: accepted {ok}/114 correct {correct} | {plan}");
                }
            }
        }
    }
}
