//! Byte-level fuzzing of what clients send the FHE server: flipped bytes in an
//! encrypted-inputs file and in a server-key file (headers, lengths, payload).
//! Each mutant is read, evaluated and decrypted; any step may refuse it with an
//! error, none may panic. (A flipped payload byte that still parses is a
//! different ciphertext: FHE ciphertexts are malleable by design, so a wrong
//! but well-formed answer is expected there; what is tested is that nothing
//! crashes the server.) `CIPHERPROOF_FUZZ_ITERS` (default 200) runs longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod flip;

use cipherproof_fhe::params::DEFAULT_PARAMS;
use cipherproof_fhe::program::{FheProgram, compile};
use cipherproof_fhe::wire::{
    CIPHERTEXT_LIMIT, ClientKeyFile, EncryptedInputs, SERVER_KEY_LIMIT, ServerKeyFile, from_bytes,
    to_bytes,
};
use cipherproof_fhe::{FheError, client, keys, server};
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_testkit::{fixture, samples};
use flip::{flip, iterations, panics_of};
use std::sync::atomic::{AtomicUsize, Ordering};
use tfhe::core_crypto::commons::math::random::CompressionSeed;
use tfhe::core_crypto::prelude::SeededGlweCiphertext;

/// The breast-cancer LR program, its keys and one encrypted sample.
fn setup() -> (FheProgram, ClientKeyFile, ServerKeyFile, EncryptedInputs) {
    let graph =
        import_onnx(&std::fs::read(fixture("breast_cancer_lr/model.onnx")).unwrap()).unwrap();
    let cal = samples(&fixture("breast_cancer_lr/calibration.json"), "inputs");
    let m = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
    let program = compile(&m, DEFAULT_PARAMS).unwrap();
    let (ck, sk) = keys::keygen(&program);
    let q = vec![quantize_input(&m, 0, &cal[0]).unwrap()];
    let ct = client::encrypt(&program, &ck, &q).unwrap();
    (program, ck, sk, ct)
}

/// What the fuzzer found: a seed whose generator starts past its buffer (tfhe-csprng
/// indexed it unchecked and panicked); the server now refuses it before decompressing.
#[test]
fn a_ciphertext_seed_past_the_first_index_is_refused() {
    let (program, _, sk, mut ct) = setup();
    let original = &ct.samples[0][0];
    // Text, not serde_json::Value: the seed's AES index is a u128.
    let seed = serde_json::to_string(&original.compression_seed()).unwrap();
    assert!(seed.contains(r#""byte_index":0"#), "{seed}");
    let seed = seed.replace(r#""byte_index":0"#, r#""byte_index":562949953421312"#);
    let seed: CompressionSeed = serde_json::from_str(&seed).unwrap();
    ct.samples[0][0] = SeededGlweCiphertext::from_container(
        original.clone().into_container(),
        original.glwe_size(),
        seed,
        original.ciphertext_modulus(),
    );
    match server::evaluate(&program, &sk, &ct) {
        Err(FheError::Mismatch(e)) => assert!(e.contains("tampered ciphertext"), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn flipped_ciphertexts_and_keys_never_panic() {
    let (program, ck, sk, clean) = setup();
    let ct = to_bytes(&clean, CIPHERTEXT_LIMIT).unwrap();
    let key = to_bytes(&sk, SERVER_KEY_LIMIT).unwrap();
    let iters = iterations(200);
    let (read, evaluated) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let panics = panics_of(iters, |seed| {
        if let Ok(input) = from_bytes::<EncryptedInputs>(&flip(&ct, seed), CIPHERTEXT_LIMIT) {
            read.fetch_add(1, Ordering::Relaxed);
            if let Ok(out) = server::evaluate(&program, &sk, &input) {
                evaluated.fetch_add(1, Ordering::Relaxed);
                let _ = client::decrypt(&program, &ck, &out);
            }
        }
        let bad_key = flip(&key, seed + (1 << 40));
        if let Ok(k) = from_bytes::<ServerKeyFile>(&bad_key, SERVER_KEY_LIMIT) {
            read.fetch_add(1, Ordering::Relaxed);
            if let Ok(out) = server::evaluate(&program, &k, &clean) {
                evaluated.fetch_add(1, Ordering::Relaxed);
                let _ = client::decrypt(&program, &ck, &out);
            }
        }
    });
    let (read, evaluated) = (read.into_inner(), evaluated.into_inner());
    eprintln!("{iters} × 2 mutants: {read} read back, {evaluated} evaluated");
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n")
    );
}
