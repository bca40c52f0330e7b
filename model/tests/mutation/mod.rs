//! Structure-aware mutation of ONNX models, shared by the fuzz tests of the
//! model crate (`fuzz_import.rs`) and the circuits crate (`fuzz_circuits.rs`,
//! which includes this file by path). A campaign applies one to three random
//! mutations to each of a list of fixture models, runs a check on the bytes,
//! and collects every panic with its seed, mutations and location.
//!
//! Deterministic (fixed seeds). `CIPHERPROOF_FUZZ_ITERS` sets the mutations per
//! model, `CIPHERPROOF_FUZZ_BASE` the first seed, `CIPHERPROOF_FUZZ_MODELS`
//! (comma-separated paths under `testdata/models/`) other models;
//! `CIPHERPROOF_FUZZ_SEED` replays one seed with the normal panic output.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_model::onnx::decode_model;
use cipherproof_model::onnx::import::{CONSTANT_ONLY_OPS, RUNTIME_OPS};
use cipherproof_model::onnx::proto::tensor_shape_proto::dimension::Value as Dim;
use cipherproof_model::onnx::proto::{ModelProto, type_proto};
use prost::Message;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

static LAST_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn odd_int(&mut self) -> i64 {
        if self.below(2) == 0 {
            // Plausible values reach deeper: other strides, pads, axes.
            return self.below(8) as i64 - 3;
        }
        const V: &[i64] = &[
            -1,
            0,
            1,
            2,
            3,
            7,
            64,
            1 << 20,
            1 << 31,
            1 << 40,
            i64::MAX,
            i64::MIN,
            -(1 << 40),
        ];
        V[self.below(V.len())]
    }
    fn odd_float(&mut self) -> f32 {
        const V: &[f32] = &[
            0.0,
            -1.0,
            1.0,
            1e-30,
            1e30,
            f32::NAN,
            f32::INFINITY,
            -f32::INFINITY,
            0.5,
        ];
        V[self.below(V.len())]
    }
}

/// Applies one random mutation and describes it.
pub fn mutate(m: &mut ModelProto, rng: &mut Rng) -> String {
    let g = m.graph.as_mut().unwrap();
    let names: Vec<String> = g
        .initializer
        .iter()
        .map(|t| t.name().to_string())
        .chain(g.node.iter().flat_map(|n| n.output.clone()))
        .chain(g.input.iter().map(|i| i.name().to_string()))
        .collect();
    match rng.below(14) {
        12 | 13 if !g.initializer.is_empty() => {
            // Valid but extreme weights: they import and stress the quantizer.
            let t = rng.below(g.initializer.len());
            let init = &mut g.initializer[t];
            let factor = [0.0f32, 1e-30, 1e-6, 1e6, 1e30, -1.0][rng.below(6)];
            if init.data_type() == 1 {
                if let Some(r) = init.raw_data.as_mut() {
                    for c in r.chunks_exact_mut(4) {
                        let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * factor;
                        c.copy_from_slice(&v.to_le_bytes());
                    }
                }
                for v in &mut init.float_data {
                    *v *= factor;
                }
            }
            format!("initializer '{}' scaled by {factor:e}", init.name())
        }
        0 | 1 if !g.node.is_empty() => {
            let n = rng.below(g.node.len());
            let node = &mut g.node[n];
            if node.attribute.is_empty() {
                return "nothing (no attributes)".into();
            }
            let a = rng.below(node.attribute.len());
            let attr = &mut node.attribute[a];
            let v = rng.odd_int();
            if !attr.ints.is_empty() {
                match rng.below(3) {
                    0 => {
                        let i = rng.below(attr.ints.len());
                        attr.ints[i] = v;
                    }
                    1 => attr.ints.push(v),
                    _ => {
                        attr.ints.pop();
                    }
                }
            } else if attr.f.is_some() {
                attr.f = Some(rng.odd_float());
            } else {
                attr.i = Some(v);
            }
            format!(
                "node {n} attribute '{}' -> {:?} / {:?}",
                attr.name(),
                attr.i,
                attr.ints
            )
        }
        2 if !g.initializer.is_empty() => {
            let t = rng.below(g.initializer.len());
            let init = &mut g.initializer[t];
            let v = rng.odd_int();
            match rng.below(3) {
                0 if !init.dims.is_empty() => {
                    let i = rng.below(init.dims.len());
                    init.dims[i] = v;
                }
                1 => init.dims.push(v.clamp(0, 4)),
                _ => {
                    init.dims.pop();
                }
            }
            format!("initializer '{}' dims -> {:?}", init.name(), init.dims)
        }
        3 => {
            let Some(input) = g.input.iter_mut().find(|i| i.r#type.is_some()) else {
                return "nothing (no typed input)".into();
            };
            let Some(type_proto::Value::TensorType(tt)) =
                input.r#type.as_mut().and_then(|t| t.value.as_mut())
            else {
                return "nothing (input not a tensor)".into();
            };
            let Some(shape) = tt.shape.as_mut() else {
                return "nothing (no shape)".into();
            };
            let v = rng.odd_int();
            match rng.below(4) {
                0 | 1 if !shape.dim.is_empty() => {
                    let i = rng.below(shape.dim.len());
                    shape.dim[i].value = Some(Dim::DimValue(v));
                }
                2 if !shape.dim.is_empty() => {
                    let i = rng.below(shape.dim.len());
                    shape.dim[i].value = Some(Dim::DimParam("n".into()));
                }
                _ => {
                    shape.dim.pop();
                }
            }
            format!("input shape -> {:?}", shape.dim)
        }
        4 | 5 if !g.node.is_empty() => {
            let n = rng.below(g.node.len());
            let node = &mut g.node[n];
            let pick = names[rng.below(names.len())].clone();
            match rng.below(3) {
                0 if !node.input.is_empty() => {
                    let i = rng.below(node.input.len());
                    node.input[i] = pick.clone();
                }
                1 => node.input.push(pick.clone()),
                _ => {
                    node.input.pop();
                }
            }
            format!("node {n} inputs -> {:?}", node.input)
        }
        6 if !g.node.is_empty() => {
            let n = rng.below(g.node.len());
            // Every op the importer knows, so the swap reaches each builder.
            let ops: Vec<&str> = RUNTIME_OPS
                .iter()
                .chain(CONSTANT_ONLY_OPS)
                .copied()
                .collect();
            let op = ops[rng.below(ops.len())];
            g.node[n].op_type = Some(op.into());
            format!("node {n} op -> {op}")
        }
        7 if !g.node.is_empty() => {
            let n = rng.below(g.node.len());
            g.node.remove(n);
            format!("node {n} removed")
        }
        8 if g.node.len() > 1 => {
            let a = rng.below(g.node.len());
            let b = rng.below(g.node.len());
            g.node.swap(a, b);
            format!("nodes {a} and {b} swapped")
        }
        9 if !g.initializer.is_empty() => {
            let t = rng.below(g.initializer.len());
            let init = &mut g.initializer[t];
            match rng.below(3) {
                0 => {
                    if let Some(r) = init.raw_data.as_mut() {
                        let keep = rng.below(r.len() + 1);
                        r.truncate(keep);
                    }
                }
                1 => init.data_type = Some([1, 2, 3, 5, 6, 7, 9, 10, 11, 16][rng.below(10)]),
                _ => {
                    if let Some(r) = init.raw_data.as_mut() {
                        for b in r.iter_mut().step_by(3) {
                            *b = 0xff;
                        }
                    }
                }
            }
            format!("initializer '{}' data changed", init.name())
        }
        10 if !g.node.is_empty() => {
            let n = rng.below(g.node.len());
            let pick = names[rng.below(names.len())].clone();
            if let Some(o) = g.node[n].output.first_mut() {
                *o = pick.clone();
            }
            format!("node {n} output -> '{pick}'")
        }
        _ => {
            let pick = names[rng.below(names.len())].clone();
            if let Some(o) = g.output.first_mut() {
                o.name = Some(pick.clone());
            }
            format!("graph output -> '{pick}'")
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Mutates each of `models` (paths under `testdata/models/`) `default_iters` times
/// (or `CIPHERPROOF_FUZZ_ITERS`), runs `check` on each result's bytes, and fails
/// listing every panic. `check` says how far a model got; the counts are printed.
pub fn campaign(
    models: &[&str],
    default_iters: u64,
    check: impl Fn(&[u8], &mut Rng) -> &'static str,
) {
    let iters = env_u64("CIPHERPROOF_FUZZ_ITERS").unwrap_or(default_iters);
    let only = env_u64("CIPHERPROOF_FUZZ_SEED");
    let first = env_u64("CIPHERPROOF_FUZZ_BASE").unwrap_or(0);
    let chosen = std::env::var("CIPHERPROOF_FUZZ_MODELS").ok();
    let models: Vec<&str> = match &chosen {
        Some(list) => list.split(',').collect(),
        None => models.to_vec(),
    };
    if only.is_none() {
        // Quiet, but keep where each panic happened for the report.
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            *LAST_PANIC.lock().unwrap() = at;
        }));
    }
    let mut failures = Vec::new();
    let mut outcomes = BTreeMap::<&str, usize>::new();
    for (mi, rel) in models.iter().enumerate() {
        let original = std::fs::read(cipherproof_testkit::fixture(rel)).unwrap();
        let original = decode_model(&original).unwrap();
        for it in first..first + iters {
            let seed = (mi as u64) << 32 | it;
            if only.is_some_and(|s| s != seed) {
                continue;
            }
            let mut rng = Rng(seed);
            let mut m = original.clone();
            let steps: Vec<String> = (0..1 + rng.below(3))
                .map(|_| mutate(&mut m, &mut rng))
                .collect();
            let bytes = m.encode_to_vec();
            match catch_unwind(AssertUnwindSafe(|| check(&bytes, &mut rng))) {
                Ok(stage) => *outcomes.entry(stage).or_default() += 1,
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let at = LAST_PANIC.lock().unwrap().take().unwrap_or_default();
                    failures.push(format!(
                        "{rel} seed {seed}: {steps:?}: panic at {at}: {msg}"
                    ));
                }
            }
        }
    }
    if only.is_none() {
        let _ = std::panic::take_hook();
    }
    eprintln!("outcomes: {outcomes:?}");
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
