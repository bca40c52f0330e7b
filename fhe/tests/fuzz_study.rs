//! Bit flips in what a study's parties send the server: the study's public
//! file, a party's encrypted records and a decryption share. Each mutant goes
//! through the server's checks, aggregation, partial decryption and combining;
//! any step may refuse it, none may panic. `CIPHERPROOF_FUZZ_ITERS` (default
//! 100) runs longer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod flip;

use cipherproof_fhe::study::*;
use flip::{flip, iterations, panics_of};
use std::sync::atomic::{AtomicUsize, Ordering};

fn schema() -> Schema {
    Schema {
        fields: vec![
            Field::Numeric {
                name: "age".into(),
                max: 120,
            },
            Field::Categorical {
                name: "smoker".into(),
                categories: 2,
            },
        ],
        cohort_field: Some("smoker".into()),
        max_records: 1_000,
    }
}

#[test]
fn flipped_study_files_never_panic() {
    let (public, shares) = setup(3, &schema()).unwrap();
    let rows = |p: u32| -> Vec<Vec<u32>> { (0..5).map(|i| vec![20 + p * 7 + i, i % 2]).collect() };
    let batches: Vec<EncryptedRecords> = (0..3)
        .map(|p| encrypt_records(&public, p, &rows(p)).unwrap())
        .collect();
    let agg = aggregate(&public, &batches).unwrap();
    let partial: Vec<DecryptionShare> = shares
        .iter()
        .map(|k| partial_decrypt(&public, k, &agg).unwrap())
        .collect();
    let (public_bytes, records_bytes, share_bytes) = (
        public.to_bytes().unwrap(),
        batches[0].to_bytes().unwrap(),
        partial[0].to_bytes().unwrap(),
    );
    let read = AtomicUsize::new(0);
    let iters = iterations(100);

    let panics = panics_of(iters, |seed| {
        if let Ok(p) = StudyPublic::from_bytes(&flip(&public_bytes, seed)) {
            read.fetch_add(1, Ordering::Relaxed);
            if p.check().is_ok()
                && let Ok(r) = encrypt_records(&p, 0, &rows(0))
            {
                let _ = check_records(&p, &r);
            }
        }
        if let Ok(r) = EncryptedRecords::from_bytes(&flip(&records_bytes, seed + (1 << 40))) {
            read.fetch_add(1, Ordering::Relaxed);
            if check_records(&public, &r).is_ok()
                && let Ok(a) = aggregate(&public, &[r, batches[1].clone(), batches[2].clone()])
            {
                let parts: Vec<_> = shares
                    .iter()
                    .filter_map(|k| partial_decrypt(&public, k, &a).ok())
                    .collect();
                let _ = combine(&public, &a, &parts);
            }
        }
        if let Ok(s) = DecryptionShare::from_bytes(&flip(&share_bytes, seed + (2 << 40))) {
            read.fetch_add(1, Ordering::Relaxed);
            let _ = combine(&public, &agg, &[s, partial[1].clone(), partial[2].clone()]);
        }
    });
    eprintln!("{iters} × 3 mutants: {} read back", read.into_inner());
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n")
    );
}
