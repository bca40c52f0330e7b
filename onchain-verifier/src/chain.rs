//! Any JSON-RPC chain through alloy: deploy the contracts and a model's
//! verifier, register models, submit proofs, with receipts as results.
//!
//! The signing key comes from the caller (flag or environment); on chain id
//! 31337 (anvil) it defaults to anvil's well-known first development account.
//! Keys are never printed or logged.

use crate::contracts::{Contracts, InferenceRegistry};
use crate::error::{OnchainError, Result};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue};
use serde::{Deserialize, Serialize};

/// anvil's chain id, where the development key is the default.
pub const ANVIL_CHAIN_ID: u64 = 31337;

/// anvil's first development account (publicly known; never use it elsewhere).
const ANVIL_DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// A connected, signing client.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    pub chain_id: u64,
    pub from: Address,
}

/// What a mined transaction did.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub tx_hash: B256,
    pub status: &'static str,
    pub gas_used: u64,
    pub contract_address: Option<Address>,
    /// The events the transaction emitted.
    #[serde(skip)]
    pub logs: Vec<Log>,
}

impl Receipt {
    pub fn ok(&self) -> bool {
        self.status == "success"
    }

    fn from(r: &TransactionReceipt) -> Self {
        Self {
            tx_hash: r.transaction_hash,
            status: if r.status() { "success" } else { "reverted" },
            gas_used: r.gas_used,
            contract_address: r.contract_address,
            logs: r.inner.logs().iter().map(|l| l.inner.clone()).collect(),
        }
    }
}

/// Addresses of one deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deployment {
    pub registry: Address,
    pub settlement: Address,
    pub oracle_verifier: Address,
    pub agent: Address,
}

fn rpc_err(what: &str) -> impl FnOnce(String) -> OnchainError + '_ {
    move |reason| OnchainError::Rpc {
        what: what.to_string(),
        reason,
    }
}

impl Chain {
    /// Connects to `rpc`, signing with `key` (hex) or, on anvil only, the development key.
    pub async fn connect(rpc: &str, key: Option<&str>) -> Result<Self> {
        let url: alloy::transports::http::reqwest::Url = rpc
            .parse()
            .map_err(|e| rpc_err("parsing the RPC URL")(format!("{e}")))?;
        let probe = ProviderBuilder::new().connect_http(url.clone());
        let chain_id = probe
            .get_chain_id()
            .await
            .map_err(|e| rpc_err("reading the chain id")(e.to_string()))?;
        let key = match key {
            Some(k) => k.to_string(),
            None if chain_id == ANVIL_CHAIN_ID => ANVIL_DEV_KEY.to_string(),
            None => {
                return Err(OnchainError::MissingKey { chain_id });
            }
        };
        let signer: PrivateKeySigner = key.trim().parse().map_err(|_| OnchainError::BadKey)?;
        let from = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        Ok(Self {
            provider,
            chain_id,
            from,
        })
    }

    async fn send(&self, what: &str, tx: TransactionRequest) -> Result<Receipt> {
        let pending = self
            .provider
            .send_transaction(tx.with_from(self.from))
            .await
            .map_err(|e| rpc_err(what)(e.to_string()))?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| rpc_err(what)(e.to_string()))?;
        Ok(Receipt::from(&receipt))
    }

    /// Deploys `creation` code; fails unless it is mined successfully.
    pub async fn deploy(&self, name: &str, creation: Vec<u8>) -> Result<(Address, Receipt)> {
        let what = format!("deploying {name}");
        let r = self
            .send(
                &what,
                TransactionRequest::default().with_deploy_code(creation),
            )
            .await?;
        match (r.ok(), r.contract_address) {
            (true, Some(a)) => Ok((a, r)),
            _ => Err(OnchainError::Deploy {
                contract: name.into(),
                reason: format!("transaction {} {}", r.tx_hash, r.status),
            }),
        }
    }

    /// Deploys the registry, settlement, oracle data verifier (trusting `oracle`) and agent contracts.
    pub async fn deploy_contracts(&self, c: &Contracts, oracle: Address) -> Result<Deployment> {
        let with = |code: &[u8], args: Vec<u8>| [code, &args].concat();
        let (registry, _) = self
            .deploy("InferenceRegistry", c.registry.creation.clone())
            .await?;
        let (settlement, _) = self
            .deploy(
                "ComputeSettlement",
                with(&c.settlement.creation, registry.abi_encode()),
            )
            .await?;
        let (oracle_verifier, _) = self
            .deploy(
                "OracleDataVerifier",
                with(&c.oracle_verifier.creation, oracle.abi_encode()),
            )
            .await?;
        let (agent, _) = self
            .deploy(
                "AgentNFT",
                with(
                    &c.agent.creation,
                    (oracle_verifier, registry).abi_encode_params(),
                ),
            )
            .await?;
        Ok(Deployment {
            registry,
            settlement,
            oracle_verifier,
            agent,
        })
    }

    /// Sends a call with a fixed gas limit (no estimation), so that a rejected call is
    /// mined as a reverted transaction with a hash and a receipt.
    pub async fn call(&self, what: &str, to: Address, data: Vec<u8>, gas: u64) -> Result<Receipt> {
        self.call_value(what, to, data, gas, U256::ZERO).await
    }

    /// [`Chain::call`] sending `value` wei.
    pub async fn call_value(
        &self,
        what: &str,
        to: Address,
        data: Vec<u8>,
        gas: u64,
        value: U256,
    ) -> Result<Receipt> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data))
            .with_gas_limit(gas)
            .with_value(value);
        self.send(what, tx).await
    }

    /// `eth_call`: the return data of a read-only call.
    pub async fn read(&self, to: Address, data: Vec<u8>) -> Result<Bytes> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(Bytes::from(data));
        self.provider
            .call(tx)
            .await
            .map_err(|e| rpc_err("eth_call")(e.to_string()))
    }

    /// Timestamp of the latest block.
    pub async fn timestamp(&self) -> Result<u64> {
        let block = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| rpc_err("reading the latest block")(e.to_string()))?
            .ok_or_else(|| rpc_err("reading the latest block")("no block".into()))?;
        Ok(block.header.timestamp)
    }

    /// Development chains only (anvil): moves the clock forward and mines a block.
    pub async fn advance_time(&self, seconds: u64) -> Result<()> {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .map_err(|e| rpc_err("evm_increaseTime")(e.to_string()))?;
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), Vec::<u64>::new())
            .await
            .map_err(|e| rpc_err("evm_mine")(e.to_string()))?;
        Ok(())
    }

    /// Reads `modelId`'s registration, if any.
    pub async fn is_registered(&self, registry: Address, model_id: B256) -> Result<bool> {
        let data = InferenceRegistry::isRegisteredCall { modelId: model_id }.abi_encode();
        let out = self.read(registry, data).await?;
        InferenceRegistry::isRegisteredCall::abi_decode_returns(&out)
            .map_err(|e| rpc_err("reading the registry")(e.to_string()))
    }

    pub async fn balance(&self, who: Address) -> Result<U256> {
        self.provider
            .get_balance(who)
            .await
            .map_err(|e| rpc_err("reading a balance")(e.to_string()))
    }
}

/// A model id (64 hex digits) as the registry's `bytes32`.
pub fn model_word(model_id: &str) -> Result<B256> {
    hex::decode(model_id)
        .ok()
        .filter(|b| b.len() == 32)
        .map(|b| B256::from_slice(&b))
        .ok_or_else(|| OnchainError::InvalidProof(format!("model id {model_id:?} is not 32 bytes of hex")))
}

/// Gas limit of a registration (registry bookkeeping only).
pub const REGISTER_GAS: u64 = 500_000;
/// Gas limit of a proof submission (the registry bounds the verifier's share).
pub const SUBMIT_GAS: u64 = 6_000_000;

impl Chain {
    /// Deploys a compiled model's verifier (`creation` code) and registers it in `registry`.
    pub async fn register_model(
        &self,
        registry: Address,
        model: &cipherproof_prover::compile::Compiled,
        creation: Vec<u8>,
        verify_gas: u64,
    ) -> Result<(Address, Receipt)> {
        let (verifier, _) = self.deploy("Halo2Verifier", creation).await?;
        let vk = cipherproof_prover::keys::vk_bytes(&model.vk);
        let call = InferenceRegistry::registerModelCall {
            modelId: model_word(&model.circuit.model_id)?,
            verifier,
            vkHash: alloy::primitives::keccak256(&vk),
            numInstances: u32::try_from(model.num_instances())
                .map_err(|_| OnchainError::InvalidProof("too many public instances".into()))?,
            verifyGas: verify_gas,
        };
        let r = self
            .call("registering the model", registry, call.abi_encode(), REGISTER_GAS)
            .await?;
        Ok((verifier, r))
    }

    /// Submits `proof` of `model_id` to `registry` as request `request_id`.
    pub async fn submit_proof(
        &self,
        registry: Address,
        model_id: &str,
        request_id: U256,
        proof: &cipherproof_prover::artifact::ProofFile,
    ) -> Result<Receipt> {
        let instances: Vec<U256> = proof
            .instance_values()?
            .first()
            .map(|col| col.iter().map(crate::solidity::instance_word).collect())
            .unwrap_or_default();
        let call = InferenceRegistry::submitInferenceCall {
            modelId: model_word(model_id)?,
            requestId: request_id,
            instances,
            proof: proof.proof_bytes()?.into(),
        };
        self.call("submitting the proof", registry, call.abi_encode(), SUBMIT_GAS)
            .await
    }
}
