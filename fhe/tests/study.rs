//! A 3-party study: aggregates decrypt exactly with every share, and n−1
//! shares reveal nothing usable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_fhe::FheError;
use cipherproof_fhe::study::*;

fn schema() -> Schema {
    let num = |name: &str, max| Field::Numeric { name: name.into(), max };
    let cat = |name: &str, categories| Field::Categorical { name: name.into(), categories };
    Schema {
        fields: vec![
            num("age", 120),
            cat("sex", 2),
            cat("smoker", 2),
            num("bmi", 60),
            num("systolic", 250),
            cat("diabetes", 2),
            cat("region", 4),
            cat("outcome", 2),
        ],
        cohort_field: Some("sex".into()),
        max_records: 30_000,
    }
}

/// Deterministic synthetic records for party `p`.
fn records(p: u32, n: usize) -> Vec<Vec<u32>> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(p);
    let mut next = move |m: u32| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % u64::from(m)) as u32
    };
    (0..n)
        .map(|_| vec![next(121), next(2), next(2), next(61), next(251), next(2), next(4), next(2)])
        .collect()
}

#[test]
fn three_parties_decrypt_exact_aggregates_only_together() {
    let s = schema();
    let (public, shares) = setup(3, &s).unwrap();
    let public = StudyPublic::from_bytes(&public.to_bytes().unwrap()).unwrap();
    let data: Vec<Vec<Vec<u32>>> = (0..3).map(|p| records(p, 150)).collect();
    let batches: Vec<EncryptedRecords> = data
        .iter()
        .enumerate()
        .map(|(p, r)| encrypt_records(&public, p as u32, r).unwrap())
        .collect();
    let agg = aggregate(&public, &batches).unwrap();
    let agg = Aggregate::from_bytes(&agg.to_bytes().unwrap()).unwrap();
    let partial: Vec<DecryptionShare> = shares.iter().map(|k| partial_decrypt(&public, k, &agg).unwrap()).collect();

    // Every share: the exact slot sums of the plaintext records.
    let got = combine(&public, &agg, &partial).unwrap();
    let mut want = vec![0i64; s.slots().unwrap()];
    for r in data.iter().flatten() {
        for (w, v) in want.iter_mut().zip(s.encode(r).unwrap()) {
            *w += v;
        }
    }
    assert_eq!(got, want);
    assert_eq!(got[0], 450, "count");
    let names = s.slot_names().unwrap();
    assert_eq!(names.len(), got.len());
    assert!(names.contains(&"sex=1: sum age".to_string()));

    // n−1 shares: refused, and forcing the decode gives values unrelated to the truth.
    let e = combine(&public, &agg, &partial[..2]).unwrap_err();
    assert!(e.to_string().contains("party 2") && e.to_string().contains("missing"), "{e}");
    let params = public.params().unwrap();
    for drop in 0..3 {
        let rest: Vec<DecryptionShare> = partial.iter().filter(|d| d.party != drop).cloned().collect();
        let guess = combine_unchecked(params.log_delta, &agg, &rest);
        let right = guess.iter().zip(&want).filter(|(g, w)| g == w).count();
        assert!(right <= 1, "{right} of {} slots decoded without party {drop}'s share", want.len());
        // ...and look uniform: spread over the whole message space.
        let big = guess.iter().filter(|g| g.unsigned_abs() > 1 << 20).count();
        assert!(big * 2 > guess.len(), "values cluster near the truth: {guess:?}");
    }
    // A duplicated share or a share for another aggregate is refused.
    let dup = vec![partial[0].clone(), partial[0].clone(), partial[1].clone()];
    assert!(matches!(combine(&public, &agg, &dup), Err(FheError::Study(_))));
}

#[test]
fn bad_records_and_foreign_files_are_refused() {
    let s = schema();
    let (public, shares) = setup(3, &s).unwrap();
    let mut bad = records(0, 3);
    bad[1][0] = 121; // age above its maximum
    let e = encrypt_records(&public, 0, &bad).unwrap_err();
    assert!(e.to_string().contains("record 1") && e.to_string().contains("age"), "{e}");
    bad[1] = vec![1, 2, 0, 0, 0, 0, 0, 0]; // sex = 2: no such category
    assert!(encrypt_records(&public, 0, &bad).is_err());
    assert!(encrypt_records(&public, 0, &[vec![1, 2]]).is_err(), "too few fields");
    assert!(encrypt_records(&public, 7, &records(0, 1)).is_err(), "no party 7");

    let (other, other_shares) = setup(3, &s).unwrap();
    let theirs = encrypt_records(&other, 0, &records(0, 2)).unwrap();
    assert!(matches!(aggregate(&public, &[theirs]), Err(FheError::Mismatch(_))));
    let agg = aggregate(&public, &[encrypt_records(&public, 0, &records(0, 2)).unwrap()]).unwrap();
    assert!(partial_decrypt(&public, &other_shares[0], &agg).is_err());
    let _ = shares;
    assert!(KeyShare::from_bytes(&agg.to_bytes().unwrap()).is_err(), "an aggregate is not a key share");
    let bytes = agg.to_bytes().unwrap();
    assert!(Aggregate::from_bytes(&bytes[..bytes.len() / 3]).is_err(), "truncated");
    assert!(setup(1, &s).is_err());
}

/// The benchmark scale: 3 parties × 10,000 records × 8 fields (run with --ignored; prints timings).
#[test]
#[ignore = "benchmark scale: cargo test -p cipherproof-fhe --test study -- --ignored --nocapture"]
fn three_parties_ten_thousand_records_each() {
    use std::time::Instant;
    let s = schema();
    let t = Instant::now();
    let (public, shares) = setup(3, &s).unwrap();
    let setup_s = t.elapsed().as_secs_f64();
    let data: Vec<Vec<Vec<u32>>> = (0..3).map(|p| records(p, 10_000)).collect();
    let t = Instant::now();
    let batches: Vec<EncryptedRecords> = data
        .iter()
        .enumerate()
        .map(|(p, r)| encrypt_records(&public, p as u32, r).unwrap())
        .collect();
    let encrypt_s = t.elapsed().as_secs_f64() / 3.0;
    let bytes: usize = batches[0].to_bytes().unwrap().len();
    let t = Instant::now();
    let agg = aggregate(&public, &batches).unwrap();
    let aggregate_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let partial: Vec<DecryptionShare> = shares.iter().map(|k| partial_decrypt(&public, k, &agg).unwrap()).collect();
    let got = combine(&public, &agg, &partial).unwrap();
    let decrypt_s = t.elapsed().as_secs_f64();
    let mut want = vec![0i64; s.slots().unwrap()];
    for r in data.iter().flatten() {
        for (w, v) in want.iter_mut().zip(s.encode(r).unwrap()) {
            *w += v;
        }
    }
    assert_eq!(got, want);
    let p = public.params().unwrap();
    println!(
        "study: 3 parties x 10000 records x 8 fields, {} slots/record: setup {setup_s:.2}s, encrypt {encrypt_s:.2}s per party \
         ({} MB), aggregate {aggregate_s:.2}s, 3 partial decryptions + combine {decrypt_s:.3}s; Δ=2^{}, smudge ±2^{}, \
         aggregate noise σ≈2^{:.1}, smudge hiding 2^{:.1}",
        s.slots().unwrap(),
        bytes >> 20,
        p.log_delta,
        p.smudge_log2,
        p.aggregate_noise_log2,
        p.smudge_hiding_log2
    );
}
