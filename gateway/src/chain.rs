//! Chain posting: each verified proof goes to the InferenceRegistry of the
//! on-chain issue. One poster per gateway sends one transaction at a time (so
//! nonces never race), deploys and registers a model's verifier on first use
//! (recorded in the store), retries RPC failures with backoff, and derives the
//! request id from the job id, so a re-post after a crash is refused by the
//! registry as a replay instead of paying twice.

use crate::config::ChainConfig;
use crate::error::{GatewayError, Result};
use crate::registry::LoadedModel;
use crate::store::{ChainRecord, JobStore};
use alloy::primitives::{Address, U256, keccak256};
use cipherproof_onchain::chain::{Chain, Receipt, model_word};
use cipherproof_onchain::contracts::compile_contracts;
use cipherproof_onchain::solc::SolcSettings;
use cipherproof_onchain::verifier;
use cipherproof_prover::artifact::ProofFile;
use std::path::Path;
use std::time::Duration;
use tokio::sync::Mutex;

const ATTEMPTS: u32 = 4;
const VERIFY_GAS: u64 = 2_000_000;

#[derive(Debug)]
pub struct ChainPoster {
    chain: Chain,
    registry: Address,
    store: JobStore,
    /// One transaction at a time from this gateway's account.
    sending: Mutex<()>,
}

/// The registry request id of a job: keccak256 of its id.
pub fn request_id(job_id: &str) -> U256 {
    U256::from_be_bytes(keccak256(job_id.as_bytes()).0)
}

impl ChainPoster {
    /// Connects; with no registry configured, deploys the contracts once.
    pub async fn connect(cfg: &ChainConfig, store: JobStore) -> Result<Self> {
        let chain = Chain::connect(&cfg.rpc, cfg.private_key.as_deref()).await?;
        let registry = match &cfg.registry {
            Some(a) => a
                .parse()
                .map_err(|e| GatewayError::Config(format!("registry address {a:?}: {e}")))?,
            None => {
                let contracts = tokio::task::spawn_blocking(compile_contracts)
                    .await
                    .map_err(|e| GatewayError::Internal(e.to_string()))??;
                chain.deploy_contracts(&contracts, chain.from).await?.registry
            }
        };
        tracing::info!(chain_id = chain.chain_id, %registry, from = %chain.from, "chain posting on");
        Ok(Self {
            chain,
            registry,
            store,
            sending: Mutex::new(()),
        })
    }

    pub fn chain_id(&self) -> u64 {
        self.chain.chain_id
    }

    pub fn registry(&self) -> Address {
        self.registry
    }

    async fn ensure_registered(&self, model: &LoadedModel, cache_dir: &Path) -> Result<()> {
        let id = &model.meta.model_id;
        let chain_id = self.chain.chain_id as i64;
        let reg = self.registry.to_string();
        if self.store.chain_verifier(chain_id, &reg, id).await?.is_some()
            || self.chain.is_registered(self.registry, model_word(id)?).await?
        {
            return Ok(());
        }
        let keys = model.keys(cache_dir)?;
        let v = verifier::build(&model.compiled, &keys.params, SolcSettings::default())?;
        let (addr, r) = self
            .chain
            .register_model(self.registry, &model.compiled, v.contract.creation.clone(), VERIFY_GAS)
            .await?;
        if !r.ok() {
            return Err(GatewayError::Onchain(cipherproof_onchain::OnchainError::Rpc {
                what: "registering the model".into(),
                reason: format!("transaction {} reverted", r.tx_hash),
            }));
        }
        self.store
            .put_chain_verifier(chain_id, &reg, id, &addr.to_string())
            .await
    }

    async fn submit_once(&self, model: &LoadedModel, job_id: &str, proof: &ProofFile, cache_dir: &Path) -> Result<Receipt> {
        self.ensure_registered(model, cache_dir).await?;
        Ok(self
            .chain
            .submit_proof(self.registry, &model.meta.model_id, request_id(job_id), proof)
            .await?)
    }

    /// Submits a job's proof, retrying RPC failures; a mined revert is final.
    pub async fn post(&self, model: &LoadedModel, job_id: &str, proof: &ProofFile, cache_dir: &Path) -> ChainRecord {
        let _one_at_a_time = self.sending.lock().await;
        let mut record = ChainRecord {
            chain_id: self.chain.chain_id as i64,
            ..ChainRecord::default()
        };
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            match self.submit_once(model, job_id, proof, cache_dir).await {
                Ok(r) => {
                    record.tx_hash = Some(r.tx_hash.to_string());
                    record.status = Some(r.status.to_string());
                    record.gas_used = r.gas_used as i64;
                    return record;
                }
                Err(e) => {
                    tracing::warn!(job_id, attempt, error = %e, "posting the proof failed");
                    record.error = Some(e.to_string());
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
        record
    }
}
