//! # cipherproof
//!
//! The `cipherproof` command-line tool (and, in later milestones, the gRPC
//! gateway). Commands:
//!
//! * `inspect MODEL.onnx [--json]`: operators, shapes, parameters, support;
//! * `run --model MODEL.onnx (--input INPUT.json | --batch BATCH.json)`:
//!   float and quantized inference side by side.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "cipherproof",
    version,
    about = "Verifiable and encrypted inference for ONNX models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a model's operators, shapes and parameter count, and whether cipherproof supports it.
    Inspect(cli::inspect::InspectArgs),
    /// Run a model in float and in fixed-point, printing both outputs and their argmax.
    Run(cli::run::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cli::inspect::inspect(&args),
        Command::Run(args) => cli::run::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
