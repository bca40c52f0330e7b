//! The registry, settlement and ERC-7857 agent contracts in revm, with a real
//! proof of a hashed-input model and its generated verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::artifacts;

use alloy::signers::local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use cipherproof_onchain::contracts::{AgentNFT, ComputeSettlement, InferenceRegistry};
use cipherproof_onchain::evm::{CallOutcome, DEFAULT_SENDER, LocalEvm};
use revm::primitives::{Address, B256, Bytes, U256, address, keccak256};

const ALICE: Address = address!("0x000000000000000000000000000000000000a11c");
const BOB: Address = address!("0x0000000000000000000000000000000000000b0b");
/// revm's default chain id (what `block.chainid` returns in `LocalEvm`).
const REVM_CHAIN_ID: u64 = 1;
const ETHER: u64 = 1_000_000_000_000_000_000;

struct Chain {
    evm: LocalEvm,
    registry: Address,
    settlement: Address,
    agent: Address,
    oracle_verifier: Address,
    oracle: PrivateKeySigner,
    model_id: B256,
    instances: Vec<U256>,
    proof: Bytes,
}

fn deploy(evm: &mut LocalEvm, name: &str, creation: &[u8], args: Vec<u8>) -> Address {
    let mut code = creation.to_vec();
    code.extend(args);
    evm.deploy(name, code).unwrap().0
}

/// A fresh chain with the verifier and every contract deployed and the model registered.
fn chain() -> Chain {
    let a = artifacts();
    let k = &a.contracts;
    let mut evm = LocalEvm::new();
    let oracle = PrivateKeySigner::from_slice(&[7u8; 32]).unwrap();
    let verifier_addr = evm.deploy("Verifier", a.verifier.clone()).unwrap().0;
    let registry = deploy(&mut evm, "InferenceRegistry", &k.registry.creation, vec![]);
    let settlement = deploy(
        &mut evm,
        "ComputeSettlement",
        &k.settlement.creation,
        registry.abi_encode(),
    );
    let oracle_verifier = deploy(
        &mut evm,
        "OracleDataVerifier",
        &k.oracle_verifier.creation,
        oracle.address().abi_encode(),
    );
    let agent = deploy(
        &mut evm,
        "AgentNFT",
        &k.agent.creation,
        (oracle_verifier, registry).abi_encode_params(),
    );
    let register = InferenceRegistry::registerModelCall {
        modelId: a.model_id,
        verifier: verifier_addr,
        vkHash: a.vk_hash,
        numInstances: a.instances.len() as u32,
        verifyGas: 2_000_000,
    };
    let out = evm.call(registry, register.abi_encode()).unwrap();
    assert!(out.success, "{out:?}");
    for who in [ALICE, BOB] {
        evm.fund(who, U256::from(10 * ETHER));
    }
    Chain {
        evm,
        registry,
        settlement,
        agent,
        oracle_verifier,
        oracle,
        model_id: a.model_id,
        instances: a.instances.clone(),
        proof: a.proof.clone(),
    }
}

fn submit(c: &mut Chain, from: Address, request: u64, proof: &Bytes) -> CallOutcome {
    let call = InferenceRegistry::submitInferenceCall {
        modelId: c.model_id,
        requestId: U256::from(request),
        instances: c.instances.clone(),
        proof: proof.clone(),
    };
    c.evm
        .call_from(from, c.registry, call.abi_encode(), U256::ZERO)
        .unwrap()
}

#[test]
fn registry_verifies_records_and_refuses_replays_and_bad_proofs() {
    let mut c = chain();
    let proof = c.proof.clone();
    let out = submit(&mut c, ALICE, 1, &proof);
    assert!(out.success, "{out:?}");
    let event = InferenceRegistry::InferenceVerified::decode_log_data(&out.logs[0].data).unwrap();
    assert_eq!(event.requestId, U256::from(1));
    let commitment = keccak256(
        c.instances
            .iter()
            .flat_map(|w| w.to_be_bytes::<32>())
            .collect::<Vec<_>>(),
    );
    assert_eq!(event.outputCommitment, commitment);
    // Replay of the request id.
    assert!(!submit(&mut c, BOB, 1, &proof).success);
    // A flipped byte: rejected, and the verifier's gas stays bounded.
    let mut bad = proof.to_vec();
    bad[40] ^= 1;
    let out = submit(&mut c, ALICE, 2, &bad.into());
    assert!(!out.success);
    assert!(out.gas_used < 2_300_000, "{}", out.gas_used);
    // A changed output instance.
    let last = c.instances.len() - 1;
    c.instances[last] += U256::from(1);
    assert!(!submit(&mut c, ALICE, 3, &proof).success);
}

#[test]
fn only_the_owner_changes_a_model_and_ids_register_once() {
    let mut c = chain();
    let model = InferenceRegistry::getModelCall {
        modelId: c.model_id,
    };
    let out = c.evm.call(c.registry, model.abi_encode()).unwrap();
    let m = InferenceRegistry::getModelCall::abi_decode_returns(&out.output).unwrap();
    assert_eq!(m.owner, DEFAULT_SENDER);
    let update = InferenceRegistry::updateModelCall {
        modelId: c.model_id,
        verifier: m.verifier,
        vkHash: B256::ZERO,
        numInstances: m.numInstances,
        verifyGas: m.verifyGas,
        newOwner: BOB,
    };
    assert!(
        !c.evm
            .call_from(BOB, c.registry, update.abi_encode(), U256::ZERO)
            .unwrap()
            .success
    );
    let again = InferenceRegistry::registerModelCall {
        modelId: c.model_id,
        verifier: m.verifier,
        vkHash: B256::ZERO,
        numInstances: 1,
        verifyGas: 1_000_000,
    };
    assert!(
        !c.evm
            .call_from(BOB, c.registry, again.abi_encode(), U256::ZERO)
            .unwrap()
            .success
    );
    assert!(c.evm.call(c.registry, update.abi_encode()).unwrap().success);
}

fn open_job(c: &mut Chain, input: B256, fee: u64, deadline: u64) -> U256 {
    let call = ComputeSettlement::openJobCall {
        modelId: c.model_id,
        inputCommitment: input,
        deadline,
    };
    let out = c
        .evm
        .call_from(ALICE, c.settlement, call.abi_encode(), U256::from(fee))
        .unwrap();
    assert!(out.success, "{out:?}");
    ComputeSettlement::openJobCall::abi_decode_returns(&out.output).unwrap()
}

fn fulfil(c: &mut Chain, job: U256) -> CallOutcome {
    let call = ComputeSettlement::fulfilCall {
        jobId: job,
        instances: c.instances.clone(),
        proof: c.proof.clone(),
    };
    c.evm
        .call_from(BOB, c.settlement, call.abi_encode(), U256::ZERO)
        .unwrap()
}

#[test]
fn settlement_pays_the_prover_or_refunds_after_the_deadline() {
    let mut c = chain();
    let input = B256::from(c.instances[0]);
    let now = c.evm.timestamp();
    let bob_before = c.evm.balance(BOB);
    let job = open_job(&mut c, input, ETHER, now + 3600);
    let out = fulfil(&mut c, job);
    assert!(out.success, "{out:?}");
    assert_eq!(c.evm.balance(BOB), bob_before + U256::from(ETHER));
    assert!(!fulfil(&mut c, job).success, "paid twice");

    // A job for another input is not fulfilled by this proof.
    let other = open_job(&mut c, B256::repeat_byte(9), ETHER, now + 3600);
    assert!(!fulfil(&mut c, other).success);

    // After the deadline: no fulfilment; only the requester reclaims.
    let late = open_job(&mut c, input, ETHER, now + 60);
    c.evm.set_timestamp(now + 61);
    assert!(!fulfil(&mut c, late).success);
    let reclaim = ComputeSettlement::reclaimCall { jobId: late }.abi_encode();
    assert!(
        !c.evm
            .call_from(BOB, c.settlement, reclaim.clone(), U256::ZERO)
            .unwrap()
            .success
    );
    let alice_before = c.evm.balance(ALICE);
    assert!(
        c.evm
            .call_from(ALICE, c.settlement, reclaim.clone(), U256::ZERO)
            .unwrap()
            .success
    );
    assert_eq!(c.evm.balance(ALICE), alice_before + U256::from(ETHER));
    assert!(
        !c.evm
            .call_from(ALICE, c.settlement, reclaim, U256::ZERO)
            .unwrap()
            .success
    );
}

fn ownership_proof(c: &Chain, key: &PrivateKeySigner, hashes: &[B256], nonce: u64) -> Bytes {
    common::ownership_proof(key, REVM_CHAIN_ID, c.oracle_verifier, hashes, nonce)
}

fn transfer_proof(
    c: &Chain,
    key: &PrivateKeySigner,
    old: &[B256],
    new: &[B256],
    nonce: u64,
) -> Bytes {
    common::transfer_proof(key, REVM_CHAIN_ID, c.oracle_verifier, old, new, nonce)
}

#[test]
fn agents_transfer_with_oracle_proofs_and_count_only_verified_inferences() {
    let mut c = chain();
    let hashes = vec![B256::repeat_byte(1), B256::repeat_byte(2)];
    let mint = AgentNFT::mintCall {
        modelId: c.model_id,
        proof: ownership_proof(&c, &c.oracle.clone(), &hashes, 1),
        descriptions: vec!["weights".into(), "memory".into()],
    };
    let out = c
        .evm
        .call_from(ALICE, c.agent, mint.abi_encode(), U256::ZERO)
        .unwrap();
    assert!(out.success, "{out:?}");
    let token = AgentNFT::mintCall::abi_decode_returns(&out.output).unwrap();

    let new = vec![B256::repeat_byte(3), B256::repeat_byte(4)];
    let forger = PrivateKeySigner::from_slice(&[8u8; 32]).unwrap();
    let transfer = |proof: Bytes| {
        AgentNFT::transferCall {
            to: BOB,
            tokenId: token,
            proof,
        }
        .abi_encode()
    };
    // A signature by anyone but the oracle, a non-owner, a replayed nonce, stale hashes: rejected.
    let forged = transfer(transfer_proof(&c, &forger, &hashes, &new, 2));
    assert!(
        !c.evm
            .call_from(ALICE, c.agent, forged, U256::ZERO)
            .unwrap()
            .success
    );
    let good = transfer(transfer_proof(&c, &c.oracle.clone(), &hashes, &new, 2));
    assert!(
        !c.evm
            .call_from(BOB, c.agent, good.clone(), U256::ZERO)
            .unwrap()
            .success
    );
    let replay = transfer(transfer_proof(&c, &c.oracle.clone(), &hashes, &new, 1));
    assert!(
        !c.evm
            .call_from(ALICE, c.agent, replay, U256::ZERO)
            .unwrap()
            .success
    );
    let stale = transfer(transfer_proof(&c, &c.oracle.clone(), &new, &hashes, 3));
    assert!(
        !c.evm
            .call_from(ALICE, c.agent, stale, U256::ZERO)
            .unwrap()
            .success
    );
    let out = c.evm.call_from(ALICE, c.agent, good, U256::ZERO).unwrap();
    assert!(out.success, "{out:?}");
    assert!(
        out.logs
            .iter()
            .any(|l| l.topics()[0] == AgentNFT::PublishedSealedKey::SIGNATURE_HASH)
    );
    let owner = c
        .evm
        .call(
            c.agent,
            AgentNFT::ownerOfCall { tokenId: token }.abi_encode(),
        )
        .unwrap();
    assert_eq!(
        AgentNFT::ownerOfCall::abi_decode_returns(&owner.output).unwrap(),
        BOB
    );

    // Inference results count only once the registry verified them, and once each.
    let record = AgentNFT::recordInferenceCall {
        tokenId: token,
        requestId: U256::from(7),
    }
    .abi_encode();
    assert!(!c.evm.call(c.agent, record.clone()).unwrap().success);
    let proof = c.proof.clone();
    assert!(submit(&mut c, BOB, 7, &proof).success);
    assert!(c.evm.call(c.agent, record.clone()).unwrap().success);
    assert!(!c.evm.call(c.agent, record).unwrap().success);
    let n = c
        .evm
        .call(
            c.agent,
            AgentNFT::inferencesOfCall { tokenId: token }.abi_encode(),
        )
        .unwrap();
    assert_eq!(
        AgentNFT::inferencesOfCall::abi_decode_returns(&n.output).unwrap(),
        U256::from(1)
    );
}
