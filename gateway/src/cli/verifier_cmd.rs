//! `verifier`: a compiled model's Solidity verifier, its bytecode, and (with
//! `--proof`) a check of a proof in an in-process EVM with its gas.

use super::prove_cmds::{CacheArgs, load_compiled, step};
use anyhow::{Result, bail};
use cipherproof_onchain::solc::{EIP170_LIMIT, SolcSettings};
use cipherproof_onchain::verifier;
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::compile;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VerifierArgs {
    /// A directory written by `cipherproof compile`.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write Verifier.sol, Verifier.bin (runtime bytecode) and Verifier.creation.bin.
    #[arg(long)]
    pub out: PathBuf,
    /// Also verify this proof with the compiled verifier in an in-process EVM and report its gas.
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// Run the solc optimizer (off by default: it fails with "stack too deep" on most verifiers).
    #[arg(long)]
    pub optimize: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub cache: CacheArgs,
}

pub fn verifier_cmd(args: &VerifierArgs) -> Result<()> {
    let c = load_compiled(&args.model)?;
    let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &args.cache.dir())?;
    let settings = SolcSettings {
        optimize: args.optimize,
        ..SolcSettings::default()
    };
    let (v, t_build) = step("generating and compiling the verifier", || {
        Ok(verifier::build(&c, &params, settings)?)
    })?;
    v.write(&args.out)?;
    let outcome = match &args.proof {
        Some(p) => Some(v.check(&ProofFile::read(p)?)?),
        None => None,
    };
    let size = v.contract.runtime.len();
    if args.json {
        let summary = serde_json::json!({
            "model_id": c.circuit.model_id,
            "runtime_bytes": size,
            "creation_bytes": v.contract.creation.len(),
            "source_bytes": v.source.len(),
            "eip170_limit": EIP170_LIMIT,
            "build_s": t_build,
            "evm_verified": outcome.as_ref().map(|o| o.success),
            "verify_gas": outcome.as_ref().map(|o| o.gas_used),
        });
        println!("{summary}");
    } else {
        println!("verifier written to {}", args.out.display());
        println!("  runtime bytecode  {size} bytes (EIP-170 limit {EIP170_LIMIT})");
        println!("  source            {} bytes", v.source.len());
        if let Some(o) = &outcome {
            let verdict = if o.success { "valid" } else { "REJECTED" };
            println!("  proof on the EVM  {verdict}, {} gas", o.gas_used);
        }
    }
    if let Some(o) = outcome
        && !o.success
    {
        bail!("the EVM verifier rejected the proof");
    }
    Ok(())
}
