//! `chain deploy | register | submit`: the contracts, a model's verifier and
//! proofs on any JSON-RPC chain. Results are JSON on stdout; a transaction the
//! chain reverts exits non-zero.

use super::prove_cmds::{CacheArgs, load_compiled};
use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, anyhow, bail};
use cipherproof_onchain::chain::{Chain, Deployment, Receipt};
use cipherproof_onchain::contracts::compile_contracts;
use cipherproof_onchain::solc::SolcSettings;
use cipherproof_onchain::verifier;
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::compile;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ChainArgs {
    #[command(subcommand)]
    pub command: ChainCommand,
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Deploy the registry, settlement, oracle data verifier and agent contracts.
    Deploy(DeployArgs),
    /// Deploy a compiled model's verifier and register the model.
    Register(RegisterArgs),
    /// Submit a proof to the registry.
    Submit(SubmitArgs),
}

#[derive(Debug, Args)]
pub struct Connection {
    /// JSON-RPC endpoint, e.g. http://127.0.0.1:8545.
    #[arg(long)]
    pub rpc: String,
    /// Signing key (hex). Required except on anvil (chain 31337), where it defaults to anvil's first dev account.
    #[arg(long, env = "CIPHERPROOF_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// Deployments file (addresses per chain id) [default: CACHE/deployments.json].
    #[arg(long)]
    pub deployments: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The oracle the agents' data verifier trusts [default: the deployer].
    #[arg(long)]
    pub oracle: Option<Address>,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// A directory written by `cipherproof compile`.
    #[arg(long)]
    pub model: PathBuf,
    /// Registry address [default: from the deployments file].
    #[arg(long)]
    pub registry: Option<Address>,
    /// Gas bound of each verification of this model.
    #[arg(long, default_value_t = 2_000_000)]
    pub verify_gas: u64,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub conn: Connection,
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub proof: PathBuf,
    /// Request id to record the inference under [default: random].
    #[arg(long)]
    pub request_id: Option<u64>,
    #[arg(long)]
    pub registry: Option<Address>,
}

impl Connection {
    fn deployments_path(&self) -> PathBuf {
        self.deployments
            .clone()
            .unwrap_or_else(|| self.cache.dir().join("deployments.json"))
    }

    async fn connect(&self) -> Result<Chain> {
        Ok(Chain::connect(&self.rpc, self.private_key.as_deref()).await?)
    }
}

type Deployments = BTreeMap<String, Deployment>;

fn read_deployments(path: &Path) -> Result<Deployments> {
    if !path.exists() {
        return Ok(Deployments::new());
    }
    serde_json::from_slice(&std::fs::read(path)?)
        .with_context(|| format!("{} is not a deployments file", path.display()))
}

fn registry_of(conn: &Connection, chain_id: u64, flag: Option<Address>) -> Result<Address> {
    if let Some(a) = flag {
        return Ok(a);
    }
    let path = conn.deployments_path();
    read_deployments(&path)?
        .get(&chain_id.to_string())
        .map(|d| d.registry)
        .ok_or_else(|| {
            anyhow!(
                "no deployment for chain {chain_id} in {} (run `cipherproof chain deploy` or pass --registry)",
                path.display()
            )
        })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn finish(mut json: serde_json::Value, r: &Receipt, what: &str) -> Result<()> {
    json["tx_hash"] = serde_json::json!(r.tx_hash);
    json["status"] = serde_json::json!(r.status);
    json["gasUsed"] = serde_json::json!(r.gas_used);
    println!("{json}");
    if !r.ok() {
        bail!("the chain reverted {what} (transaction {})", r.tx_hash);
    }
    Ok(())
}

pub fn chain_cmd(args: &ChainArgs) -> Result<()> {
    let rt = runtime()?;
    match &args.command {
        ChainCommand::Deploy(a) => rt.block_on(deploy(a)),
        ChainCommand::Register(a) => rt.block_on(register(a)),
        ChainCommand::Submit(a) => rt.block_on(submit(a)),
    }
}

async fn deploy(a: &DeployArgs) -> Result<()> {
    let contracts = compile_contracts()?;
    let chain = a.conn.connect().await?;
    let d = chain
        .deploy_contracts(&contracts, a.oracle.unwrap_or(chain.from))
        .await?;
    let path = a.conn.deployments_path();
    let mut all = read_deployments(&path)?;
    all.insert(chain.chain_id.to_string(), d.clone());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&all)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let mut json = serde_json::to_value(&d)?;
    json["chain_id"] = serde_json::json!(chain.chain_id);
    json["deployer"] = serde_json::json!(chain.from);
    json["deployments_file"] = serde_json::json!(path);
    println!("{json}");
    Ok(())
}

async fn register(a: &RegisterArgs) -> Result<()> {
    let c = load_compiled(&a.model)?;
    let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &a.conn.cache.dir())?;
    let v = verifier::build(&c, &params, SolcSettings::default())?;
    let chain = a.conn.connect().await?;
    let registry = registry_of(&a.conn, chain.chain_id, a.registry)?;
    let (verifier_addr, r) = chain
        .register_model(registry, &c, v.contract.creation.clone(), a.verify_gas)
        .await?;
    let json = serde_json::json!({
        "model_id": c.circuit.model_id, "registry": registry, "verifier": verifier_addr,
        "verifier_bytes": v.contract.runtime.len(), "chain_id": chain.chain_id,
    });
    finish(json, &r, "the registration")
}

async fn submit(a: &SubmitArgs) -> Result<()> {
    let c = load_compiled(&a.model)?;
    let proof = ProofFile::read(&a.proof)?;
    let chain = a.conn.connect().await?;
    let registry = registry_of(&a.conn, chain.chain_id, a.registry)?;
    let request = a.request_id.unwrap_or_else(rand_request_id);
    let r = chain
        .submit_proof(registry, &c.circuit.model_id, U256::from(request), &proof)
        .await?;
    let json = serde_json::json!({ "model_id": c.circuit.model_id, "request_id": request, "registry": registry });
    finish(json, &r, "the proof")
}

fn rand_request_id() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}
