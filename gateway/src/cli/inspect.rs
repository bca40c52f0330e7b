//! `cipherproof inspect MODEL.onnx [--json]`.

use anyhow::{Context, Result};
use cipherproof_model::onnx::summary::summarize;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX file.
    pub model: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn inspect(args: &InspectArgs) -> Result<()> {
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let s = summarize(&bytes).with_context(|| args.model.display().to_string())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!("model      {}", args.model.display());
    println!(
        "producer   {} (IR {}, opset {})",
        if s.producer.is_empty() {
            "?"
        } else {
            &s.producer
        },
        s.ir_version,
        s.opset
    );
    for i in &s.inputs {
        println!("input      {} [{}]", i.name, i.shape.join(", "));
    }
    for o in &s.outputs {
        println!("output     {} [{}]", o.name, o.shape.join(", "));
    }
    println!("parameters {}", s.parameter_count);
    println!("nodes      {}", s.nodes.len());
    for n in &s.nodes {
        let shape = n
            .output_shape
            .as_ref()
            .map_or_else(|| "(folded)".to_string(), |v| format!("{v:?}"));
        let mark = if n.supported { " " } else { "✗" };
        println!("  {mark} {:<20} {:<36} {shape}", n.op_type, n.name);
    }
    let ops: Vec<String> = s
        .op_counts
        .iter()
        .map(|(k, v)| format!("{k}×{v}"))
        .collect();
    println!("operators  {}", ops.join(", "));
    if s.all_supported {
        match &s.import_error {
            None => println!("supported  yes: every operator is supported"),
            Some(e) => println!("supported  operators yes, but import fails: {e}"),
        }
    } else {
        println!(
            "supported  no: unsupported operators {}",
            s.unsupported_ops.join(", ")
        );
    }
    Ok(())
}
