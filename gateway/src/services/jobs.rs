//! `JobService`: get, watch (server stream), cancel, and fetch proofs.

use super::observed;
use crate::auth::tenant;
use crate::error::{GatewayError, Result};
use crate::proto::v1::job_service_server::JobService;
use crate::proto::v1::*;
use crate::server::Shared;
use crate::store::{JobRecord, JobState as State};
use cipherproof_onchain::solidity::calldata;
use cipherproof_prover::artifact::ProofFile;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct JobApi {
    shared: Arc<Shared>,
}

impl JobApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn state_to_proto(s: State) -> JobState {
    match s {
        State::Queued => JobState::Queued,
        State::Proving => JobState::Proving,
        State::Posting => JobState::Posting,
        State::Succeeded => JobState::Succeeded,
        State::Failed => JobState::Failed,
        State::Cancelled => JobState::Cancelled,
    }
}

pub fn job_to_proto(j: &JobRecord) -> Job {
    let chain = j.chain.tx_hash.is_some() || j.chain.error.is_some();
    Job {
        job_id: j.id.clone(),
        model_id: j.model_id.clone(),
        state: state_to_proto(j.state) as i32,
        attempts: j.attempts as u32,
        error: j.error.clone().unwrap_or_default(),
        created_unix_ms: j.created_ms,
        updated_unix_ms: j.updated_ms,
        quantized_outputs: serde_json::from_str(&j.outputs).unwrap_or_default(),
        prove_seconds: j.prove_ms as f64 / 1000.0,
        chain: chain.then(|| ChainReceipt {
            chain_id: j.chain.chain_id as u64,
            tx_hash: j.chain.tx_hash.clone().unwrap_or_default(),
            status: j.chain.status.clone().unwrap_or_default(),
            gas_used: j.chain.gas_used as u64,
            error: j.chain.error.clone().unwrap_or_default(),
        }),
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(GatewayError::invalid(
            "job_id",
            format!("{id:?} is not a job id (32 hex digits)"),
        ))
    }
}

impl JobApi {
    async fn job(&self, tenant: &str, id: &str) -> Result<JobRecord> {
        check_id(id)?;
        self.shared
            .store
            .get_job(tenant, id)
            .await?
            .ok_or_else(|| GatewayError::not_found("job", id))
    }

    async fn proof(&self, tenant: &str, id: &str) -> Result<GetProofResponse> {
        let job = self.job(tenant, id).await?;
        let blob = job.proof_blob.as_deref().ok_or_else(|| {
            GatewayError::FailedPrecondition(format!(
                "job {id} has no proof yet (state {})",
                job.state.as_str()
            ))
        })?;
        let file = self.shared.blobs.get(blob)?;
        let proof: ProofFile =
            serde_json::from_slice(&file).map_err(|e| GatewayError::Corrupt {
                what: format!("proof of job {id}"),
                reason: e.to_string(),
            })?;
        let bytes = proof.proof_bytes()?;
        let instances = proof.instance_values()?;
        let column = instances.first().cloned().unwrap_or_default();
        Ok(GetProofResponse {
            job_id: job.id.clone(),
            model_id: job.model_id.clone(),
            evm_calldata: calldata(&column, &bytes),
            proof: bytes,
            instances: proof
                .instances
                .first()
                .map(|c| {
                    c.iter()
                        .map(|h| format!("0x{}", h.trim_start_matches("0x")))
                        .collect()
                })
                .unwrap_or_default(),
            tx_hash: job.chain.tx_hash.clone().unwrap_or_default(),
            proof_file: file,
        })
    }
}

type JobStream = Pin<Box<dyn Stream<Item = Result<Job, Status>> + Send>>;

#[tonic::async_trait]
impl JobService for JobApi {
    async fn get_job(&self, request: Request<GetJobRequest>) -> Result<Response<Job>, Status> {
        let tenant = tenant(&request)?.0;
        let id = request.into_inner().job_id;
        observed(&self.shared, "GetJob", async {
            Ok(job_to_proto(&self.job(&tenant, &id).await?))
        })
        .await
    }

    type WatchJobStream = JobStream;

    async fn watch_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<JobStream>, Status> {
        let tenant = tenant(&request)?.0;
        let id = request.into_inner().job_id;
        let first = self.job(&tenant, &id).await.map_err(Status::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let shared = self.shared.clone();
        let mut events = shared.events.subscribe();
        tokio::spawn(async move {
            let mut last = first;
            if tx.send(Ok(job_to_proto(&last))).await.is_err() {
                return;
            }
            while !last.state.is_final() {
                // Wake on this process's change events; poll for other gateways' workers.
                tokio::select! {
                    _ = async { loop { match events.recv().await { Ok(j) if j == id => break, Ok(_) => {}, Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break, Err(_) => std::future::pending::<()>().await } } } => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = tx.closed() => return,
                }
                let now = match shared.store.get_job(&tenant, &id).await {
                    Ok(Some(j)) => j,
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(Status::from(e))).await;
                        return;
                    }
                };
                if (now.state != last.state || now.attempts != last.attempts)
                    && tx.send(Ok(job_to_proto(&now))).await.is_err()
                {
                    return;
                }
                last = now;
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn cancel_job(&self, request: Request<GetJobRequest>) -> Result<Response<Job>, Status> {
        let tenant = tenant(&request)?.0;
        let id = request.into_inner().job_id;
        observed(&self.shared, "CancelJob", async {
            let job = self.job(&tenant, &id).await?;
            if job.state.is_final() || job.state == State::Posting {
                return Err(GatewayError::FailedPrecondition(format!(
                    "job {id} is {} and can no longer be cancelled",
                    job.state.as_str()
                )));
            }
            let job = self
                .shared
                .store
                .cancel(&tenant, &id)
                .await?
                .ok_or_else(|| GatewayError::not_found("job", &id))?;
            self.shared.job_changed(&id);
            Ok(job_to_proto(&job))
        })
        .await
    }

    async fn get_proof(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<GetProofResponse>, Status> {
        let tenant = tenant(&request)?.0;
        let id = request.into_inner().job_id;
        observed(&self.shared, "GetProof", self.proof(&tenant, &id)).await
    }
}
