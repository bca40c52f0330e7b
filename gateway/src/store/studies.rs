//! Multi-party studies in the job store: the study (its public file and which
//! tenant speaks for each party), the parties' encrypted-record files, the
//! aggregates computed from them, and the parties' decryption shares. Every
//! ciphertext lives in the blob store; rows hold their hashes.

use super::{JobStore, now_ms};
use crate::error::{GatewayError, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

pub(super) const STUDY_SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS cp_studies (
        study_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL,
        parties BIGINT NOT NULL, members TEXT NOT NULL, public_blob TEXT NOT NULL,
        created_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cp_study_records (
        study_id TEXT NOT NULL, party BIGINT NOT NULL, blob TEXT NOT NULL,
        records BIGINT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (study_id, blob))",
    "CREATE TABLE IF NOT EXISTS cp_study_aggregates (
        aggregate_id TEXT PRIMARY KEY, study_id TEXT NOT NULL, records BIGINT NOT NULL,
        blob TEXT NOT NULL, created_ms BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS cp_study_shares (
        aggregate_id TEXT NOT NULL, party BIGINT NOT NULL, blob TEXT NOT NULL,
        created_ms BIGINT NOT NULL, PRIMARY KEY (aggregate_id, party))",
];

#[derive(Debug, Clone, PartialEq)]
pub struct StudyRecord {
    pub study_id: String,
    /// The tenant that registered the study.
    pub tenant: String,
    pub name: String,
    /// The tenant of each party, in party order.
    pub members: Vec<String>,
    pub public_blob: String,
}

impl StudyRecord {
    /// Whether `tenant` may see the study: its creator or one of its parties.
    pub fn visible_to(&self, tenant: &str) -> bool {
        self.tenant == tenant || self.members.iter().any(|m| m == tenant)
    }

    /// Whether `tenant` speaks for `party`.
    pub fn speaks_for(&self, tenant: &str, party: u32) -> bool {
        self.members.get(party as usize).is_some_and(|m| m == tenant)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRecord {
    pub aggregate_id: String,
    pub study_id: String,
    pub records: u64,
    pub blob: String,
}

/// What a second insert of the same key met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// The same row was there already (an idempotent retry).
    Duplicate,
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The `party` column of a row.
fn party_of(row: &AnyRow) -> Result<u32> {
    let party: i64 = row.try_get("party")?;
    u32::try_from(party).map_err(|_| GatewayError::Corrupt {
        what: "study party".into(),
        reason: format!("party {party}"),
    })
}

impl JobStore {
    /// Registers a study; registering the same study again by its creator is a no-op,
    /// anything else under an existing id is refused.
    pub async fn put_study(&self, s: &StudyRecord) -> Result<Inserted> {
        let members = serde_json::to_string(&s.members).map_err(|e| GatewayError::Internal(e.to_string()))?;
        let done = sqlx::query(
            "INSERT INTO cp_studies (study_id, tenant, name, parties, members, public_blob, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (study_id) DO NOTHING",
        )
        .bind(&s.study_id)
        .bind(&s.tenant)
        .bind(&s.name)
        .bind(s.members.len() as i64)
        .bind(&members)
        .bind(&s.public_blob)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Inserted::New);
        }
        match self.study(&s.study_id).await? {
            Some(old) if old == *s => Ok(Inserted::Duplicate),
            _ => Err(GatewayError::Conflict(format!("study {} is already registered", s.study_id))),
        }
    }

    /// A study by id, whoever may see it (callers check [`StudyRecord::visible_to`]).
    pub async fn study(&self, study_id: &str) -> Result<Option<StudyRecord>> {
        let row = sqlx::query("SELECT study_id, tenant, name, members, public_blob FROM cp_studies WHERE study_id = $1")
            .bind(study_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let members: String = r.try_get("members")?;
            Ok(StudyRecord {
                study_id: r.try_get("study_id")?,
                tenant: r.try_get("tenant")?,
                name: r.try_get("name")?,
                members: serde_json::from_str(&members).map_err(|e| GatewayError::Corrupt {
                    what: "study members".into(),
                    reason: e.to_string(),
                })?,
                public_blob: r.try_get("public_blob")?,
            })
        })
        .transpose()
    }

    /// Adds a party's encrypted-records file (stored as `blob`); the same file twice is a no-op.
    pub async fn put_study_records(&self, study_id: &str, party: u32, blob: &str, records: u64) -> Result<Inserted> {
        let done = sqlx::query(
            "INSERT INTO cp_study_records (study_id, party, blob, records, created_ms)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (study_id, blob) DO NOTHING",
        )
        .bind(study_id)
        .bind(i64::from(party))
        .bind(blob)
        .bind(records as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(if done.rows_affected() == 1 { Inserted::New } else { Inserted::Duplicate })
    }

    /// Every records file of a study: (party, blob, records), in submission order.
    pub async fn study_records(&self, study_id: &str) -> Result<Vec<(u32, String, u64)>> {
        let rows = sqlx::query(
            "SELECT party, blob, records FROM cp_study_records WHERE study_id = $1 ORDER BY created_ms, blob",
        )
        .bind(study_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    party_of(r)?,
                    r.try_get("blob")?,
                    count(r.try_get("records")?),
                ))
            })
            .collect()
    }

    pub async fn put_aggregate(&self, a: &AggregateRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO cp_study_aggregates (aggregate_id, study_id, records, blob, created_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&a.aggregate_id)
        .bind(&a.study_id)
        .bind(a.records as i64)
        .bind(&a.blob)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn aggregate(&self, aggregate_id: &str) -> Result<Option<AggregateRecord>> {
        let row = sqlx::query("SELECT aggregate_id, study_id, records, blob FROM cp_study_aggregates WHERE aggregate_id = $1")
            .bind(aggregate_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(AggregateRecord {
                aggregate_id: r.try_get("aggregate_id")?,
                study_id: r.try_get("study_id")?,
                records: count(r.try_get("records")?),
                blob: r.try_get("blob")?,
            })
        })
        .transpose()
    }

    /// Records a party's decryption share of an aggregate: once. The same share again is
    /// a no-op; a different one is refused (two smudged shares leak more than one).
    pub async fn put_study_share(&self, aggregate_id: &str, party: u32, blob: &str) -> Result<Inserted> {
        let done = sqlx::query(
            "INSERT INTO cp_study_shares (aggregate_id, party, blob, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (aggregate_id, party) DO NOTHING",
        )
        .bind(aggregate_id)
        .bind(i64::from(party))
        .bind(blob)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Inserted::New);
        }
        let shares = self.study_shares(aggregate_id).await?;
        if shares.iter().any(|(p, b)| *p == party && b == blob) {
            Ok(Inserted::Duplicate)
        } else {
            Err(GatewayError::Conflict(format!(
                "party {party} already sent a different decryption share of aggregate {aggregate_id}"
            )))
        }
    }

    /// The decryption shares of an aggregate: (party, blob).
    pub async fn study_shares(&self, aggregate_id: &str) -> Result<Vec<(u32, String)>> {
        let rows = sqlx::query("SELECT party, blob FROM cp_study_shares WHERE aggregate_id = $1 ORDER BY party")
            .bind(aggregate_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((party_of(r)?, r.try_get("blob")?))
            })
            .collect()
    }
}
