//! `cipherproof study ...` as a consortium's scripts call it: three parties,
//! CSV records, aggregate statistics decrypted only with every share.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
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
fn three_party_study_from_csv() {
    let d = std::env::temp_dir().join(format!("cipherproof-study-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("schema.json"),
        r#"{"fields": [{"kind": "numeric", "name": "age", "max": 120},
                       {"kind": "categorical", "name": "sex", "categories": 2},
                       {"kind": "categorical", "name": "outcome", "categories": 2}],
            "cohort_field": "sex", "max_records": 1000}"#,
    )
    .unwrap();
    let study = d.join("study");
    ok(&cipherproof(&["study", "setup", "--parties", "3", "--schema", p(&d.join("schema.json")), "--out", p(&study)]));
    let csvs = [
        "sex,age,outcome\n0,40,1\n1,60,0\n",
        "age,sex,outcome\n30,1,1\n",
        "outcome,age,sex\n0,50,0\n1,20,1\n1,70,0\n",
    ];
    let public = study.join("study.pub");
    let mut records = Vec::new();
    for (i, csv) in csvs.iter().enumerate() {
        let f = d.join(format!("p{i}.csv"));
        std::fs::write(&f, csv).unwrap();
        let out = d.join(format!("r{i}.bin"));
        ok(&cipherproof(&["study", "encrypt", "--study", p(&public), "--party", &i.to_string(), "--records", p(&f), "--out", p(&out)]));
        records.push(out);
    }
    let agg = d.join("agg.bin");
    let mut args = vec!["study", "aggregate", "--study", p(&public), "--out", p(&agg), "--records"];
    args.extend(records.iter().map(|r| p(r)));
    ok(&cipherproof(&args));
    let mut shares = Vec::new();
    for i in 0..3 {
        let share = study.join(format!("party-{i}.share"));
        let out = d.join(format!("s{i}.bin"));
        ok(&cipherproof(&["study", "partial-decrypt", "--study", p(&public), "--share", p(&share), "--aggregate", p(&agg), "--out", p(&out)]));
        shares.push(out);
    }
    let mut args = vec!["study", "combine", "--study", p(&public), "--aggregate", p(&agg), "--json", "--shares"];
    args.extend(shares.iter().map(|s| p(s)));
    let r: serde_json::Value = serde_json::from_str(ok(&cipherproof(&args)).trim()).unwrap();
    assert_eq!(r["count"], 6);
    assert_eq!(r["sum age"], 270);
    assert_eq!(r["count outcome=1"], 4);
    assert_eq!(r["sex=1: count"], 3);
    assert_eq!(r["sex=1: sum age"], 110);
    // Two of three shares: refused.
    let mut args = vec!["study", "combine", "--study", p(&public), "--aggregate", p(&agg), "--shares"];
    args.extend(shares[..2].iter().map(|s| p(s)));
    let o = cipherproof(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    // An out-of-range value in a CSV: refused before encryption.
    std::fs::write(d.join("bad.csv"), "age,sex,outcome\n130,0,0\n").unwrap();
    let o = cipherproof(&["study", "encrypt", "--study", p(&public), "--party", "0", "--records", p(&d.join("bad.csv")), "--out", p(&d.join("x.bin"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("age"));
}
