//! Exhaustive exactness of the bootstrapped requantization on a one-weight layer.

use crate::program::tests::tiny;
use crate::program::compile;
use crate::{client, keys, server};
use cipherproof_model::exec::integer::IntegerRunner;

#[test]
fn every_input_of_a_tiny_mlp_decrypts_to_the_plaintext_integer_model() {
    // Weight 1, bias -3: accumulators −35..28 cross every rounding boundary of shift 3, negatives included.
    let model = tiny(1, -3);
    let program = compile(&model, crate::params::DEFAULT_PARAMS).unwrap();
    let (ck, sk) = keys::keygen(&program);
    let xs: Vec<Vec<i64>> = (-32..=31).map(|x| vec![x]).collect();
    let ct = client::encrypt(&program, &ck, &xs).unwrap();
    let out = server::evaluate(&program, &sk, &ct).unwrap();
    let got = client::decrypt(&program, &ck, &out).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    for (x, g) in xs.iter().zip(&got) {
        assert_eq!(g, &runner.run(x).unwrap(), "x = {}", x[0]);
    }
}

#[test]
fn wide_windows_are_read_digit_by_digit_exactly() {
    // Weight 9, bias -5: round_shift(acc, 3) spans [-36, 37], 7 signed bits: too wide for one bootstrap.
    let model = tiny(9, -5);
    let program = compile(&model, crate::params::DEFAULT_PARAMS).unwrap();
    let rq = program.layers[0].requant.as_ref().unwrap();
    assert!(rq.wide, "{rq:?}");
    let (ck, sk) = keys::keygen(&program);
    let xs: Vec<Vec<i64>> = (-32..=31).map(|x| vec![x]).collect();
    let ct = client::encrypt(&program, &ck, &xs).unwrap();
    let out = server::evaluate(&program, &sk, &ct).unwrap();
    let got = client::decrypt(&program, &ck, &out).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    for (x, g) in xs.iter().zip(&got) {
        assert_eq!(g, &runner.run(x).unwrap(), "x = {}", x[0]);
    }
}
