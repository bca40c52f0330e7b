//! `gpu info` (what CUDA this machine offers) and `gpu witness` (a model's
//! integer witness for a batch on the chosen backend, checked against and
//! timed beside the CPU reference on one core).

use super::inputs::read_batch;
use super::prove_cmds::load_compiled;
use super::run::{QuantArgs, load_graph};
use anyhow::{Context, Result, bail};
use cipherproof_cuda::probe::{devices, driver_library, nvrtc_library};
use cipherproof_cuda::{Backend, GpuWitness, Resolved, cpu_batch};
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::quant::{QuantModel, quantize};
use cipherproof_prover::compile::is_compiled_dir;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct GpuArgs {
    #[command(subcommand)]
    pub command: GpuCommand,
}

#[derive(Debug, Subcommand)]
pub enum GpuCommand {
    /// Whether the CUDA driver and NVRTC load here, and the devices (name, capability, memory).
    Info {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compute a model's integer witness for a batch on the CPU or a GPU.
    Witness(WitnessArgs),
}

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// A directory from `cipherproof compile` (its fixed quantization) or an ONNX file
    /// (quantized on the inputs).
    #[arg(long)]
    pub model: PathBuf,
    /// Inputs: {"inputs": [[...], ...]} or EZKL's {"input_data": [[...]]}.
    #[arg(long)]
    pub input: PathBuf,
    /// Batch size: the inputs repeated in turn up to this many (default: as many as given).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Where the witness runs.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Run the batch this many times and report the best time (and, on a GPU, the change in
    /// free device memory across the runs: a leak check).
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Also run the CPU reference on one core: check equality and report the speed-up.
    #[arg(long)]
    pub compare: bool,
    /// Device memory the batch's values may take, in MiB (default: three quarters of what is
    /// free); a batch that needs more runs in chunks.
    #[arg(long)]
    pub memory_budget_mib: Option<u64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub quant: QuantArgs,
}

pub fn gpu_cmd(args: &GpuArgs) -> Result<()> {
    match &args.command {
        GpuCommand::Info { json } => info(*json),
        GpuCommand::Witness(w) => witness(w),
    }
}

fn info(json: bool) -> Result<()> {
    let driver = driver_library().err().map(|e| e.to_string());
    let nvrtc = nvrtc_library().err().map(|e| e.to_string());
    let devs = devices()?;
    if json {
        let list: Vec<_> = devs
            .iter()
            .map(|d| {
                serde_json::json!({
                    "ordinal": d.ordinal,
                    "name": d.name,
                    "compute_capability": format!("{}.{}", d.compute_capability.0, d.compute_capability.1),
                    "total_memory_bytes": d.total_memory_bytes,
                    "free_memory_bytes": d.free_memory_bytes,
                })
            })
            .collect();
        let out = serde_json::json!({
            "driver": driver.is_none(),
            "driver_error": driver,
            "nvrtc": nvrtc.is_none(),
            "nvrtc_error": nvrtc,
            "devices": list,
        });
        println!("{out}");
        return Ok(());
    }
    println!("CUDA driver: {}", driver.as_deref().unwrap_or("loaded"));
    println!("NVRTC: {}", nvrtc.as_deref().unwrap_or("loaded"));
    if devs.is_empty() {
        println!("devices: none (the CPU path is used)");
    }
    for d in &devs {
        println!("device {}: {}", d.ordinal, d.describe());
    }
    Ok(())
}

fn load_model(args: &WitnessArgs, inputs: &[Vec<f32>]) -> Result<QuantModel> {
    if is_compiled_dir(&args.model) {
        return Ok(load_compiled(&args.model)?.model);
    }
    let graph = load_graph(&args.model, args.quant.output.as_deref())?;
    quantize(&graph, inputs, &args.quant.config()).context("quantization failed")
}

fn witness(args: &WitnessArgs) -> Result<()> {
    let backend: Backend = args.backend.parse()?;
    let floats = read_batch(&args.input)?;
    let model = load_model(args, &floats)?;
    let n = args.batch.unwrap_or(floats.len());
    if n == 0 {
        bail!("--batch must be at least 1");
    }
    let inputs = floats
        .iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, x)| quantize_input(&model, i, x).with_context(|| format!("input {i}")))
        .collect::<Result<Vec<_>>>()?;
    let repeat = args.repeat.max(1);
    let cpu = |reason: Option<String>| -> Result<Run> {
        if let Some(r) = reason {
            eprintln!("using the CPU: {r}");
        }
        let (outputs, seconds) = best_of(repeat, || cpu_batch(&model, &inputs))?;
        Ok(Run {
            outputs,
            device: "cpu".into(),
            seconds,
            upload_seconds: None,
            repeats: repeat,
            memory_change: None,
        })
    };
    let run = match backend.resolve()? {
        Resolved::Cpu { .. } if backend == Backend::Cpu => cpu(None)?,
        Resolved::Cpu { reason } => cpu(Some(reason))?,
        Resolved::Cuda { ordinal } => match GpuWitness::open(ordinal) {
            Ok(mut gpu) => {
                gpu.set_memory_budget(args.memory_budget_mib.map(|mib| mib.saturating_mul(1 << 20)));
                gpu_run(&gpu, &model, &inputs, repeat)?
            }
            // `auto` still falls back when the kernels cannot be compiled or loaded here.
            Err(e) if backend == Backend::Auto => cpu(Some(e.to_string()))?,
            Err(e) => return Err(e.into()),
        },
    };
    report(args, &model, &inputs, run)
}

fn gpu_run(
    gpu: &GpuWitness,
    model: &QuantModel,
    inputs: &[Vec<i64>],
    repeat: usize,
) -> Result<Run> {
    // The model's constants go up once, as a server holding the model would do;
    // the first launch loads the module and sets up transfers: time warm runs.
    let start = Instant::now();
    let uploaded = gpu.upload(model)?;
    let upload_seconds = start.elapsed().as_secs_f64();
    gpu.run_uploaded(&uploaded, &inputs[..1])?;
    let free_before = gpu.free_memory()?;
    let (outputs, seconds) = best_of(repeat, || gpu.run_uploaded(&uploaded, inputs))?;
    let free_after = gpu.free_memory()?;
    Ok(Run {
        outputs,
        device: gpu.device().describe(),
        seconds,
        upload_seconds: Some(upload_seconds),
        repeats: repeat,
        memory_change: Some(free_before as i64 - free_after as i64),
    })
}

/// One backend's witness of the batch: the outputs, the best wall time of the
/// repeats, and (GPU) how much less device memory was free after them.
struct Run {
    outputs: Vec<Vec<i64>>,
    device: String,
    seconds: f64,
    /// GPU: the one-off upload of the model's constants, not in `seconds`.
    upload_seconds: Option<f64>,
    repeats: usize,
    memory_change: Option<i64>,
}

fn best_of<T>(
    repeat: usize,
    mut f: impl FnMut() -> cipherproof_cuda::Result<T>,
) -> Result<(T, f64)> {
    let mut best: Option<(T, f64)> = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let out = f()?;
        let t = start.elapsed().as_secs_f64();
        if best.as_ref().is_none_or(|(_, b)| t < *b) {
            best = Some((out, t));
        }
    }
    best.context("no run")
}

fn report(args: &WitnessArgs, model: &QuantModel, inputs: &[Vec<i64>], run: Run) -> Result<()> {
    let Run {
        outputs,
        device,
        seconds,
        upload_seconds,
        repeats,
        memory_change,
    } = run;
    let reference = if args.compare {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        let start = Instant::now();
        let cpu = pool.install(|| cpu_batch(model, inputs))?;
        let t = start.elapsed().as_secs_f64();
        if cpu != outputs {
            let first = cpu
                .iter()
                .zip(&outputs)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            bail!("the {device} witness differs from the CPU reference (first at input {first})");
        }
        Some(t)
    } else {
        None
    };
    let speedup = reference.map(|t| t / seconds.max(1e-9));
    if args.json {
        let out = serde_json::json!({
            "device": device,
            "batch": inputs.len(),
            "seconds": seconds,
            "upload_seconds": upload_seconds,
            "cpu_one_core_seconds": reference,
            "speedup_vs_one_core": speedup,
            "equal_to_cpu": reference.map(|_| true),
            "repeats": repeats,
            "device_memory_change_bytes": memory_change,
            "quantized_outputs": outputs,
        });
        println!("{out}");
        return Ok(());
    }
    println!("{} inputs on {device}: {seconds:.4} s", inputs.len());
    if let Some(u) = upload_seconds {
        println!("model constants uploaded once in {u:.4} s (not in the time above)");
    }
    if let Some(b) = memory_change {
        println!("free device memory fell by {b} bytes over {repeats} runs");
    }
    if let (Some(t), Some(s)) = (reference, speedup) {
        println!("CPU reference on one core: {t:.4} s; equal outputs; speed-up {s:.1}x");
    }
    Ok(())
}
