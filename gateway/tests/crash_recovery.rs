//! A gateway killed with SIGKILL in the middle of a proof: after a restart the
//! job completes exactly once (SQLite: re-queued at start; Postgres: re-queued
//! when the dead gateway's lease runs out), and its proof verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_gateway::proto::v1::*;
use common::*;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

const MODEL: &str = "ezkl/3l_relu_conv_fc/network.onnx";
const INPUT: &str = "ezkl/3l_relu_conv_fc/input.json";

/// `cipherproof serve` on a free port with short leases; returns the process and its address.
fn serve(data: &Path, database: Option<&str>) -> (Child, String) {
    let mut extra = vec!["--job-lease-secs", "2"];
    if let Some(url) = database {
        extra.extend(["--database", url]);
    }
    serve_process(data, &extra)
}

async fn connect(addr: &str) -> Clients {
    let channel = tonic::transport::Channel::from_shared(addr.to_string()).unwrap().connect().await.unwrap();
    let key = Key(None);
    use cipherproof_gateway::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
    use cipherproof_gateway::proto::v1::{inference_service_client::InferenceServiceClient, job_service_client::JobServiceClient, model_service_client::ModelServiceClient};
    Clients {
        models: ModelServiceClient::with_interceptor(channel.clone(), key.clone()),
        infer: InferenceServiceClient::with_interceptor(channel.clone(), key.clone()),
        jobs: JobServiceClient::with_interceptor(channel.clone(), key.clone()).max_decoding_message_size(64 << 20),
        kserve: GrpcInferenceServiceClient::with_interceptor(channel.clone(), key),
        channel,
    }
}

async fn kill_during_proof_then_restart(database: Option<String>) {
    let data = scratch("crash");
    let (mut gw, addr) = serve(&data, database.as_deref());
    let mut c = connect(&addr).await;
    let x = input(INPUT);
    let mut msgs = register_messages("net", &onnx(MODEL), 1 << 16);
    if let Some(register_model_request::Part::Options(o)) = &mut msgs[0].part {
        o.calibration = vec![Sample { values: x.clone() }];
    }
    c.models.register_model(tokio_stream::iter(msgs)).await.unwrap();
    let job = c
        .infer
        .infer(InferRequest { model: "net".into(), input: x, mode: InferenceMode::Proven as i32 })
        .await
        .unwrap()
        .into_inner()
        .job_id;
    // Kill the gateway as soon as the job is being proven.
    let mut stream = c.jobs.watch_job(GetJobRequest { job_id: job.clone() }).await.unwrap().into_inner();
    loop {
        let j = stream.message().await.unwrap().expect("the job is proven");
        match JobState::try_from(j.state).unwrap() {
            JobState::Queued => continue,
            JobState::Proving => break,
            other => panic!("the proof ended ({other:?}) before the gateway could be killed"),
        }
    }
    gw.kill().unwrap(); // SIGKILL
    gw.wait().unwrap();

    let (mut gw, addr) = serve(&data, database.as_deref());
    let mut c = connect(&addr).await;
    let states = watch(&mut c, &job).await;
    let last = states.last().unwrap();
    assert_eq!(JobState::try_from(last.state), Ok(JobState::Succeeded), "{last:?}");
    assert_eq!(last.attempts, 2, "proved once before the kill, once after: {states:?}");
    // It stays done: no second completion, no third attempt.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = c.jobs.get_job(GetJobRequest { job_id: job.clone() }).await.unwrap().into_inner();
    assert_eq!((again.state, again.attempts, again.updated_unix_ms), (last.state, 2, last.updated_unix_ms));
    let proof = c.jobs.get_proof(GetJobRequest { job_id: job }).await.unwrap().into_inner();
    let file: cipherproof_prover::artifact::ProofFile = serde_json::from_slice(&proof.proof_file).unwrap();
    let compiled = cipherproof_prover::compile::load(&data.join("models").join(&file.model_id)).unwrap();
    let params = cipherproof_prover::compile::load_params(&compiled.circuit.srs, compiled.circuit.shape.k(), &data.join("cache")).unwrap();
    cipherproof_prover::verify::verify(&compiled, &params, &file).unwrap();
    gw.kill().unwrap();
    gw.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_proof_with_sqlite() {
    kill_during_proof_then_restart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_proof_with_postgres() {
    let Some(url) = common::postgres_database("crash").await else { return };
    kill_during_proof_then_restart(Some(url)).await;
}
