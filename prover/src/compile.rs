//! A compiled model directory: the quantized model, the circuit shape, the
//! verifying key, and a reference to the cached proving key.
//!
//! ```text
//! DIR/model.json     quantized model (the integer semantics being proven)
//! DIR/circuit.json   version, model id, k, columns, break points, SRS label, pk cache name
//! DIR/vk.bin         verifying key (halo2 RawBytes)
//! CACHE/keys/<model id>.pk   proving key (regenerated if missing)
//! ```

use crate::circuit::{CircuitShape, Plan, candidates, plan};
use crate::error::{ProverError, Result, io_err};
use crate::keys::{self, Keys};
use crate::{prove, srs};
use cipherproof_circuits::InputVisibility;
use cipherproof_circuits::dot::DotShape;
use cipherproof_circuits::packing;
use cipherproof_model::quant::QuantModel;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::{ProvingKey, VerifyingKey};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// 2: instances bound by a gate (not the permutation), outputs packed, selectors compressed.
/// 3: range checks as whole-limb regions (ReLU on `|x|`, padded rescale remainders): version-2
/// layouts differ, so their break points and keys no longer fit.
/// 4: dense/conv sums on the dot-product gate rescaled from an offset sum (integer cells only).
pub const FORMAT_VERSION: u32 = 4;

/// Where the SRS comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "path", rename_all = "kebab-case")]
pub enum SrsSource {
    /// The public-seed development SRS: proofs can be forged.
    UnsafeDev,
    /// A ceremony file in halo2's params format.
    File(PathBuf),
}

/// `circuit.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CircuitFile {
    pub version: u32,
    pub model_id: String,
    pub shape: CircuitShape,
    pub advice_cells: usize,
    pub lookup_cells: usize,
    pub srs: SrsSource,
    pub input_visibility: InputVisibility,
    pub pk_cache: String,
}

/// A compiled model loaded from its directory.
#[derive(Debug)]
pub struct Compiled {
    pub dir: PathBuf,
    pub model: QuantModel,
    pub circuit: CircuitFile,
    pub vk: VerifyingKey<G1Affine>,
}

impl Compiled {
    /// Public instances of every proof of this model: the input's (none, every
    /// value, or its commitment), then the outputs packed several to a word
    /// (`cipherproof_circuits::packing`).
    pub fn num_instances(&self) -> usize {
        let input = match self.circuit.input_visibility {
            InputVisibility::Private => 0,
            InputVisibility::Public => self.model.input().numel(),
            InputVisibility::Hashed => 1,
        };
        let output = &self.model.values[self.model.output];
        input + packing::words(output.numel(), output.bits)
    }
}

/// Options of [`compile`].
#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub srs: SrsSource,
    pub cache_dir: PathBuf,
    pub max_k: u32,
    /// Advice-column budget of the planner (`cipherproof_circuits::planner`).
    pub max_advice: usize,
    pub input_visibility: InputVisibility,
    /// Measure this many of the cost model's cheapest layouts (keys and one
    /// proof each) and keep the fastest; 0 or 1 takes the cost model's pick.
    pub tune: usize,
}

/// The hash binding proofs to one model: quantized model JSON and vk bytes.
pub fn model_id(model_json: &[u8], vk: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"cipherproof-model-v1");
    h.update((model_json.len() as u64).to_le_bytes());
    h.update(model_json);
    h.update(vk);
    format!("{:x}", h.finalize())
}

pub fn load_params(srs: &SrsSource, k: u32, cache_dir: &Path) -> Result<ParamsKZG<Bn256>> {
    match srs {
        SrsSource::UnsafeDev => srs::unsafe_dev_srs(k, &cache_dir.join("srs")),
        SrsSource::File(p) => srs::load_srs(p, k),
    }
}

/// Timings of the compile steps, in seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompileTimings {
    pub plan_s: f64,
    pub srs_s: f64,
    /// Key generation of the layout kept.
    pub keygen_s: f64,
    /// The layouts `--tune` measured, in the cost model's order.
    pub tuned: Vec<TuneRun>,
}

/// One layout measured by `--tune`.
#[derive(Debug, Clone, Serialize)]
pub struct TuneRun {
    pub k: u32,
    pub lookup_bits: usize,
    pub dot_width: usize,
    /// The cost model's estimate (committed columns × 2^k).
    pub model_cost: u64,
    pub keygen_s: f64,
    pub prove_s: f64,
}

/// `--tune` ranks a layout by the best of this many proofs: layouts a few percent apart were
/// misranked by single proofs on a noisy 2-core machine.
const TUNE_PROOFS: usize = 3;
/// ...stopping early once a layout's proofs have taken this long (large models get one).
const TUNE_BUDGET_S: f64 = 3.0;

/// The best time of up to [`TUNE_PROOFS`] proofs with these keys.
fn best_proof_time(
    model: &QuantModel,
    visibility: InputVisibility,
    keys: &Keys,
    params: &ParamsKZG<Bn256>,
) -> Result<f64> {
    let (mut best, mut spent) = (f64::INFINITY, 0.0);
    for _ in 0..TUNE_PROOFS {
        let s = prove::time_one_proof(model, visibility, &keys.shape, params, &keys.pk)?;
        best = best.min(s);
        spent += s;
        if spent > TUNE_BUDGET_S {
            break;
        }
    }
    Ok(best)
}

/// Sizes the circuit, generates keys, and writes the compiled directory.
pub fn compile(
    model: &QuantModel,
    out: &Path,
    opts: &CompileOptions,
) -> Result<(Compiled, CompileTimings)> {
    let mut t = CompileTimings::default();
    let start = std::time::Instant::now();
    let plans = if opts.tune > 1 {
        candidates(
            model,
            opts.input_visibility,
            opts.max_k,
            opts.max_advice,
            opts.tune,
        )?
    } else {
        vec![(
            0,
            plan(model, opts.input_visibility, opts.max_k, opts.max_advice)?,
        )]
    };
    t.plan_s = start.elapsed().as_secs_f64();
    let mut kept: Option<(f64, Plan, Keys)> = None;
    for (cost, plan) in plans {
        let start = std::time::Instant::now();
        let params = load_params(&opts.srs, plan.k, &opts.cache_dir)?;
        t.srs_s += start.elapsed().as_secs_f64();
        let start = std::time::Instant::now();
        let keys = keys::generate(
            &params,
            model,
            opts.input_visibility,
            plan.k,
            plan.lookup_bits,
            plan.dot_width,
        )?;
        let keygen_s = start.elapsed().as_secs_f64();
        let prove_s = if opts.tune > 1 {
            let s = best_proof_time(model, opts.input_visibility, &keys, &params)?;
            t.tuned.push(TuneRun {
                k: plan.k,
                lookup_bits: plan.lookup_bits,
                dot_width: plan.dot_width,
                model_cost: u64::try_from(cost).unwrap_or(u64::MAX),
                keygen_s,
                prove_s: s,
            });
            s
        } else {
            0.0
        };
        if kept.as_ref().is_none_or(|(best, _, _)| prove_s < *best) {
            t.keygen_s = keygen_s;
            kept = Some((prove_s, plan, keys));
        }
    }
    let Some((_, plan, Keys { pk, shape, counts })) = kept else {
        return Err(ProverError::Halo2 {
            stage: "plan",
            reason: "no layout to generate keys for".into(),
        });
    };
    // The cells of the layout kept (at its dot width some rescales fold into the gate).
    let (advice_cells, lookup_cells) = (
        counts.advice
            + 2 * counts.table_lookups
            + DotShape::cells(plan.dot_width, &counts.dot_terms),
        counts.lookup,
    );
    let model_json = serde_json::to_vec(model).map_err(|e| corrupt(out, e))?;
    let vk_bytes = keys::vk_bytes(pk.get_vk());
    let id = model_id(&model_json, &vk_bytes);
    let pk_cache = format!("{id}.pk");
    keys::write_pk(&pk, &opts.cache_dir.join("keys").join(&pk_cache))?;
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let circuit = CircuitFile {
        version: FORMAT_VERSION,
        model_id: id,
        shape,
        advice_cells,
        lookup_cells,
        srs: opts.srs.clone(),
        input_visibility: opts.input_visibility,
        pk_cache,
    };
    write(&out.join("model.json"), &model_json)?;
    write(&out.join("vk.bin"), &vk_bytes)?;
    write(
        &out.join("circuit.json"),
        &serde_json::to_vec_pretty(&circuit).map_err(|e| corrupt(out, e))?,
    )?;
    let vk = pk.get_vk().clone();
    Ok((
        Compiled {
            dir: out.to_path_buf(),
            model: model.clone(),
            circuit,
            vk,
        },
        t,
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(io_err(path))
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> ProverError {
    ProverError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Whether `dir` looks like a compiled model directory.
pub fn is_compiled_dir(dir: &Path) -> bool {
    dir.join("circuit.json").is_file() && dir.join("model.json").is_file()
}

/// Loads a compiled directory, checking its version and that the model id matches its contents.
pub fn load(dir: &Path) -> Result<Compiled> {
    let circuit_path = dir.join("circuit.json");
    let circuit: CircuitFile =
        serde_json::from_slice(&std::fs::read(&circuit_path).map_err(io_err(&circuit_path))?)
            .map_err(|e| corrupt(&circuit_path, e))?;
    if circuit.version != FORMAT_VERSION {
        return Err(corrupt(
            &circuit_path,
            format!(
                "format version {} (this build reads {FORMAT_VERSION}; compile the model again)",
                circuit.version
            ),
        ));
    }
    let model_path = dir.join("model.json");
    let model_json = std::fs::read(&model_path).map_err(io_err(&model_path))?;
    let model: QuantModel =
        serde_json::from_slice(&model_json).map_err(|e| corrupt(&model_path, e))?;
    let vk_path = dir.join("vk.bin");
    let vk = keys::read_vk(&vk_path, circuit.shape.params.clone())?;
    if model_id(&model_json, &keys::vk_bytes(&vk)) != circuit.model_id {
        return Err(corrupt(
            dir,
            "model.json or vk.bin does not match the model id in circuit.json",
        ));
    }
    Ok(Compiled {
        dir: dir.to_path_buf(),
        model,
        circuit,
        vk,
    })
}

/// The proving key: from the cache, or regenerated (and re-cached) if missing.
pub fn proving_key(
    c: &Compiled,
    params: &ParamsKZG<Bn256>,
    cache_dir: &Path,
) -> Result<ProvingKey<G1Affine>> {
    let path = cache_dir.join("keys").join(&c.circuit.pk_cache);
    if path.exists()
        && let Ok(pk) = keys::read_pk(&path, c.circuit.shape.params.clone())
    {
        return Ok(pk);
    }
    let Keys { pk, .. } = keys::generate(
        params,
        &c.model,
        c.circuit.input_visibility,
        c.circuit.shape.k(),
        c.circuit
            .shape
            .params
            .base
            .lookup_bits
            .unwrap_or(cipherproof_circuits::circuit::LOOKUP_BITS),
        c.circuit.shape.dot_width(),
    )?;
    if keys::vk_bytes(pk.get_vk()) != keys::vk_bytes(&c.vk) {
        return Err(corrupt(
            &c.dir,
            "regenerated keys do not match vk.bin (different SRS?)",
        ));
    }
    keys::write_pk(&pk, &path)?;
    Ok(pk)
}
