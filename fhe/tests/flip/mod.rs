//! Bit flips for the FHE fuzz tests (`fuzz_wire.rs`, `fuzz_study.rs`): what a
//! damaged or hostile file sent to the server holds, and a panic collector.

#![allow(dead_code, clippy::unwrap_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Flips one to four bits, half of the time within the first 256 bytes (headers and lengths).
pub fn flip(bytes: &[u8], seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = bytes.to_vec();
    for _ in 0..1 + next() % 4 {
        let span = if next() % 2 == 0 {
            out.len().min(256)
        } else {
            out.len()
        };
        let at = (next() % span as u64) as usize;
        out[at] ^= 1 << (next() % 8);
    }
    out
}

/// Mutants per campaign: `CIPHERPROOF_FUZZ_ITERS`, else `default`.
pub fn iterations(default: u64) -> u64 {
    std::env::var("CIPHERPROOF_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `f(seed)` for every seed below `iters`, collecting panics as "seed N: message".
pub fn panics_of(iters: u64, f: impl Fn(u64)) -> Vec<String> {
    let mut panics = Vec::new();
    for seed in 0..iters {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(seed))) {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panics.push(format!("seed {seed}: {msg}"));
        }
    }
    panics
}
