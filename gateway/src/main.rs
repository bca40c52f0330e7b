//! # cipherproof
//!
//! The `cipherproof` command-line tool. Commands:
//!
//! * `inspect MODEL.onnx [--json]`: operators, shapes, parameters, support;
//! * `run --model MODEL.onnx (--input INPUT.json | --batch BATCH.json)`:
//!   float and quantized inference side by side;
//! * `compile MODEL.onnx --out DIR`, `prove --model DIR --input INPUT.json --out PROOF.json`,
//!   `verify --model DIR --proof PROOF.json`: halo2 proofs of quantized inference;
//! * `verifier --model DIR --out OUTDIR [--proof PROOF.json]`: the model's EVM verifier;
//! * `chain deploy | register | submit --rpc URL ...`: contracts, verifiers and proofs on a chain;
//! * `fhe keygen | encrypt | infer | decrypt`: encrypted inference on TFHE ciphertexts;
//! * `gpu info | witness`: CUDA devices, and a batch's integer witness on the GPU (NVRTC kernels) or CPU;
//! * `study setup | encrypt | aggregate | partial-decrypt | combine`: multi-party encrypted analytics;
//! * `serve [--listen ADDR] [--data DIR] ...`: the gRPC gateway (library: `cipherproof_gateway`);
//! * `client register | infer | job --addr URL ...`: a client of a running gateway.

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
    /// Quantize a model, size its circuit and generate its keys into a directory.
    Compile(cli::prove_cmds::CompileArgs),
    /// Prove one inference of a compiled model.
    Prove(cli::prove_cmds::ProveArgs),
    /// Verify a proof against a compiled model: prints "valid" and exits 0 only for a valid proof.
    Verify(cli::prove_cmds::VerifyArgs),
    /// Write a compiled model's Solidity verifier and bytecode (and check a proof on an in-process EVM).
    Verifier(cli::verifier_cmd::VerifierArgs),
    /// Deploy the contracts, register models and submit proofs on a JSON-RPC chain.
    Chain(cli::chain_cmd::ChainArgs),
    /// Encrypted inference (TFHE): keygen, encrypt, infer, decrypt.
    Fhe(cli::fhe_cmd::FheArgs),
    /// CUDA on this machine (`gpu info`) and a model's integer witness on CPU or GPU (`gpu witness`).
    Gpu(cli::gpu_cmd::GpuArgs),
    /// Multi-party encrypted analytics: setup, encrypt, aggregate, partial-decrypt, combine.
    Study(cli::study_cmd::StudyArgs),
    /// Run the gRPC gateway (plain, proven and KServe v2 inference, durable proof jobs).
    Serve(cli::serve_cmd::ServeArgs),
    /// Talk to a running gateway.
    Client(cli::client_cmd::ClientArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Inspect(args) => cli::inspect::inspect(&args),
        Command::Run(args) => cli::run::run(&args),
        Command::Compile(args) => cli::prove_cmds::compile_cmd(&args),
        Command::Prove(args) => cli::prove_cmds::prove_cmd(&args),
        Command::Verify(args) => cli::prove_cmds::verify_cmd(&args),
        Command::Verifier(args) => cli::verifier_cmd::verifier_cmd(&args),
        Command::Chain(args) => cli::chain_cmd::chain_cmd(&args),
        Command::Fhe(args) => cli::fhe_cmd::fhe_cmd(&args),
        Command::Gpu(args) => cli::gpu_cmd::gpu_cmd(&args),
        Command::Study(args) => cli::study_cmd::study_cmd(&args),
        Command::Serve(args) => cli::serve_cmd::serve_cmd(&args),
        Command::Client(args) => cli::client_cmd::client_cmd(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cipherproof inspect m.onnx | head` must end quietly when `head` closes the pipe, as
/// Unix tools do, not panic in `println!` (Rust ignores SIGPIPE, so the write fails). The
/// printing commands take the signal's default back; `serve` keeps it ignored, so a
/// closed connection is an error on that connection, never the server's end.
#[allow(unsafe_code)] // one libc call; nothing else in the binary is unsafe
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: sets the disposition of one signal to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
