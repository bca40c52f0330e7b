//! The settlement and ERC-7857 agent flows on a real chain: the pinned anvil,
//! driven through the crate's alloy client with anvil's development accounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent};
use cipherproof_onchain::chain::Chain;
use cipherproof_onchain::contracts::{AgentNFT, ComputeSettlement, InferenceRegistry};
use cipherproof_testkit::anvil::{Anvil, DEV_KEYS};
use common::{artifacts, ownership_proof, transfer_proof};

const ETHER: u64 = 1_000_000_000_000_000_000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

struct Setup {
    deployer: Chain,
    requester: Chain,
    prover: Chain,
    oracle: PrivateKeySigner,
    registry: Address,
    settlement: Address,
    oracle_verifier: Address,
    agent: Address,
}

async fn setup(url: &str) -> Setup {
    let a = artifacts();
    let connect = |i: usize| Chain::connect(url, Some(DEV_KEYS[i]));
    let (deployer, requester, prover) = (
        connect(0).await.unwrap(),
        connect(1).await.unwrap(),
        connect(2).await.unwrap(),
    );
    let oracle: PrivateKeySigner = DEV_KEYS[3].parse().unwrap();
    let d = deployer
        .deploy_contracts(&a.contracts, oracle.address())
        .await
        .unwrap();
    let (verifier, _) = deployer
        .deploy("Halo2Verifier", a.verifier.clone())
        .await
        .unwrap();
    let register = InferenceRegistry::registerModelCall {
        modelId: a.model_id,
        verifier,
        vkHash: a.vk_hash,
        numInstances: a.instances.len() as u32,
        verifyGas: 2_000_000,
    };
    let r = deployer
        .call("register", d.registry, register.abi_encode(), 500_000)
        .await
        .unwrap();
    assert!(r.ok(), "{r:?}");
    Setup {
        deployer,
        requester,
        prover,
        oracle,
        registry: d.registry,
        settlement: d.settlement,
        oracle_verifier: d.oracle_verifier,
        agent: d.agent,
    }
}

#[test]
fn settlement_and_agent_flows_on_anvil() {
    let anvil = Anvil::start();
    rt().block_on(async {
        let s = setup(&anvil.url).await;
        let a = artifacts();
        assert!(
            s.deployer
                .is_registered(s.registry, a.model_id)
                .await
                .unwrap()
        );

        // Settlement: open with escrow, the prover's proof pays it, exactly once.
        let now = s.requester.timestamp().await.unwrap();
        let open = |deadline: u64| ComputeSettlement::openJobCall {
            modelId: a.model_id,
            inputCommitment: B256::from(a.instances[0]),
            deadline,
        };
        let r = s
            .requester
            .call_value(
                "open",
                s.settlement,
                open(now + 3600).abi_encode(),
                300_000,
                U256::from(ETHER),
            )
            .await
            .unwrap();
        assert!(r.ok(), "{r:?}");
        let opened = ComputeSettlement::JobOpened::decode_log(&r.logs[0]).unwrap();
        let job = opened.jobId;
        let fulfil = ComputeSettlement::fulfilCall {
            jobId: job,
            instances: a.instances.clone(),
            proof: a.proof.clone(),
        }
        .abi_encode();
        let before = s.prover.balance(s.prover.from).await.unwrap();
        let r = s
            .prover
            .call("fulfil", s.settlement, fulfil.clone(), 3_000_000)
            .await
            .unwrap();
        assert!(r.ok(), "{r:?}");
        let paid = ComputeSettlement::JobFulfilled::decode_log(r.logs.last().unwrap()).unwrap();
        assert_eq!(
            (paid.jobId, paid.prover, paid.fee),
            (job, s.prover.from, U256::from(ETHER))
        );
        assert!(s.prover.balance(s.prover.from).await.unwrap() > before);
        assert!(
            !s.prover
                .call("fulfil again", s.settlement, fulfil, 3_000_000)
                .await
                .unwrap()
                .ok()
        );

        // After the deadline: no fulfilment; the requester reclaims.
        let r = s
            .requester
            .call_value(
                "open",
                s.settlement,
                open(now + 600).abi_encode(),
                300_000,
                U256::from(ETHER),
            )
            .await
            .unwrap();
        let late = ComputeSettlement::JobOpened::decode_log(&r.logs[0])
            .unwrap()
            .jobId;
        s.deployer.advance_time(3600).await.unwrap();
        let fulfil = ComputeSettlement::fulfilCall {
            jobId: late,
            instances: a.instances.clone(),
            proof: a.proof.clone(),
        }
        .abi_encode();
        assert!(
            !s.prover
                .call("late fulfil", s.settlement, fulfil, 3_000_000)
                .await
                .unwrap()
                .ok()
        );
        let reclaim = ComputeSettlement::reclaimCall { jobId: late }.abi_encode();
        assert!(
            !s.prover
                .call("stranger reclaims", s.settlement, reclaim.clone(), 200_000)
                .await
                .unwrap()
                .ok()
        );
        let r = s
            .requester
            .call("reclaim", s.settlement, reclaim, 200_000)
            .await
            .unwrap();
        assert!(r.ok(), "{r:?}");
        assert!(
            r.logs
                .iter()
                .any(|l| l.topics()[0] == ComputeSettlement::JobReclaimed::SIGNATURE_HASH)
        );

        // Agent: mint with an oracle ownership proof, transfer with a re-encryption proof.
        let (chain_id, verifier) = (s.deployer.chain_id, s.oracle_verifier);
        let hashes = vec![B256::repeat_byte(1)];
        let proof = ownership_proof(&s.oracle, chain_id, verifier, &hashes, 1);
        let mint = AgentNFT::mintCall {
            modelId: a.model_id,
            proof,
            descriptions: vec!["weights".into()],
        };
        let r = s
            .requester
            .call("mint", s.agent, mint.abi_encode(), 1_000_000)
            .await
            .unwrap();
        assert!(r.ok(), "{r:?}");
        let token = U256::from(1);
        let new = vec![B256::repeat_byte(2)];
        let transfer_proof = |key: &PrivateKeySigner, nonce: u64| {
            transfer_proof(key, chain_id, verifier, &hashes, &new, nonce)
        };
        let forger: PrivateKeySigner = DEV_KEYS[2].parse().unwrap();
        let transfer = |proof: Bytes| {
            AgentNFT::transferCall {
                to: s.prover.from,
                tokenId: token,
                proof,
            }
            .abi_encode()
        };
        assert!(
            !s.requester
                .call(
                    "forged transfer",
                    s.agent,
                    transfer(transfer_proof(&forger, 2)),
                    1_000_000
                )
                .await
                .unwrap()
                .ok()
        );
        assert!(
            !s.prover
                .call(
                    "non-owner transfer",
                    s.agent,
                    transfer(transfer_proof(&s.oracle, 2)),
                    1_000_000
                )
                .await
                .unwrap()
                .ok()
        );
        let r = s
            .requester
            .call(
                "transfer",
                s.agent,
                transfer(transfer_proof(&s.oracle, 2)),
                1_000_000,
            )
            .await
            .unwrap();
        assert!(r.ok(), "{r:?}");
        assert!(
            r.logs
                .iter()
                .any(|l| l.topics()[0] == AgentNFT::PublishedSealedKey::SIGNATURE_HASH)
        );
        let owner = s
            .deployer
            .read(
                s.agent,
                AgentNFT::ownerOfCall { tokenId: token }.abi_encode(),
            )
            .await
            .unwrap();
        assert_eq!(
            AgentNFT::ownerOfCall::abi_decode_returns(&owner).unwrap(),
            s.prover.from
        );

        // The settled job's proof was verified by the registry: the agent may count it, once.
        let request = s
            .deployer
            .read(
                s.settlement,
                ComputeSettlement::requestIdOfCall { jobId: job }.abi_encode(),
            )
            .await
            .unwrap();
        let request = ComputeSettlement::requestIdOfCall::abi_decode_returns(&request).unwrap();
        let record = AgentNFT::recordInferenceCall {
            tokenId: token,
            requestId: request,
        }
        .abi_encode();
        assert!(
            s.prover
                .call("record", s.agent, record.clone(), 300_000)
                .await
                .unwrap()
                .ok()
        );
        assert!(
            !s.prover
                .call("record again", s.agent, record, 300_000)
                .await
                .unwrap()
                .ok()
        );
    });
}
