//! `cipherproof fhe keygen | encrypt | infer | decrypt`: encrypted inference (TFHE).

use super::inputs::read_batch;
use super::prove_cmds::step;
use super::run::{QuantArgs, load_graph};
use anyhow::{Context, Result, bail};
use cipherproof_fhe::params::DEFAULT_PARAMS;
use cipherproof_fhe::program::{FheProgram, compile, compile_for_key};
use cipherproof_fhe::wire::{
    CIPHERTEXT_LIMIT, CLIENT_KEY_LIMIT, ClientKeyFile, EncryptedInputs, EncryptedOutputs, SERVER_KEY_LIMIT,
    ServerKeyFile, from_bytes, to_bytes,
};
use cipherproof_fhe::{client, keys, server};
use cipherproof_model::exec::argmax;
use cipherproof_model::exec::integer::{dequantize_output, quantize_input};
use cipherproof_model::quant::{QuantModel, quantize, quantize_for_range};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct FheArgs {
    #[command(subcommand)]
    pub command: FheCommand,
}

#[derive(Debug, Subcommand)]
pub enum FheCommand {
    /// Client: generate the secret (client) key and the server key for a model.
    Keygen(KeygenArgs),
    /// Client: encrypt one input or a batch under the client key.
    Encrypt(EncryptArgs),
    /// Server: evaluate the model on ciphertexts (never sees a secret key).
    Infer(InferArgs),
    /// Client: decrypt results into the model's outputs.
    Decrypt(DecryptArgs),
    /// Per-sample latency of the whole round trip (encrypt, wire, evaluate, wire, decrypt), in process.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long)]
    pub keys: PathBuf,
    /// Samples ({"inputs": [...], "labels": [...]} or input_data).
    #[arg(long)]
    pub input: PathBuf,
    /// Also evaluate the whole set as one batch (parallel).
    #[arg(long)]
    pub batch: bool,
    /// Only the first N samples.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// A directory from `cipherproof compile`, or an ONNX file (then quantized here).
    #[arg(long)]
    pub model: PathBuf,
    /// Key directory: client.key (secret), server.key, model.json.
    #[arg(long)]
    pub out: PathBuf,
    /// With an ONNX model: samples to choose scales from.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// With an ONNX model and no calibration: |x| bound of inputs.
    #[arg(long, default_value_t = 1.0)]
    pub input_range: f32,
    #[command(flatten)]
    pub quant: QuantArgs,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    #[arg(long)]
    pub keys: PathBuf,
    /// {"input_data": [[...]]} or a batch {"inputs": [[...], ...]}.
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// The model: a compile directory or a key directory (holding model.json).
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub server_key: PathBuf,
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    #[arg(long)]
    pub keys: PathBuf,
    #[arg(long)]
    pub input: PathBuf,
    /// One JSON object with the keys of `run --json`.
    #[arg(long)]
    pub json: bool,
}

pub fn fhe_cmd(args: &FheArgs) -> Result<()> {
    match &args.command {
        FheCommand::Keygen(a) => keygen(a),
        FheCommand::Encrypt(a) => encrypt(a),
        FheCommand::Infer(a) => infer(a),
        FheCommand::Decrypt(a) => decrypt(a),
        FheCommand::Bench(a) => bench(a),
    }
}

/// Reads a file, refusing one over `limit` bytes before reading it.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > limit {
        bail!("{}: {len} bytes is over the limit of {limit}", path.display());
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn load_model(dir: &Path) -> Result<QuantModel> {
    let path = dir.join("model.json");
    let bytes = std::fs::read(&path)
        .with_context(|| format!("{}: missing (a `cipherproof compile` or `fhe keygen` directory)", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not a quantized model", path.display()))
}

fn program(model: &QuantModel) -> Result<FheProgram> {
    compile(model, DEFAULT_PARAMS).context("this model cannot run encrypted")
}

/// The server's program: planned for the key it holds (`compile_for_key`).
fn program_for_key(model: &QuantModel, key: &ServerKeyFile) -> Result<FheProgram> {
    compile_for_key(model, DEFAULT_PARAMS, key).context("this model cannot run encrypted")
}

fn keygen(a: &KeygenArgs) -> Result<()> {
    let model = if a.model.is_dir() {
        load_model(&a.model)?
    } else {
        let graph = load_graph(&a.model, a.quant.output.as_deref())?;
        match &a.calibration {
            Some(p) => quantize(&graph, &read_batch(p)?, &a.quant.config())?,
            None => quantize_for_range(&graph, a.input_range, &a.quant.config())?,
        }
    };
    let program = program(&model)?;
    let ((client_key, server_key), t) = step("generating keys", || Ok(keys::keygen(&program)))?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let ck = to_bytes(&client_key, CLIENT_KEY_LIMIT)?;
    let sk = to_bytes(&server_key, SERVER_KEY_LIMIT)?;
    write(&a.out.join("client.key"), &ck)?;
    write(&a.out.join("server.key"), &sk)?;
    write(&a.out.join("model.json"), &serde_json::to_vec(&model)?)?;
    let b = &program.budget;
    let hidden: Vec<serde_json::Value> = program
        .layers
        .iter()
        .filter_map(|l| {
            l.requant.as_ref().map(|r| {
                serde_json::json!({
                    "node": l.dot.node, "values": l.dot.outputs, "activation": r.activation, "shift": r.shift, "window_bits": r.window_bits,
                    "digit_bits": r.digits.iter().map(|d| d.width).collect::<Vec<_>>(),
                    "bootstraps_per_value": r.bootstraps, "fast_key_bootstraps_per_value": r.fast_bootstraps(),
                    "bootstraps": r.layer_bootstraps(l.dot.outputs), "fast_key_bootstraps": r.layer_fast_bootstraps(l.dot.outputs),
                    "tables": r.tables.len(),
                    "split": r.split.as_ref().map(|s| serde_json::json!({
                        "features": s.features.len(), "low_digit_bits": s.digit.width, "low_tests": s.low_tests.len(),
                        "digit_key": s.digit_key, "low_key": s.low_key,
                    })),
                    "digit_key": r.digit_key, "window_key": r.window_key,
                    "log2_p_fail_per_bootstrap": finite_or_text(r.log2_p_fail_per_bootstrap),
                })
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "model_id": program.model_id, "key_id": client_key.key_id,
            "lwe_dimension": program.params.dimension, "noise_bound_log2": program.params.noise_bound_log2,
            "log_delta": b.log_delta, "message_bits": b.message_bits,
            "worst_case_error_log2": finite_or_text(b.worst_case_error_log2), "error_std_dev_log2": b.std_dev_log2,
            "log2_p_fail": if b.log2_p_fail.is_finite() { serde_json::json!(b.log2_p_fail) } else { serde_json::json!("-inf (worst case decodes)") },
            "bootstrap_params": program.pbs, "hidden_layers": hidden,
            "bootstraps_per_sample": program.bootstraps(),
            "log2_p_fail_bootstraps_per_sample": finite_or_text(program.log2_p_fail_bootstraps),
            "client_key_bytes": ck.len(), "server_key_bytes": sk.len(), "keygen_s": t,
        })
    );
    Ok(())
}

fn client_side(keys_dir: &Path) -> Result<(QuantModel, FheProgram, ClientKeyFile)> {
    let model = load_model(keys_dir)?;
    let program = program(&model)?;
    let key: ClientKeyFile = from_bytes(&read(&keys_dir.join("client.key"), CLIENT_KEY_LIMIT)?, CLIENT_KEY_LIMIT)?;
    key.check(&program)?;
    Ok((model, program, key))
}

fn encrypt(a: &EncryptArgs) -> Result<()> {
    let (model, program, key) = client_side(&a.keys)?;
    let inputs = read_batch(&a.input)?;
    let quantized = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| Ok(quantize_input(&model, i, x)?))
        .collect::<Result<Vec<_>>>()?;
    let (ct, t) = step("encrypting", || Ok(client::encrypt(&program, &key, &quantized)?))?;
    let bytes = to_bytes(&ct, CIPHERTEXT_LIMIT)?;
    write(&a.out, &bytes)?;
    eprintln!("encrypted {} sample(s) in {t:.3}s: {} bytes", quantized.len(), bytes.len());
    Ok(())
}

fn infer(a: &InferArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let key: ServerKeyFile = from_bytes(&read(&a.server_key, SERVER_KEY_LIMIT)?, SERVER_KEY_LIMIT)?;
    let program = program_for_key(&model, &key)?;
    let input: EncryptedInputs = from_bytes(&read(&a.input, CIPHERTEXT_LIMIT)?, CIPHERTEXT_LIMIT)?;
    let (out, t) = step("evaluating on ciphertexts", || Ok(server::evaluate(&program, &key, &input)?))?;
    let bytes = to_bytes(&out, CIPHERTEXT_LIMIT)?;
    write(&a.out, &bytes)?;
    eprintln!("evaluated {} sample(s) in {t:.3}s: {} bytes", out.samples.len(), bytes.len());
    Ok(())
}

fn decrypt(a: &DecryptArgs) -> Result<()> {
    let (model, program, key) = client_side(&a.keys)?;
    let out: EncryptedOutputs = from_bytes(&read(&a.input, CIPHERTEXT_LIMIT)?, CIPHERTEXT_LIMIT)?;
    let q = client::decrypt(&program, &key, &out)?;
    let deq: Vec<Vec<f64>> = q.iter().map(|v| dequantize_output(&model, v)).collect();
    let am: Vec<usize> = q.iter().map(|v| argmax(v).unwrap_or(0)).collect();
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "quantized_outputs": q, "dequantized_outputs": deq, "argmax": am })
        );
    } else {
        for (i, v) in q.iter().enumerate() {
            println!("sample {i}: quantized {v:?} dequantized {:?} argmax {}", deq[i], am[i]);
        }
    }
    Ok(())
}

fn labels(path: &Path) -> Option<Vec<usize>> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v.get("labels")?
        .as_array()?
        .iter()
        .map(|l| l.as_u64().map(|l| l as usize))
        .collect()
}

fn bench(a: &BenchArgs) -> Result<()> {
    use cipherproof_model::exec::integer::IntegerRunner;
    use std::time::Instant;
    let (model, program, key) = client_side(&a.keys)?;
    let server_key: ServerKeyFile =
        from_bytes(&read(&a.keys.join("server.key"), SERVER_KEY_LIMIT)?, SERVER_KEY_LIMIT)?;
    let mut inputs = read_batch(&a.input)?;
    if let Some(n) = a.limit {
        inputs.truncate(n);
    }
    let runner = IntegerRunner::new(&model)?;
    // Expanding the bootstrapping keys is the server's one-time start-up, outside the per-sample times.
    let server_program = program_for_key(&model, &server_key)?;
    let (srv_ctx, setup_s) = step("expanding the server key", || Ok(server::Server::new(&server_program, &server_key)?))?;
    let (mut enc, mut srv, mut dec) = (0f64, 0f64, 0f64);
    let (mut equal, mut outputs) = (0usize, Vec::new());
    let (mut in_bytes, mut out_bytes) = (0usize, 0usize);
    for (i, x) in inputs.iter().enumerate() {
        let t = Instant::now();
        let q = quantize_input(&model, i, x)?;
        let ct = to_bytes(&client::encrypt(&program, &key, std::slice::from_ref(&q))?, CIPHERTEXT_LIMIT)?;
        enc += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ct: EncryptedInputs = from_bytes(&ct, CIPHERTEXT_LIMIT)?;
        let out = to_bytes(&srv_ctx.evaluate(&ct)?, CIPHERTEXT_LIMIT)?;
        srv += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let out_ct: EncryptedOutputs = from_bytes(&out, CIPHERTEXT_LIMIT)?;
        let y = client::decrypt(&program, &key, &out_ct)?.swap_remove(0);
        dec += t.elapsed().as_secs_f64();
        in_bytes = ct_len(&ct)?;
        out_bytes = out.len();
        equal += usize::from(y == runner.run(&q)?);
        outputs.push(y);
    }
    let n = inputs.len() as f64;
    let accuracy = labels(&a.input).map(|l| {
        outputs.iter().zip(&l).filter(|(o, l)| argmax(o) == Some(**l)).count() as f64 / outputs.len().min(l.len()).max(1) as f64
    });
    let mut report = serde_json::json!({
        "samples": inputs.len(), "equal_to_plaintext_integer_model": equal,
        "accuracy": accuracy,
        "client_encrypt_ms": enc / n * 1e3, "server_ms": srv / n * 1e3, "client_decrypt_ms": dec / n * 1e3,
        "end_to_end_ms": (enc + srv + dec) / n * 1e3,
        "input_ciphertext_bytes": in_bytes, "output_ciphertext_bytes": out_bytes,
        "log2_p_fail": if program.budget.log2_p_fail.is_finite() { serde_json::json!(program.budget.log2_p_fail) } else { serde_json::json!("-inf") },
        "bootstraps_per_sample": program.bootstraps(),
        "log2_p_fail_bootstraps": finite_or_text(program.log2_p_fail_bootstraps),
        "server_key_setup_s": setup_s,
    });
    if a.batch {
        let q = inputs
            .iter()
            .enumerate()
            .map(|(i, x)| Ok(quantize_input(&model, i, x)?))
            .collect::<Result<Vec<_>>>()?;
        let ct = client::encrypt(&program, &key, &q)?;
        let t = Instant::now();
        srv_ctx.evaluate(&ct)?;
        report["server_batch_ms"] = serde_json::json!(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{report}");
    Ok(())
}

fn finite_or_text(v: f64) -> serde_json::Value {
    if v.is_finite() { serde_json::json!(v) } else { serde_json::json!(format!("{v}")) }
}

fn ct_len(ct: &EncryptedInputs) -> Result<usize> {
    Ok(to_bytes(ct, CIPHERTEXT_LIMIT)?.len())
}
