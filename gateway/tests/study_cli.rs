//! `cipherproof study ...` as a consortium's scripts call it: three parties,
//! CSV records, aggregate statistics decrypted only with every share.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
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

/// A 3-party study set up in a fresh directory, each party's CSV encrypted:
/// (directory, study.pub, the records files).
fn study_with_records(tag: &str) -> (PathBuf, PathBuf, Vec<PathBuf>) {
    let d = std::env::temp_dir().join(format!("cipherproof-study-{tag}-{}", std::process::id()));
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
    (d, public, records)
}

/// The statistics of the three CSVs above.
fn assert_truth(r: &serde_json::Value) {
    assert_eq!(r["count"], 6);
    assert_eq!(r["sum age"], 270);
    assert_eq!(r["count outcome=1"], 4);
    assert_eq!(r["sex=1: count"], 3);
    assert_eq!(r["sex=1: sum age"], 110);
}

#[test]
fn three_party_study_from_csv() {
    let (d, public, records) = study_with_records("cli");
    let study = d.join("study");
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
    assert_truth(&r);
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

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(ok(out).trim()).unwrap()
}

#[test]
fn three_party_study_through_a_gateway() {
    let (d, public, records) = study_with_records("gateway");
    let (mut gw, addr) = common::serve_process(&d.join("gateway"), &[]);
    let client = |args: &[&str]| {
        let mut all = vec!["client", "study", "--addr", addr.as_str()];
        all.extend_from_slice(args);
        cipherproof(&all)
    };
    let created = json(&client(&["create", "--study", p(&public), "--name", "icu"]));
    let id = created["study_id"].as_str().unwrap().to_string();
    assert_eq!(created["parties"], 3);
    for (i, r) in records.iter().enumerate() {
        json(&client(&["submit", "--study-id", &id, "--party", &i.to_string(), "--records", p(r)]));
    }
    let again = json(&client(&["submit", "--study-id", &id, "--party", "0", "--records", p(&records[0])]));
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["study_records"], 6);
    let agg = d.join("gw-agg.bin");
    let a = json(&client(&["aggregate", "--study-id", &id, "--out", p(&agg)]));
    let agg_id = a["aggregate_id"].as_str().unwrap().to_string();
    let fetched = d.join("gw-agg-fetched.bin");
    json(&client(&["fetch-aggregate", "--aggregate-id", &agg_id, "--out", p(&fetched)]));
    assert_eq!(std::fs::read(&agg).unwrap(), std::fs::read(&fetched).unwrap());
    for i in 0..3 {
        let o = client(&["result", "--aggregate-id", &agg_id]);
        assert_eq!(o.status.code(), Some(1), "no result before every share");
        assert!(String::from_utf8_lossy(&o.stderr).contains("FailedPrecondition"));
        let share = d.join("study").join(format!("party-{i}.share"));
        let out = d.join(format!("gw-s{i}.bin"));
        ok(&cipherproof(&["study", "partial-decrypt", "--study", p(&public), "--share", p(&share), "--aggregate", p(&fetched), "--out", p(&out)]));
        let r = json(&client(&["share", "--aggregate-id", &agg_id, "--party", &i.to_string(), "--share", p(&out)]));
        assert_eq!(r["shares"], i + 1);
    }
    let r = json(&client(&["result", "--aggregate-id", &agg_id]));
    assert_eq!(r["records"], 6);
    assert_truth(&r["values"]);
    gw.kill().unwrap();
    gw.wait().unwrap();
}
