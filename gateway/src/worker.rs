//! Proof workers. Each claims the oldest queued job, renews its lease while it
//! proves (a killed gateway's jobs go back to the queue when the lease runs
//! out), proves, verifies natively, stores the proof file content-addressed,
//! and, with chain posting on, submits it to the registry.

use crate::engines::Proved;
use crate::error::{GatewayError, Result};
use crate::server::Shared;
use crate::store::{JobRecord, JobState};
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::verify;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Runs one worker until `stop` turns true.
pub async fn run(shared: Arc<Shared>, index: usize, mut stop: watch::Receiver<bool>) {
    let owner = format!("{}/{index}", shared.instance);
    loop {
        if *stop.borrow() {
            return;
        }
        let claimed = shared.store.claim(&owner, shared.config.job_lease).await;
        match claimed {
            Ok(Some(job)) => {
                shared.job_changed(&job.id);
                let id = job.id.clone();
                if let Err(e) = work(&shared, &owner, job).await {
                    tracing::warn!(job_id = %id, error = %e, "job failed");
                    let _ = shared.store.fail(&id, &owner, &e.to_string()).await;
                }
                shared.job_changed(&id);
            }
            Ok(None) => {
                tokio::select! {
                    _ = shared.new_job.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Renews the lease of `id` every third of the lease until dropped.
fn keep_lease(shared: &Arc<Shared>, id: &str, owner: &str) -> tokio::task::JoinHandle<()> {
    let (shared, id, owner) = (shared.clone(), id.to_string(), owner.to_string());
    tokio::spawn(async move {
        let lease = shared.config.job_lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            match shared.store.renew(&id, &owner, lease).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(job_id = %id, error = %e, "renewing a lease failed"),
            }
        }
    })
}

async fn work(shared: &Arc<Shared>, owner: &str, job: JobRecord) -> Result<()> {
    let lease = keep_lease(shared, &job.id, owner);
    let result = match job.state {
        JobState::Posting => post(shared, owner, &job).await,
        _ => prove_job(shared, owner, &job).await,
    };
    lease.abort();
    result
}

async fn prove_job(shared: &Arc<Shared>, owner: &str, job: &JobRecord) -> Result<()> {
    let model = shared.registry.load(&job.model_id).await?;
    let input: Vec<i64> = serde_json::from_str(&job.input).map_err(|e| GatewayError::Corrupt {
        what: format!("input of job {}", job.id),
        reason: e.to_string(),
    })?;
    let cache = shared.registry.cache_dir().to_path_buf();
    let m = model.clone();
    let on = shared.clone();
    let started = Instant::now();
    let proved = tokio::task::spawn_blocking(move || -> Result<Proved> {
        let keys = m.keys(&cache)?;
        let proved = on.engines.prove(&m.compiled, &keys, &input)?;
        verify::verify(&m.compiled, &keys.params, &proved.proof)?;
        Ok(proved)
    })
    .await
    .map_err(|e| GatewayError::Internal(format!("prover task: {e}")))?;
    let Proved {
        proof,
        engine,
        gpu_failed,
    } = match proved {
        Ok(p) => p,
        Err(e) => {
            shared.metrics.proof_failures.with_label_values(&["prove"]).inc();
            return Err(e);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    shared.metrics.proof(&job.model_id, engine, seconds);
    if gpu_failed {
        shared.metrics.gpu_fallbacks.inc();
    }
    tracing::debug!(job_id = %job.id, engine, seconds, "proved");
    let bytes = serde_json::to_vec(&proof).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let blob = shared.blobs.put(&bytes)?;
    let next = if shared.poster.is_some() {
        JobState::Posting
    } else {
        JobState::Succeeded
    };
    let kept = shared
        .store
        .proved(&job.id, owner, &blob, (seconds * 1000.0) as i64, next)
        .await?;
    if !kept {
        tracing::info!(job_id = %job.id, "proof discarded: the job was cancelled or taken back");
        return Ok(());
    }
    shared.job_changed(&job.id);
    if next == JobState::Posting {
        let mut posted = job.clone();
        posted.proof_blob = Some(blob);
        return post(shared, owner, &posted).await;
    }
    Ok(())
}

async fn post(shared: &Arc<Shared>, owner: &str, job: &JobRecord) -> Result<()> {
    let Some(poster) = &shared.poster else {
        // Posting was switched off since the job was proven: it ends with its proof.
        shared.store.posted(&job.id, owner, &Default::default()).await?;
        return Ok(());
    };
    let blob = job.proof_blob.as_deref().ok_or_else(|| GatewayError::Corrupt {
        what: format!("job {}", job.id),
        reason: "posting without a proof".into(),
    })?;
    let proof: ProofFile = serde_json::from_slice(&shared.blobs.get(blob)?).map_err(|e| GatewayError::Corrupt {
        what: format!("proof of job {}", job.id),
        reason: e.to_string(),
    })?;
    let model = shared.registry.load(&job.model_id).await?;
    let record = poster
        .post(&model, &job.id, &proof, shared.registry.cache_dir())
        .await;
    if record.error.is_some() && record.tx_hash.is_none() {
        shared.metrics.proof_failures.with_label_values(&["post"]).inc();
    }
    shared.store.posted(&job.id, owner, &record).await?;
    Ok(())
}
