//! The durable job store: one schema on SQLite (the default: one file in the
//! data directory, one gateway) or Postgres (several gateways and workers).
//!
//! A proof job moves `queued → proving → (posting →) succeeded`, or to
//! `failed` / `cancelled`. A worker claims a job with a lease it renews while
//! it works; a job whose lease ran out (its gateway was killed) goes back to
//! the queue. Every transition names the lease owner and the state it leaves,
//! so a stale worker can never complete a job twice.

use crate::error::{GatewayError, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod studies;
pub use studies::{AggregateRecord, Inserted, StudyRecord};

/// Attempts after which a job that keeps dying (e.g. its gateway is killed every time) fails.
pub const MAX_ATTEMPTS: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Proving,
    Posting,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Proving => "proving",
            Self::Posting => "posting",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "proving" => Self::Proving,
            "posting" => Self::Posting,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(GatewayError::Corrupt {
                    what: "job state".into(),
                    reason: format!("unknown state {other:?}"),
                });
            }
        })
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// The chain receipt of a posted proof.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChainRecord {
    pub chain_id: i64,
    pub tx_hash: Option<String>,
    pub status: Option<String>,
    pub gas_used: i64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub tenant: String,
    pub model_id: String,
    pub state: JobState,
    /// The quantized input, JSON.
    pub input: String,
    /// The quantized outputs (computed at submission), JSON.
    pub outputs: String,
    pub attempts: i64,
    pub error: Option<String>,
    /// Hash of the proof file in the blob store.
    pub proof_blob: Option<String>,
    pub prove_ms: i64,
    pub chain: ChainRecord,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A model registered by a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub tenant: String,
    pub name: String,
    pub model_id: String,
    /// The model's metadata (registry::ModelMeta), JSON.
    pub meta: String,
    pub created_ms: i64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const SCHEMA: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS cp_models (
        tenant TEXT NOT NULL, name TEXT NOT NULL, model_id TEXT NOT NULL,
        meta TEXT NOT NULL, created_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, name))",
    "CREATE TABLE IF NOT EXISTS cp_jobs (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, model_id TEXT NOT NULL,
        state TEXT NOT NULL, input TEXT NOT NULL, outputs TEXT NOT NULL,
        attempts BIGINT NOT NULL DEFAULT 0, error TEXT,
        lease_owner TEXT, lease_until BIGINT,
        proof_blob TEXT, prove_ms BIGINT NOT NULL DEFAULT 0,
        chain_id BIGINT NOT NULL DEFAULT 0, chain_tx TEXT, chain_status TEXT,
        chain_gas BIGINT NOT NULL DEFAULT 0, chain_error TEXT,
        created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cp_jobs_state ON cp_jobs (state, created_ms)",
    "CREATE TABLE IF NOT EXISTS cp_chain_models (
        chain_id BIGINT NOT NULL, registry TEXT NOT NULL, model_id TEXT NOT NULL,
        verifier TEXT NOT NULL, PRIMARY KEY (chain_id, registry, model_id))",
    "CREATE TABLE IF NOT EXISTS cp_fhe_keys (
        tenant TEXT NOT NULL, key_id TEXT NOT NULL, model_id TEXT NOT NULL,
        blob TEXT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (tenant, key_id))",
];

const JOB_COLUMNS: &str = "id, tenant, model_id, state, input, outputs, attempts, error, proof_blob, \
     prove_ms, chain_id, chain_tx, chain_status, chain_gas, chain_error, created_ms, updated_ms";

#[derive(Debug, Clone)]
pub struct JobStore {
    pool: AnyPool,
    sqlite: bool,
}

fn job_from(row: &AnyRow) -> Result<JobRecord> {
    let state: String = row.try_get("state")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        model_id: row.try_get("model_id")?,
        state: JobState::parse(&state)?,
        input: row.try_get("input")?,
        outputs: row.try_get("outputs")?,
        attempts: row.try_get("attempts")?,
        error: row.try_get("error")?,
        proof_blob: row.try_get("proof_blob")?,
        prove_ms: row.try_get("prove_ms")?,
        chain: ChainRecord {
            chain_id: row.try_get("chain_id")?,
            tx_hash: row.try_get("chain_tx")?,
            status: row.try_get("chain_status")?,
            gas_used: row.try_get("chain_gas")?,
            error: row.try_get("chain_error")?,
        },
        created_ms: row.try_get("created_ms")?,
        updated_ms: row.try_get("updated_ms")?,
    })
}

fn model_from(row: &AnyRow) -> Result<ModelRecord> {
    Ok(ModelRecord {
        tenant: row.try_get("tenant")?,
        name: row.try_get("name")?,
        model_id: row.try_get("model_id")?,
        meta: row.try_get("meta")?,
        created_ms: row.try_get("created_ms")?,
    })
}

impl JobStore {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) and creates the schema if missing.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if !sqlite && !url.starts_with("postgres:") && !url.starts_with("postgresql:") {
            return Err(GatewayError::Config(format!(
                "database URL must start with sqlite:// or postgres:// (got {url:?})"
            )));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        for stmt in SCHEMA.iter().chain(&studies::STUDY_SCHEMA) {
            sqlx::query(stmt).execute(&pool).await?;
        }
        Ok(Self { pool, sqlite })
    }

    /// Whether this is the single-gateway SQLite store.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ------------------------------------------------------------ models

    /// Records a tenant's model under `name`; re-registering a name points it at the new model.
    pub async fn put_model(&self, m: &ModelRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO cp_models (tenant, name, model_id, meta, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, name) DO UPDATE SET
                 model_id = excluded.model_id, meta = excluded.meta, created_ms = excluded.created_ms",
        )
        .bind(&m.tenant)
        .bind(&m.name)
        .bind(&m.model_id)
        .bind(&m.meta)
        .bind(m.created_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A tenant's model by name or model id.
    pub async fn find_model(&self, tenant: &str, name_or_id: &str) -> Result<Option<ModelRecord>> {
        let row = sqlx::query(
            "SELECT tenant, name, model_id, meta, created_ms FROM cp_models
             WHERE tenant = $1 AND (name = $2 OR model_id = $2) ORDER BY created_ms DESC LIMIT 1",
        )
        .bind(tenant)
        .bind(name_or_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(model_from).transpose()
    }

    pub async fn list_models(&self, tenant: &str) -> Result<Vec<ModelRecord>> {
        let rows = sqlx::query(
            "SELECT tenant, name, model_id, meta, created_ms FROM cp_models WHERE tenant = $1 ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(model_from).collect()
    }

    // ------------------------------------------------------------ jobs

    /// Queues a job unless `max_queue` jobs already wait (then RESOURCE_EXHAUSTED).
    pub async fn enqueue(&self, job: &JobRecord, max_queue: usize) -> Result<()> {
        let waiting = self.queued().await?;
        if waiting >= max_queue as i64 {
            return Err(GatewayError::Exhausted(format!(
                "the proof queue is full ({waiting} jobs waiting); retry later"
            )));
        }
        sqlx::query(
            "INSERT INTO cp_jobs (id, tenant, model_id, state, input, outputs, attempts, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
        )
        .bind(&job.id)
        .bind(&job.tenant)
        .bind(&job.model_id)
        .bind(JobState::Queued.as_str())
        .bind(&job.input)
        .bind(&job.outputs)
        .bind(job.created_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Jobs waiting for a worker.
    pub async fn queued(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM cp_jobs WHERE state = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// A tenant's job (None for unknown ids and other tenants' jobs alike).
    pub async fn get_job(&self, tenant: &str, id: &str) -> Result<Option<JobRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM cp_jobs WHERE id = $1 AND tenant = $2"
        ))
        .bind(id)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// Claims the oldest queued job (or a proven job whose posting was interrupted) for `owner`.
    pub async fn claim(&self, owner: &str, lease: Duration) -> Result<Option<JobRecord>> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "UPDATE cp_jobs SET
                 state = CASE WHEN state = 'queued' THEN 'proving' ELSE state END,
                 attempts = attempts + CASE WHEN state = 'queued' THEN 1 ELSE 0 END,
                 lease_owner = $1, lease_until = $2, updated_ms = $3
             WHERE id = (SELECT id FROM cp_jobs
                         WHERE state = 'queued' OR (state = 'posting' AND lease_owner IS NULL)
                         ORDER BY created_ms, id LIMIT 1)
               AND (state = 'queued' OR (state = 'posting' AND lease_owner IS NULL))
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// Renews `owner`'s lease; false when the job is no longer its own (cancelled, re-queued).
    pub async fn renew(&self, id: &str, owner: &str, lease: Duration) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cp_jobs SET lease_until = $1
             WHERE id = $2 AND lease_owner = $3 AND state IN ('proving', 'posting')",
        )
        .bind(now_ms() + lease.as_millis() as i64)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the proof of a job `owner` holds and moves it on to `next`
    /// (posting or succeeded); false if the job was cancelled or taken back meanwhile.
    pub async fn proved(
        &self,
        id: &str,
        owner: &str,
        proof_blob: &str,
        prove_ms: i64,
        next: JobState,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cp_jobs SET state = $1, proof_blob = $2, prove_ms = $3, updated_ms = $4
             WHERE id = $5 AND lease_owner = $6 AND state = 'proving'",
        )
        .bind(next.as_str())
        .bind(proof_blob)
        .bind(prove_ms)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the chain outcome of a posting job and ends it.
    pub async fn posted(&self, id: &str, owner: &str, chain: &ChainRecord) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cp_jobs SET state = 'succeeded', chain_id = $1, chain_tx = $2, chain_status = $3,
                 chain_gas = $4, chain_error = $5, updated_ms = $6
             WHERE id = $7 AND lease_owner = $8 AND state = 'posting'",
        )
        .bind(chain.chain_id)
        .bind(&chain.tx_hash)
        .bind(&chain.status)
        .bind(chain.gas_used)
        .bind(&chain.error)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Ends a job `owner` holds as failed.
    pub async fn fail(&self, id: &str, owner: &str, error: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE cp_jobs SET state = 'failed', error = $1, updated_ms = $2
             WHERE id = $3 AND lease_owner = $4 AND state IN ('proving', 'posting')",
        )
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Cancels a tenant's queued or proving job; returns the job as it is afterwards.
    pub async fn cancel(&self, tenant: &str, id: &str) -> Result<Option<JobRecord>> {
        sqlx::query(
            "UPDATE cp_jobs SET state = 'cancelled', updated_ms = $1
             WHERE id = $2 AND tenant = $3 AND state IN ('queued', 'proving')",
        )
        .bind(now_ms())
        .bind(id)
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        self.get_job(tenant, id).await
    }

    /// Puts back jobs whose workers stopped renewing their leases: proving
    /// jobs to the queue (or to failed after [`MAX_ATTEMPTS`]), posting jobs up
    /// for the next worker. With `all`, every unfinished job regardless of its
    /// lease (a SQLite store at start: it has only ever one gateway).
    pub async fn requeue_expired(&self, all: bool) -> Result<u64> {
        let cutoff = if all { i64::MAX } else { now_ms() };
        let now = now_ms();
        let failed = sqlx::query(
            "UPDATE cp_jobs SET state = 'failed', updated_ms = $1,
                 error = 'gave up: the gateway stopped during every attempt'
             WHERE state = 'proving' AND lease_until < $2 AND attempts >= $3",
        )
        .bind(now)
        .bind(cutoff)
        .bind(MAX_ATTEMPTS)
        .execute(&self.pool)
        .await?;
        let proving = sqlx::query(
            "UPDATE cp_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_ms = $1
             WHERE state = 'proving' AND lease_until < $2",
        )
        .bind(now)
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        let posting = sqlx::query(
            "UPDATE cp_jobs SET lease_owner = NULL, lease_until = NULL, updated_ms = $1
             WHERE state = 'posting' AND lease_owner IS NOT NULL AND lease_until < $2",
        )
        .bind(now)
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        Ok(failed.rows_affected() + proving.rows_affected() + posting.rows_affected())
    }

    // ------------------------------------------------------------ chain

    pub async fn chain_verifier(&self, chain_id: i64, registry: &str, model_id: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT verifier FROM cp_chain_models WHERE chain_id = $1 AND registry = $2 AND model_id = $3",
        )
        .bind(chain_id)
        .bind(registry)
        .bind(model_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("verifier")).transpose()?)
    }

    pub async fn put_chain_verifier(
        &self,
        chain_id: i64,
        registry: &str,
        model_id: &str,
        verifier: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO cp_chain_models (chain_id, registry, model_id, verifier) VALUES ($1, $2, $3, $4)
             ON CONFLICT (chain_id, registry, model_id) DO UPDATE SET verifier = excluded.verifier",
        )
        .bind(chain_id)
        .bind(registry)
        .bind(model_id)
        .bind(verifier)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ------------------------------------------------------------ FHE server keys

    /// Binds an uploaded TFHE server key (stored as `blob`) to `tenant`.
    pub async fn put_fhe_key(&self, tenant: &str, key_id: &str, model_id: &str, blob: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO cp_fhe_keys (tenant, key_id, model_id, blob, created_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, key_id) DO UPDATE SET
                 model_id = excluded.model_id, blob = excluded.blob, created_ms = excluded.created_ms",
        )
        .bind(tenant)
        .bind(key_id)
        .bind(model_id)
        .bind(blob)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A tenant's server key: (FHE model id, blob), None for other tenants' keys too.
    pub async fn fhe_key(&self, tenant: &str, key_id: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT model_id, blob FROM cp_fhe_keys WHERE tenant = $1 AND key_id = $2")
            .bind(tenant)
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("model_id")?, r.try_get("blob")?))).transpose()
    }
}
