//! # cipherproof-testkit
//!
//! Fixture loading shared by the workspace's tests: paths under
//! `testdata/models/` and the JSON sample formats, and a local anvil chain
//! ([`anvil`]). Test support only: it panics with the offending path instead
//! of returning errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod anvil;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// `testdata/models/` of the workspace, or `$CIPHERPROOF_TESTDATA` (a test
/// binary carried to another machine, such as the GPU machine, finds it there).
pub fn models_dir() -> PathBuf {
    match std::env::var_os("CIPHERPROOF_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/models"),
    }
}

/// A path under `testdata/models/`.
pub fn fixture(rel: &str) -> PathBuf {
    models_dir().join(rel)
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON list of numeric rows as f32 vectors.
pub fn rows(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .expect("list of rows")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number") as f32)
                .collect()
        })
        .collect()
}

/// The rows under `key` of a JSON file (`inputs` of a batch, `input_data` of EZKL's format).
pub fn samples(path: &Path, key: &str) -> Vec<Vec<f32>> {
    rows(&read_json(path)[key])
}
