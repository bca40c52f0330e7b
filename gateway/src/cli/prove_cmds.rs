//! `compile`, `prove` and `verify`: proven inference from the command line.

use super::inputs::{read_batch, read_single};
use super::run::{QuantArgs, load_graph};
use anyhow::{Context, Result};
use cipherproof_circuits::InputVisibility;
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::quant::{quantize, quantize_for_range};
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::compile::{self, CompileOptions, SrsSource};
use cipherproof_prover::{prove, srs, verify};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default |x| bound of inputs when compiling without calibration samples.
pub const DEFAULT_INPUT_RANGE: f32 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Visibility {
    Private,
    Public,
    Hashed,
}

impl From<Visibility> for InputVisibility {
    fn from(v: Visibility) -> Self {
        match v {
            Visibility::Private => InputVisibility::Private,
            Visibility::Public => InputVisibility::Public,
            Visibility::Hashed => InputVisibility::Hashed,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Output directory of the compiled model.
    #[arg(long)]
    pub out: PathBuf,
    /// Samples to choose the fixed-point scales from. Without it, scales come from
    /// the weights and --input-range, so that no input within the range can overflow.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// |x| bound of every input value when compiling without --calibration.
    #[arg(long, default_value_t = DEFAULT_INPUT_RANGE)]
    pub input_range: f32,
    /// Visibility of the input in the proof (the output is always public).
    #[arg(long, value_enum, default_value_t = Visibility::Private)]
    pub input_visibility: Visibility,
    /// A ceremony SRS in halo2's params format; default: an UNSAFE development SRS.
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// Refuse models needing more than 2^max_k rows.
    #[arg(long, default_value_t = 22)]
    pub max_k: u32,
    /// Advice-column budget: more columns at smaller k prove faster, but the EVM
    /// verifier grows with columns (8 keeps it under the 24,576-byte limit).
    #[arg(long, default_value_t = cipherproof_circuits::planner::DEFAULT_MAX_ADVICE)]
    pub max_advice_columns: usize,
    /// Measure the N cheapest layouts by the planner's cost model (keys, then the
    /// best of up to three proofs on a zero input, fewer past 3 s) and keep the
    /// fastest; 0 or 1: the cost model's pick, unmeasured.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub tune: usize,
    /// Print one JSON object (sizes and step times) instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub quant: QuantArgs,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Cache of SRS files and proving keys [default: $CIPHERPROOF_CACHE or ~/.cache/cipherproof].
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

impl CacheArgs {
    pub fn dir(&self) -> PathBuf {
        self.cache
            .clone()
            .or_else(|| std::env::var_os("CIPHERPROOF_CACHE").map(PathBuf::from))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/cipherproof"))
            })
            .unwrap_or_else(|| PathBuf::from(".cipherproof-cache"))
    }
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// A directory written by `cipherproof compile`.
    #[arg(long)]
    pub model: PathBuf,
    /// The input in EZKL's format {"input_data": [[...]]}.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the proof.
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object (outputs, proof size, step times) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where the proof is computed: cpu, cuda (needs a build with `--features cuda` and a
    /// device), or auto (cuda when both are there, else the CPU).
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Prove this many times and report the first, best and median times (and, on a GPU,
    /// the change in free device memory from after the first proof to after the last).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub proof: PathBuf,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Runs `f` under a spinner labelled `what` (hidden when stderr is not a terminal) and times it.
pub fn step<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let bar = ProgressBar::new_spinner().with_message(what.to_string());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    let start = Instant::now();
    let out = f();
    bar.finish_and_clear();
    Ok((out?, start.elapsed().as_secs_f64()))
}

fn srs_source(path: &Option<PathBuf>) -> SrsSource {
    match path {
        Some(p) => SrsSource::File(p.clone()),
        None => SrsSource::UnsafeDev,
    }
}

pub fn compile_cmd(args: &CompileArgs) -> Result<()> {
    let (graph, t_import) = step("importing ONNX", || load_graph(&args.model, args.quant.output.as_deref()))?;
    let config = args.quant.config();
    let (model, t_quant) = step("quantizing", || match &args.calibration {
        Some(p) => Ok(quantize(&graph, &read_batch(p)?, &config)?),
        None => Ok(quantize_for_range(&graph, args.input_range, &config)?),
    })?;
    let source = srs_source(&args.srs);
    if source == SrsSource::UnsafeDev {
        eprintln!("warning: {}", srs::UNSAFE_WARNING);
    }
    let opts = CompileOptions {
        srs: source,
        cache_dir: args.cache.dir(),
        max_k: args.max_k,
        max_advice: args.max_advice_columns,
        input_visibility: args.input_visibility.into(),
        tune: args.tune,
    };
    let ((compiled, t), _) = step("sizing the circuit and generating keys", || {
        Ok(compile::compile(&model, &args.out, &opts)?)
    })?;
    std::fs::write(args.out.join("graph.json"), serde_json::to_vec(&graph)?)
        .context("writing graph.json")?;
    let params = &compiled.circuit.shape.params;
    let (p, lut_sets, dot) = (&params.base, params.lut_sets, params.dot);
    if args.json {
        let summary = serde_json::json!({
            "model_id": compiled.circuit.model_id,
            "k": p.k,
            "rows": 1u64 << p.k,
            "advice_columns": params.advice_columns(),
            "table_lookup_sets": lut_sets,
            "dot_width": dot.width, "dot_sets": dot.sets,
            "lookup_advice_columns": params.lookup_advice_columns(),
            "fixed_columns": params.fixed_columns(),
            "advice_cells": compiled.circuit.advice_cells,
            "lookup_cells": compiled.circuit.lookup_cells,
            "import_s": t_import, "quantize_s": t_quant, "plan_s": t.plan_s, "srs_s": t.srs_s, "keygen_s": t.keygen_s,
            "tuned": t.tuned,
        });
        println!("{summary}");
        return Ok(());
    }
    println!(
        "compiled {} -> {}",
        args.model.display(),
        args.out.display()
    );
    println!("  model id        {}", compiled.circuit.model_id);
    println!("  k               {} ({} rows)", p.k, 1u64 << p.k);
    println!(
        "  columns         advice {:?}, lookup advice {:?}, fixed {}, activation-table sets {lut_sets}, dot-product sets {} of width {}",
        p.num_advice_per_phase, p.num_lookup_advice_per_phase, p.num_fixed, dot.sets, dot.width
    );
    println!(
        "  cells           advice {}, lookup {}",
        compiled.circuit.advice_cells, compiled.circuit.lookup_cells
    );
    println!(
        "  input           {:?}, {}-bit at scale 2^-{}",
        compiled.circuit.input_visibility,
        model.input().bits,
        model.input().scale
    );
    println!(
        "  time            import {t_import:.3}s, quantize {t_quant:.3}s, plan {:.3}s, srs {:.3}s, keygen {:.3}s",
        t.plan_s, t.srs_s, t.keygen_s
    );
    for r in &t.tuned {
        let kept = r.k == p.k as u32
            && r.lookup_bits == p.lookup_bits.unwrap_or(0)
            && r.dot_width == compiled.circuit.shape.dot_width();
        println!(
            "  tune            k {:>2}, limbs {:>2} bits, dot width {:>2}: model cost {:>9}, keygen {:.3}s, prove {:.3}s{}",
            r.k,
            r.lookup_bits,
            r.dot_width,
            r.model_cost,
            r.keygen_s,
            r.prove_s,
            if kept { "  <- kept" } else { "" }
        );
    }
    Ok(())
}

pub fn load_compiled(dir: &Path) -> Result<compile::Compiled> {
    compile::load(dir).with_context(|| {
        format!(
            "{} is not a usable compiled model (run `cipherproof compile`)",
            dir.display()
        )
    })
}

pub fn prove_cmd(args: &ProveArgs) -> Result<()> {
    let c = load_compiled(&args.model)?;
    let x = read_single(&args.input)?;
    let q = quantize_input(&c.model, 0, &x)?;
    let cache = args.cache.dir();
    let k = c.circuit.shape.k();
    let (params, t_srs) = step("loading the SRS", || {
        Ok(compile::load_params(&c.circuit.srs, k, &cache)?)
    })?;
    let (pk, t_pk) = step("loading the proving key", || {
        Ok(compile::proving_key(&c, &params, &cache)?)
    })?;
    let backend: cipherproof_cuda::Backend = args.backend.parse()?;
    let ((engine, device), t_engine) = step("preparing the prover", || {
        super::prove_backend::engine(backend, &params)
    })?;
    // Each proof's witness, made on the CPU whichever engine proves, timed apart.
    let mut witness_s = Vec::new();
    let runs = super::prove_backend::repeat_proofs(&engine, args.repeat, || {
        let start = std::time::Instant::now();
        let witness = prove::witness(&c, &q)?;
        witness_s.push(start.elapsed().as_secs_f64());
        Ok(witness.prove(&engine, &params, &pk)?)
    })?;
    let witness_best_s = witness_s.iter().copied().fold(f64::INFINITY, f64::min);
    let proof = &runs.proof;
    let t_prove = runs.first_s;
    proof.write(&args.out)?;
    if args.json {
        let summary = serde_json::json!({
            "quantized_outputs": proof.quantized_outputs, "argmax": proof.argmax,
            "proof_bytes": proof.proof_bytes()?.len(), "srs_s": t_srs, "pk_s": t_pk, "prove_s": t_prove,
            "backend": engine.name(), "device": device, "engine_s": t_engine,
            "repeats": runs.times_s.len(), "prove_best_s": runs.best_s(), "prove_median_s": runs.median_s(),
            "gpu_memory_change_bytes": runs.memory_change, "witness_best_s": witness_best_s,
        });
        println!("{summary}");
        return Ok(());
    }
    println!("proof written to {}", args.out.display());
    println!(
        "  outputs         {:?} (argmax {})",
        proof.quantized_outputs, proof.argmax
    );
    println!("  proof bytes     {}", proof.proof_bytes()?.len());
    println!("  backend         {} ({device})", engine.name());
    println!("  time            srs {t_srs:.3}s, proving key {t_pk:.3}s, prove {t_prove:.3}s");
    println!("  witness         {witness_best_s:.3}s of each proof (best), made on the CPU");
    if runs.times_s.len() > 1 {
        println!(
            "  {} proofs       best {:.3}s, median {:.3}s",
            runs.times_s.len(),
            runs.best_s(),
            runs.median_s()
        );
    }
    if let Some(change) = runs.memory_change {
        println!("  GPU memory      {change} bytes less free after the repeats");
    }
    Ok(())
}

pub fn verify_cmd(args: &VerifyArgs) -> Result<()> {
    let c = load_compiled(&args.model)?;
    let proof = ProofFile::read(&args.proof)?;
    let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &args.cache.dir())?;
    verify::verify(&c, &params, &proof)?;
    println!("valid");
    Ok(())
}
