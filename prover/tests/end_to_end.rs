//! Real proofs: compile, prove, verify, and every way a proof must be rejected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_circuits::InputVisibility;
use cipherproof_circuits::field::fr_i64;
use cipherproof_circuits::packing;
use cipherproof_model::exec::integer::{IntegerRunner, quantize_input};
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_prover::ProverError;
use cipherproof_prover::artifact::{ProofFile, fr_to_hex};
use cipherproof_prover::compile::{self, CompileOptions, Compiled, SrsSource};
use cipherproof_prover::{prove, verify};
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::ProvingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use cipherproof_testkit::{fixture as testdata, samples as rows_of};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cipherproof-prover-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn quantized(name: &str) -> QuantModel {
    let graph =
        import_onnx(&std::fs::read(testdata(&format!("{name}/model.onnx"))).unwrap()).unwrap();
    quantize(
        &graph,
        &rows_of(&testdata(&format!("{name}/calibration.json")), "inputs"),
        &QuantConfig::default(),
    )
    .unwrap()
}

struct Setup {
    cache: PathBuf,
    mlp: Compiled,
    mlp_proof: ProofFile,
    lr: Compiled,
}

/// One compile + proof of the digits MLP (and a second model) shared by the tests.
fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let cache = scratch("cache");
        let opts = CompileOptions {
            srs: SrsSource::UnsafeDev,
            cache_dir: cache.clone(),
            max_k: 20,
            max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
            input_visibility: InputVisibility::Private,
            tune: 0,
        };
        let (mlp, _) = compile::compile(&quantized("digits_mlp"), &scratch("mlp"), &opts).unwrap();
        let (lr, _) =
            compile::compile(&quantized("breast_cancer_lr"), &scratch("lr"), &opts).unwrap();
        let x = &rows_of(&testdata("digits_mlp/test.json"), "inputs")[5];
        let q = quantize_input(&mlp.model, 0, x).unwrap();
        let params = compile::load_params(&mlp.circuit.srs, mlp.circuit.shape.k(), &cache).unwrap();
        let pk = compile::proving_key(&mlp, &params, &cache).unwrap();
        let mlp_proof = prove::prove(&mlp, &params, &pk, &q).unwrap();
        Setup {
            cache,
            mlp,
            mlp_proof,
            lr,
        }
    })
}

fn check(c: &Compiled, proof: &ProofFile) -> Result<(), ProverError> {
    let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &setup().cache).unwrap();
    verify::verify(c, &params, proof)
}

#[test]
fn a_proof_verifies_and_proves_the_reference_outputs() {
    let s = setup();
    check(&s.mlp, &s.mlp_proof).unwrap();
    let x = &rows_of(&testdata("digits_mlp/test.json"), "inputs")[5];
    let runner = IntegerRunner::new(&s.mlp.model).unwrap();
    let reference = runner.run(&runner.quantize_input(0, x).unwrap()).unwrap();
    assert_eq!(s.mlp_proof.quantized_outputs, reference);
    assert!(
        s.mlp.circuit.shape.k() <= 13,
        "k = {}",
        s.mlp.circuit.shape.k()
    );
    // The file round-trips.
    let path = scratch("file").join("proof.json");
    s.mlp_proof.write(&path).unwrap();
    check(&s.mlp, &ProofFile::read(&path).unwrap()).unwrap();
}

#[test]
fn a_flipped_proof_byte_is_rejected() {
    let s = setup();
    let bytes = s.mlp_proof.proof_bytes().unwrap();
    for i in [0, 100, bytes.len() / 2, bytes.len() - 1] {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let mut p = s.mlp_proof.clone();
        p.proof = format!("0x{}", hex::encode(&b));
        assert!(
            matches!(check(&s.mlp, &p), Err(ProverError::InvalidProof(_))),
            "byte {i}"
        );
    }
    let mut truncated = s.mlp_proof.clone();
    truncated.proof = format!("0x{}", hex::encode(&bytes[..bytes.len() / 3]));
    assert!(matches!(
        check(&s.mlp, &truncated),
        Err(ProverError::InvalidProof(_))
    ));
}

#[test]
fn a_changed_public_output_is_rejected() {
    let s = setup();
    let mut p = s.mlp_proof.clone();
    p.quantized_outputs[0] += 1;
    let bits = s.mlp.model.values[s.mlp.model.output].bits;
    p.instances[0][0] = fr_to_hex(&packing::pack(&p.quantized_outputs, bits).unwrap()[0]);
    assert!(matches!(
        check(&s.mlp, &p),
        Err(ProverError::InvalidProof(_))
    ));
    // Outputs that disagree with the instances are refused before any pairing.
    let mut q = s.mlp_proof.clone();
    q.quantized_outputs[1] -= 1;
    let err = check(&s.mlp, &q).unwrap_err();
    assert!(
        err.to_string()
            .contains("do not match the public instances"),
        "{err}"
    );
}

#[test]
fn a_proof_of_one_model_is_rejected_for_another() {
    let s = setup();
    let err = check(&s.lr, &s.mlp_proof).unwrap_err();
    assert!(err.to_string().contains("is for model"), "{err}");
    // Relabelling the proof with the other model's id does not help: its vk differs.
    let mut p = s.mlp_proof.clone();
    p.model_id = s.lr.circuit.model_id.clone();
    assert!(check(&s.lr, &p).is_err());
}

#[test]
fn compiled_directories_reload_and_reject_tampering() {
    let s = setup();
    let loaded = compile::load(&s.mlp.dir).unwrap();
    check(&loaded, &s.mlp_proof).unwrap();
    let copy = scratch("tampered");
    for f in ["model.json", "circuit.json", "vk.bin"] {
        std::fs::copy(s.mlp.dir.join(f), copy.join(f)).unwrap();
    }
    let mut model: Value =
        serde_json::from_slice(&std::fs::read(copy.join("model.json")).unwrap()).unwrap();
    model["nodes"][0]["op"]["Dense"]["bias"][0] = Value::from(12345);
    std::fs::write(copy.join("model.json"), serde_json::to_vec(&model).unwrap()).unwrap();
    let err = compile::load(&copy).unwrap_err();
    assert!(
        err.to_string().contains("does not match the model id"),
        "{err}"
    );
    std::fs::write(copy.join("vk.bin"), b"garbage").unwrap();
    assert!(matches!(
        compile::load(&copy),
        Err(ProverError::Corrupt { .. })
    ));
}

#[test]
fn corrupt_or_foreign_proof_files_are_clear_errors() {
    let dir = scratch("files");
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    assert!(matches!(
        ProofFile::read(&write("a.json", "{\"version\": 1")),
        Err(ProverError::Corrupt { .. })
    ));
    assert!(matches!(
        ProofFile::read(&write("b.json", "[]")),
        Err(ProverError::Corrupt { .. })
    ));
    let mut p = serde_json::to_value(&setup().mlp_proof).unwrap();
    p["version"] = Value::from(99);
    let err = ProofFile::read(&write("c.json", &p.to_string())).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
    let mut bad = setup().mlp_proof.clone();
    bad.proof = "0xzz".into();
    assert!(matches!(
        check(&setup().mlp, &bad),
        Err(ProverError::Corrupt { .. })
    ));
    assert!(matches!(
        ProofFile::read(Path::new("/nonexistent/proof.json")),
        Err(ProverError::Io { .. })
    ));
}

#[test]
fn inputs_outside_the_compiled_range_are_refused_before_proving() {
    let s = setup();
    let params =
        compile::load_params(&s.mlp.circuit.srs, s.mlp.circuit.shape.k(), &s.cache).unwrap();
    let pk = compile::proving_key(&s.mlp, &params, &s.cache).unwrap();
    // Already-quantized values beyond the 16-bit input range.
    let mut q = vec![0i64; 64];
    q[0] = 1 << 20;
    assert!(matches!(
        prove::prove(&s.mlp, &params, &pk, &q),
        Err(ProverError::Model(_))
    ));
    assert!(matches!(
        prove::prove(&s.mlp, &params, &pk, &[1, 2]),
        Err(ProverError::Model(_))
    ));
    // Floats beyond the calibrated range.
    assert!(quantize_input(&s.mlp.model, 0, &[100.0; 64]).is_err());
}

#[test]
fn srs_problems_are_clear_errors() {
    let s = setup();
    let dir = scratch("srs");
    let junk = dir.join("junk.srs");
    std::fs::write(&junk, b"not params").unwrap();
    assert!(matches!(
        compile::load_params(&SrsSource::File(junk), 10, &dir),
        Err(ProverError::Corrupt { .. })
    ));
    let small = s
        .cache
        .join("srs")
        .join(format!("unsafe-dev-k{}.srs", s.mlp.circuit.shape.k()));
    let err = compile::load_params(&SrsSource::File(small), 20, &dir).unwrap_err();
    assert!(
        matches!(err, ProverError::SrsTooSmall { needs: 20, .. }),
        "{err}"
    );
    let missing =
        compile::load_params(&SrsSource::File(dir.join("missing.srs")), 10, &dir).unwrap_err();
    assert!(matches!(missing, ProverError::Io { .. }));
}

#[test]
fn a_model_too_large_for_max_k_is_refused() {
    let opts = CompileOptions {
        srs: SrsSource::UnsafeDev,
        cache_dir: scratch("cache-small"),
        max_k: 9,
        max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
        input_visibility: InputVisibility::Private,
        tune: 0,
    };
    let err = compile::compile(&quantized("digits_mlp"), &scratch("big"), &opts).unwrap_err();
    assert!(err.to_string().contains("maximum is 2^9"), "{err}");
}

/// `--tune`: several layouts get keys and a timed proof; the compiled one is the fastest
/// of them, and it proves and verifies like any other.
#[test]
fn tuning_measures_layouts_and_keeps_the_fastest() {
    let cache = &setup().cache;
    let model = quantized("breast_cancer_mlp");
    let opts = CompileOptions {
        srs: SrsSource::UnsafeDev,
        cache_dir: cache.clone(),
        max_k: 14,
        max_advice: 4,
        input_visibility: InputVisibility::Private,
        tune: 3,
    };
    let (c, t) = compile::compile(&model, &scratch("tuned"), &opts).unwrap();
    assert_eq!(t.tuned.len(), 3, "{:?}", t.tuned);
    assert!(
        t.tuned
            .windows(2)
            .all(|w| w[0].model_cost <= w[1].model_cost)
    );
    let fastest = t
        .tuned
        .iter()
        .min_by(|a, b| a.prove_s.total_cmp(&b.prove_s))
        .unwrap();
    assert_eq!(fastest.k, c.circuit.shape.k());
    assert_eq!(
        Some(fastest.lookup_bits),
        c.circuit.shape.params.base.lookup_bits
    );
    assert_eq!(fastest.dot_width, c.circuit.shape.dot_width());
    let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), cache).unwrap();
    let pk = compile::proving_key(&c, &params, cache).unwrap();
    let x = &rows_of(&testdata("breast_cancer_mlp/test.json"), "inputs")[0];
    let proof = prove::prove(&c, &params, &pk, &quantize_input(&c.model, 0, x).unwrap()).unwrap();
    check(&c, &proof).unwrap();
}

#[test]
fn a_missing_proving_key_is_regenerated_identically() {
    let s = setup();
    let cache = scratch("cache-regen");
    std::fs::create_dir_all(cache.join("srs")).unwrap();
    let k = s.mlp.circuit.shape.k();
    let name = format!("unsafe-dev-k{k}.srs");
    std::fs::copy(
        s.cache.join("srs").join(&name),
        cache.join("srs").join(&name),
    )
    .unwrap();
    let params = compile::load_params(&s.mlp.circuit.srs, k, &cache).unwrap();
    let pk = compile::proving_key(&s.mlp, &params, &cache).unwrap();
    assert!(cache.join("keys").join(&s.mlp.circuit.pk_cache).exists());
    let q = quantize_input(
        &s.mlp.model,
        0,
        &rows_of(&testdata("digits_mlp/test.json"), "inputs")[0],
    )
    .unwrap();
    let proof = prove::prove(&s.mlp, &params, &pk, &q).unwrap();
    check(&s.mlp, &proof).unwrap();
}

#[test]
fn hashed_and_public_inputs_prove_and_reject_tampered_claims() {
    use cipherproof_prover::artifact::InputClaim;
    let cache = &setup().cache;
    let model = quantized("breast_cancer_lr");
    let x = &rows_of(&testdata("breast_cancer_lr/test.json"), "inputs")[0];
    for visibility in [InputVisibility::Hashed, InputVisibility::Public] {
        let opts = CompileOptions {
            srs: SrsSource::UnsafeDev,
            cache_dir: cache.clone(),
            max_k: 20,
            max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
            input_visibility: visibility,
            tune: 0,
        };
        let (c, _) =
            compile::compile(&model, &scratch(&format!("vis-{visibility:?}")), &opts).unwrap();
        let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), cache).unwrap();
        let pk = compile::proving_key(&c, &params, cache).unwrap();
        let q = quantize_input(&c.model, 0, x).unwrap();
        let proof = prove::prove(&c, &params, &pk, &q).unwrap();
        check(&c, &proof).unwrap();
        let mut forged = proof.clone();
        match &mut forged.input {
            InputClaim::Hashed { commitment } => *commitment = fr_to_hex(&fr_i64(12345)),
            InputClaim::Public { values } => values[3] += 1,
            InputClaim::Private => panic!("{visibility:?} proof claims a private input"),
        }
        // The claim no longer matches the instances...
        assert!(matches!(
            check(&c, &forged),
            Err(ProverError::InvalidProof(_))
        ));
        // ...and making the instances match it breaks the proof.
        let head = forged.input.instances().unwrap();
        for (i, f) in head.iter().enumerate() {
            forged.instances[0][i] = fr_to_hex(f);
        }
        assert!(matches!(
            check(&c, &forged),
            Err(ProverError::InvalidProof(_))
        ));
        // A private-input claim against this model is refused outright.
        let mut private = proof.clone();
        private.input = InputClaim::Private;
        assert!(
            check(&c, &private)
                .unwrap_err()
                .to_string()
                .contains("input claim")
        );
        // Different visibility, different circuit, different model id.
        assert_ne!(c.circuit.model_id, setup().mlp.circuit.model_id);
    }
}

/// `model` compiled with a private input under the dev SRS into scratch dir `name`, with
/// its parameters and proving key.
fn compile_private(
    model: &QuantModel,
    name: &str,
) -> (Compiled, ParamsKZG<Bn256>, ProvingKey<G1Affine>) {
    let opts = CompileOptions {
        srs: SrsSource::UnsafeDev,
        cache_dir: setup().cache.clone(),
        max_k: 20,
        max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
        input_visibility: InputVisibility::Private,
        tune: 0,
    };
    let (c, _) = compile::compile(model, &scratch(name), &opts).unwrap();
    let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &setup().cache).unwrap();
    let pk = compile::proving_key(&c, &params, &setup().cache).unwrap();
    (c, params, pk)
}

/// EZKL's decision_tree example (comparisons, argmax, table gathers): a real proof for a
/// sample of each iris class verifies and proves the reference class; claiming another
/// class is rejected.
#[test]
fn a_decision_tree_proves_each_class_and_rejects_another() {
    let dir = "ezkl/decision_tree";
    let graph =
        import_onnx(&std::fs::read(testdata(&format!("{dir}/network.onnx"))).unwrap()).unwrap();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata(&format!("{dir}/reference.json"))).unwrap(),
    )
    .unwrap();
    let inputs = rows_of(&testdata(&format!("{dir}/reference.json")), "inputs");
    let model = quantize(&graph, &inputs, &QuantConfig::default()).unwrap();
    let (tree, params, pk) = compile_private(&model, "tree");
    let scale = tree.model.output_info().scale;
    // Iris samples 1, 51 and 101 (after the example input): one of each class.
    for (i, class) in [(1, 0), (51, 1), (101, 2)] {
        assert_eq!(reference["outputs"][i][0].as_f64(), Some(f64::from(class)));
        let q = quantize_input(&tree.model, 0, &inputs[i]).unwrap();
        let proof = prove::prove(&tree, &params, &pk, &q).unwrap();
        assert_eq!(proof.quantized_outputs, [i64::from(class) << scale]);
        check(&tree, &proof).unwrap();
        let mut other = proof.clone();
        other.quantized_outputs[0] = i64::from((class + 1) % 3) << scale;
        let bits = tree.model.values[tree.model.output].bits;
        other.instances[0][0] = fr_to_hex(&packing::pack(&other.quantized_outputs, bits).unwrap()[0]);
        assert!(matches!(check(&tree, &other), Err(ProverError::InvalidProof(_))));
    }
}

/// The seq_lstm fixture (two LSTMs unrolled over 6 steps: 1,000s of table lookups and
/// products): a real proof gives the integer reference's outputs and verifies; a changed
/// output is rejected.
#[test]
fn a_six_step_lstm_proves_and_rejects_a_changed_output() {
    let graph =
        import_onnx(&std::fs::read(testdata("seq_lstm/model.onnx")).unwrap()).unwrap();
    let cal = rows_of(&testdata("seq_lstm/calibration.json"), "inputs");
    let test = rows_of(&testdata("seq_lstm/test.json"), "inputs");
    let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
    let (lstm, params, pk) = compile_private(&model, "lstm");
    let runner = IntegerRunner::new(&lstm.model).unwrap();
    let q = quantize_input(&lstm.model, 0, &test[0]).unwrap();
    let proof = prove::prove(&lstm, &params, &pk, &q).unwrap();
    assert_eq!(proof.quantized_outputs, runner.run(&q).unwrap());
    check(&lstm, &proof).unwrap();
    let mut other = proof.clone();
    other.quantized_outputs[1] += 1;
    let bits = lstm.model.values[lstm.model.output].bits;
    let packed = packing::pack(&other.quantized_outputs, bits).unwrap();
    for (word, fr) in other.instances[0].iter_mut().zip(&packed) {
        *word = fr_to_hex(fr);
    }
    assert_ne!(other.instances, proof.instances);
    assert!(matches!(check(&lstm, &other), Err(ProverError::InvalidProof(_))));
}
