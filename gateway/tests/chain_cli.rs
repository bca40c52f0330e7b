//! `cipherproof chain deploy | register | submit` against a real anvil (the
//! pinned npm binary, started on a free port for this test and stopped after).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cipherproof(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cipherproof"))
        .args(args)
        .env("CIPHERPROOF_CACHE", cache)
        .env_remove("CIPHERPROOF_PRIVATE_KEY")
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn deploy_register_and_submit_on_anvil() {
    let chain = cipherproof_testkit::anvil::Anvil::start();
    let dir = std::env::temp_dir().join(format!("cipherproof-chain-cli-{}", std::process::id()));
    let cache = dir.join("cache");
    let fixture = |f: &str| {
        repo()
            .join("testdata/models/digits_mlp")
            .join(f)
            .to_string_lossy()
            .into_owned()
    };
    let m = dir.join("m").to_string_lossy().into_owned();
    let proof = dir.join("p.json").to_string_lossy().into_owned();
    json(&cipherproof(
        &[
            "compile",
            &fixture("model.onnx"),
            "--out",
            &m,
            "--calibration",
            &fixture("calibration.json"),
            "--json",
        ],
        &cache,
    ));
    json(&cipherproof(
        &[
            "prove",
            "--model",
            &m,
            "--input",
            &fixture("input.json"),
            "--out",
            &proof,
            "--json",
        ],
        &cache,
    ));

    let d = json(&cipherproof(
        &["chain", "deploy", "--rpc", &chain.url],
        &cache,
    ));
    assert_eq!(d["chain_id"], 31337);
    assert!(d["registry"].as_str().unwrap().starts_with("0x"));
    let r = json(&cipherproof(
        &["chain", "register", "--rpc", &chain.url, "--model", &m],
        &cache,
    ));
    assert_eq!(r["status"], "success", "{r}");
    assert!(r["verifier_bytes"].as_u64().unwrap() <= 24_576);

    let submit = |proof: &str, request: &str| {
        cipherproof(
            &[
                "chain",
                "submit",
                "--rpc",
                &chain.url,
                "--model",
                &m,
                "--proof",
                proof,
                "--request-id",
                request,
            ],
            &cache,
        )
    };
    let s = json(&submit(&proof, "1"));
    assert_eq!(s["status"], "success", "{s}");
    let gas = s["gasUsed"].as_u64().unwrap();
    assert!(gas > 100_000 && gas < 2_000_000, "{gas}");

    // A replayed request id: mined, reverted, non-zero exit, still JSON with the tx hash.
    let again = submit(&proof, "1");
    assert!(!again.status.success());
    let v: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["status"], "reverted");

    // A tampered proof is rejected on chain too.
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&proof).unwrap()).unwrap();
    let hexp = p["proof"].as_str().unwrap().to_string();
    let flipped = if hexp.ends_with('0') { "1" } else { "0" };
    p["proof"] = Value::from(format!("{}{flipped}", &hexp[..hexp.len() - 1]));
    let bad = dir.join("bad.json");
    std::fs::write(&bad, p.to_string()).unwrap();
    let out = submit(&bad.to_string_lossy(), "2");
    assert!(!out.status.success());

    // Without a key, a chain other than anvil is refused before anything is sent (no such chain
    // here: an unreachable RPC is a clear error too).
    let out = cipherproof(&["chain", "deploy", "--rpc", "http://127.0.0.1:1"], &cache);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chain id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
