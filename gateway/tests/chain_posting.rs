//! Chain posting against a real chain (the pinned anvil): each verified proof
//! is submitted to the InferenceRegistry, the receipt lands in the job, and a
//! re-post of the same job (as after a crash) is refused as a replay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_gateway::config::ChainConfig;
use cipherproof_gateway::proto::v1::*;
use cipherproof_prover::artifact::ProofFile;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_proofs_are_posted_to_the_registry() {
    let anvil = cipherproof_testkit::anvil::Anvil::start();
    let mut cfg = config("chain");
    cfg.chain = Some(ChainConfig { rpc: anvil.url.clone(), private_key: None, registry: None });
    let gw = start(cfg).await;
    let mut c = clients(&gw, None).await;
    register(&mut c, "digits", "digits_mlp/model.onnx").await.unwrap();
    let x = input("digits_mlp/input.json");
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let id = c
            .infer
            .infer(InferRequest { model: "digits".into(), input: x.clone(), mode: InferenceMode::Proven as i32 })
            .await
            .unwrap()
            .into_inner()
            .job_id;
        let states = watch(&mut c, &id).await;
        let seen: Vec<_> = states.iter().map(|j| JobState::try_from(j.state).unwrap()).collect();
        assert!(seen.contains(&JobState::Posting), "{seen:?}");
        let last = states.last().unwrap();
        assert_eq!(JobState::try_from(last.state), Ok(JobState::Succeeded), "{last:?}");
        let chain = last.chain.clone().expect("a chain receipt");
        assert_eq!(chain.status, "success", "{chain:?}");
        assert_eq!(chain.chain_id, 31337);
        assert!(chain.tx_hash.starts_with("0x") && chain.gas_used > 200_000, "{chain:?}");
        let proof = c.jobs.get_proof(GetJobRequest { job_id: id.clone() }).await.unwrap().into_inner();
        assert_eq!(proof.tx_hash, chain.tx_hash);
        jobs.push((id, proof));
    }
    // The same job posted again (a crash between submit and recording it) is a replay: reverted, not paid twice.
    let (id, proof) = &jobs[0];
    let file: ProofFile = serde_json::from_slice(&proof.proof_file).unwrap();
    let model = gw.shared.registry.load(&proof.model_id).await.unwrap();
    let poster = gw.shared.poster.as_ref().unwrap();
    let again = poster.post(&model, id, &file, gw.shared.registry.cache_dir()).await;
    assert_eq!(again.status.as_deref(), Some("reverted"), "{again:?}");
    gw.shutdown().await.unwrap();
}
