//! `cipherproof run --model MODEL.onnx (--input INPUT.json | --batch BATCH.json)`.

use super::inputs::{read_batch, read_single};
use super::prove_cmds::load_compiled;
use anyhow::{Context, Result, bail};
use cipherproof_model::exec::argmax;
use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::{IntegerRunner, dequantize_output};
use cipherproof_model::quant::report::build_report;
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize};
use cipherproof_model::{Graph, ImportOptions, import_onnx_with};
use cipherproof_prover::compile::is_compiled_dir;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The ONNX model, or a directory from `cipherproof compile` (then its fixed
    /// quantization is used: the quantized outputs are exactly what `prove` proves).
    #[arg(long)]
    pub model: PathBuf,
    /// One input in EZKL's format: {"input_data": [[...flat floats...]]}.
    #[arg(long, conflicts_with = "batch", required_unless_present = "batch")]
    pub input: Option<PathBuf>,
    /// Several inputs: {"inputs": [[...], ...]}.
    #[arg(long)]
    pub batch: Option<PathBuf>,
    /// Samples to choose the fixed-point scales from (batch or input_data format);
    /// default: the inputs being run.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the quantization report (scales, bit-widths, agreement) as JSON to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub quant: QuantArgs,
}

/// Bit-width settings of the fixed-point model.
#[derive(Debug, Args)]
pub struct QuantArgs {
    /// Signed bits of each weight.
    #[arg(long, default_value_t = QuantConfig::default().weight_bits)]
    pub weight_bits: u32,
    /// Signed bits every activation is range-checked to.
    #[arg(long, default_value_t = QuantConfig::default().activation_bits)]
    pub activation_bits: u32,
    /// Input bits of sigmoid/tanh lookup tables.
    #[arg(long, default_value_t = QuantConfig::default().lut_bits)]
    pub lut_bits: u32,
    /// Finest input step of sigmoid/tanh tables, as a scale (7 = 1/128); narrower inputs get smaller tables.
    #[arg(long, default_value_t = QuantConfig::default().lut_max_scale)]
    pub lut_max_scale: i32,
    /// Bits of range kept above each calibrated maximum.
    #[arg(long, default_value_t = QuantConfig::default().headroom_bits)]
    pub headroom_bits: u32,
    /// Signed bits of the model's output [default: --activation-bits]. Narrow hidden
    /// activations with fine logits: what an encrypted MLP needs.
    #[arg(long)]
    pub output_bits: Option<u32>,
    /// Which graph output the model computes and proves, for models with several (a
    /// classifier's class without its probabilities, say); several separated by commas
    /// (`Y,Y_h`) are proven together as one flat output, in the order named.
    #[arg(long)]
    pub output: Option<String>,
}

impl QuantArgs {
    pub fn config(&self) -> QuantConfig {
        QuantConfig {
            weight_bits: self.weight_bits,
            activation_bits: self.activation_bits,
            lut_bits: self.lut_bits,
            lut_max_scale: self.lut_max_scale,
            headroom_bits: self.headroom_bits,
            output_bits: self.output_bits,
        }
    }
}

/// The `--json` output: one row per input.
#[derive(Debug, Serialize)]
struct RunOutput {
    outputs: Vec<Vec<f32>>,
    quantized_outputs: Vec<Vec<i64>>,
    dequantized_outputs: Vec<Vec<f64>>,
    argmax: Vec<usize>,
    float_argmax: Vec<usize>,
}

pub fn load_graph(path: &Path, output: Option<&str>) -> Result<Graph> {
    if path.is_dir() {
        bail!(
            "{} is a directory, not a compiled model or an .onnx file",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let opts = ImportOptions {
        output: output.map(str::to_string),
    };
    import_onnx_with(&bytes, &opts).with_context(|| path.display().to_string())
}

/// A compiled directory's float graph and its fixed quantization (loaded, and checked
/// against its model id, by the same path `prove` uses).
fn load_compiled_for_run(dir: &Path) -> Result<(Graph, QuantModel)> {
    let model = load_compiled(dir)?.model;
    let path = dir.join("graph.json");
    let bytes = std::fs::read(&path)
        .with_context(|| format!("{}: missing (recompile the model)", path.display()))?;
    let graph = serde_json::from_slice(&bytes).with_context(|| path.display().to_string())?;
    Ok((graph, model))
}

pub fn run(args: &RunArgs) -> Result<()> {
    let inputs = match (&args.input, &args.batch) {
        (Some(p), _) => vec![read_single(p)?],
        (None, Some(p)) => read_batch(p)?,
        (None, None) => bail!("pass --input or --batch"),
    };
    let calibration = match &args.calibration {
        Some(p) => read_batch(p)?,
        None => inputs.clone(),
    };
    let (graph, model) = if is_compiled_dir(&args.model) {
        if args.calibration.is_some() {
            bail!("--calibration does not apply to a compiled model (its quantization is fixed)");
        }
        load_compiled_for_run(&args.model)?
    } else {
        let graph = load_graph(&args.model, args.quant.output.as_deref())?;
        let model =
            quantize(&graph, &calibration, &args.quant.config()).context("quantization failed")?;
        (graph, model)
    };
    let float = FloatRunner::new(&graph)?;
    let integer = IntegerRunner::new(&model)?;
    let mut out = RunOutput {
        outputs: Vec::new(),
        quantized_outputs: Vec::new(),
        dequantized_outputs: Vec::new(),
        argmax: Vec::new(),
        float_argmax: Vec::new(),
    };
    for (i, x) in inputs.iter().enumerate() {
        let all = float.run_all(x).with_context(|| format!("input {i}"))?;
        let q = integer
            .run(&integer.quantize_input(i, x)?)
            .with_context(|| format!("input {i}"))?;
        out.float_argmax
            .push(argmax(&all[graph.integer_output()]).unwrap_or(0));
        out.argmax.push(argmax(&q).unwrap_or(0));
        out.dequantized_outputs.push(dequantize_output(&model, &q));
        out.quantized_outputs.push(q);
        out.outputs.push(all[graph.output].clone());
    }
    if let Some(path) = &args.report {
        let report = build_report(&graph, &model, &calibration)?;
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    print_text(&out, &model);
    Ok(())
}

fn print_text(out: &RunOutput, model: &QuantModel) {
    let o = model.output_info();
    for i in 0..out.outputs.len() {
        println!("input {i}");
        println!("  float outputs        {:?}", out.outputs[i]);
        println!(
            "  quantized outputs    {:?}  (scale 2^-{}, {}-bit)",
            out.quantized_outputs[i], o.scale, o.bits
        );
        let deq: Vec<String> = out.dequantized_outputs[i]
            .iter()
            .map(|v| format!("{v:.6}"))
            .collect();
        println!("  dequantized outputs  [{}]", deq.join(", "));
        println!(
            "  argmax               quantized {}  float {}",
            out.argmax[i], out.float_argmax[i]
        );
    }
    if model.softmax_dropped {
        println!(
            "note: the model ends in Softmax; quantized outputs are the logits before it (argmax is unchanged)"
        );
    }
    let agree = out
        .argmax
        .iter()
        .zip(&out.float_argmax)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "argmax agreement {agree}/{} (input scale 2^-{}, {}-bit activations)",
        out.outputs.len(),
        model.input().scale,
        o.bits
    );
}
