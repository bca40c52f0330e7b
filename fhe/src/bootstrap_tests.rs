//! Exhaustive exactness of the bootstrapped requantization on a one-weight layer.

use crate::program::tests::{thresholds, tiny};
use crate::program::compile;
use crate::{client, keys, server};
use cipherproof_model::exec::integer::IntegerRunner;

/// Every input of the 6-bit range goes through keygen, encrypt, evaluate and decrypt and must
/// equal the plaintext integer model; returns the program for further checks.
fn assert_every_input_exact(model: &cipherproof_model::quant::QuantModel) -> crate::program::FheProgram {
    let program = compile(model, crate::params::DEFAULT_PARAMS).unwrap();
    let (ck, sk) = keys::keygen(&program);
    let xs: Vec<Vec<i64>> = (-32..=31).map(|x| vec![x]).collect();
    let ct = client::encrypt(&program, &ck, &xs).unwrap();
    let out = server::evaluate(&program, &sk, &ct).unwrap();
    let got = client::decrypt(&program, &ck, &out).unwrap();
    let runner = IntegerRunner::new(model).unwrap();
    for (x, g) in xs.iter().zip(&got) {
        assert_eq!(g, &runner.run(x).unwrap(), "x = {}", x[0]);
    }
    program
}

#[test]
fn every_input_of_a_tiny_mlp_decrypts_to_the_plaintext_integer_model() {
    // Weight 1, bias -3: accumulators −35..28 cross every rounding boundary of shift 3, negatives included.
    let program = assert_every_input_exact(&tiny(1, -3));
    assert!(!program.layers[0].requant.as_ref().unwrap().wide);
}

#[test]
fn wide_windows_are_read_digit_by_digit_exactly() {
    // Weight 9, bias -5: round_shift(acc, 3) spans [-36, 37], 7 signed bits: too wide for one bootstrap.
    let program = assert_every_input_exact(&tiny(9, -5));
    assert!(program.layers[0].requant.as_ref().unwrap().wide);
}

#[test]
fn node_tests_read_feature_by_feature_are_exact() {
    use cipherproof_model::graph::compare::Comparison;
    // Thresholds below and above the range and on both sides of the low digit's boundaries: every input.
    for cmp in [Comparison::LessOrEqual, Comparison::Greater] {
        let program = assert_every_input_exact(&thresholds(cmp, vec![-40, -9, -8, 0, 5, 31]));
        let split = program.layers[0].requant.as_ref().unwrap().split.clone().expect("the node tests are split");
        // One feature, its 3-bit low digit; -40 (clamped to -33), -9 and 31 end a digit (no low
        // test), -8 and 0 share [l > 0], 5 reads [l > 5].
        assert_eq!((split.features.len(), split.digit.width, split.low_tests.len()), (1, 3, 2), "{split:?}");
        assert_eq!(program.bootstraps(), 2 + 2 + 6);
    }
}

/// Time of one keyswitch and one bootstrap (`cargo test -p cipherproof-fhe --lib -- --ignored --nocapture timing`).
#[test]
#[ignore]
fn timing_of_one_keyswitch_and_one_bootstrap() {
    use tfhe::core_crypto::prelude::*;
    let program = compile(&tiny(9, -5), crate::params::DEFAULT_PARAMS).unwrap();
    let (_, sk) = keys::keygen(&program);
    let p = program.pbs.unwrap();
    let e = super::Evaluator::new(sk.eval.as_ref().unwrap(), &p, 2048).unwrap();
    let mut s = e.scratch();
    let mut ct = LweCiphertext::new(0u64, LweSize(2049), CiphertextModulus::new_native());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for c in ct.as_mut().iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *c = x;
    }
    let table = super::table(&p, 4, |v| v);
    let n = 50;
    let t = std::time::Instant::now();
    for _ in 0..n {
        keyswitch_lwe_ciphertext(&e.ksk, &ct, &mut s.small);
    }
    let ks = t.elapsed().as_secs_f64() / n as f64;
    let mut out = LweCiphertext::new(0u64, LweSize(2049), CiphertextModulus::new_native());
    let t = std::time::Instant::now();
    for _ in 0..n {
        programmable_bootstrap_lwe_ciphertext_mem_optimized(&s.small, &mut out, &table, &e.bsk, s.fft.as_view(), s.buffers.stack());
    }
    let pbs = t.elapsed().as_secs_f64() / n as f64;
    let t = std::time::Instant::now();
    for _ in 0..n {
        programmable_bootstrap_lwe_ciphertext_mem_optimized(&s.small, &mut out, &table, &e.bsk_fast, s.fft.as_view(), s.buffers.stack());
    }
    let fast = t.elapsed().as_secs_f64() / n as f64;
    eprintln!("keyswitch {:.2} ms, bootstrap {:.2} ms (accurate key), {:.2} ms (fast key)", ks * 1e3, pbs * 1e3, fast * 1e3);
}

/// A server key whose keyswitching key's seed starts past the generator's buffer (what
/// `tests/fuzz_wire.rs` found for ciphertexts: tfhe-csprng panicked on it) is refused by
/// the key check, before anything is decompressed.
#[test]
fn a_key_seed_past_the_first_index_is_refused() {
    use tfhe::core_crypto::commons::math::random::CompressionSeed;
    use tfhe::core_crypto::prelude::*;
    let program = compile(&tiny(1, -3), crate::params::DEFAULT_PARAMS).unwrap();
    let (_, mut sk) = keys::keygen(&program);
    assert!(sk.check(&program).is_ok());
    let ksk = &mut sk.eval.as_mut().unwrap().ksk;
    let seed = serde_json::to_string(&ksk.compression_seed()).unwrap();
    let seed = seed.replace(r#""byte_index":0"#, r#""byte_index":562949953421312"#);
    let seed: CompressionSeed = serde_json::from_str(&seed).unwrap();
    *ksk = SeededLweKeyswitchKey::from_container(
        ksk.as_ref().to_vec(),
        ksk.decomposition_base_log(),
        ksk.decomposition_level_count(),
        ksk.output_key_lwe_dimension().to_lwe_size(),
        seed,
        ksk.ciphertext_modulus(),
    );
    assert!(matches!(sk.check(&program), Err(crate::FheError::Mismatch(_))));
    assert!(server::Server::new(&program, &sk).is_err());
}
