//! The job store's transitions on SQLite and on the real Postgres server:
//! one claim per job, leases, stale workers shut out, re-queue after a crash.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_gateway::store::{ChainRecord, JobRecord, JobState, JobStore, MAX_ATTEMPTS, now_ms};
use std::time::Duration;

fn job(id: &str, tenant: &str) -> JobRecord {
    JobRecord {
        id: id.into(),
        tenant: tenant.into(),
        model_id: "m".repeat(64),
        state: JobState::Queued,
        input: "[1,2,3]".into(),
        outputs: "[4]".into(),
        attempts: 0,
        error: None,
        proof_blob: None,
        prove_ms: 0,
        chain: ChainRecord::default(),
        created_ms: now_ms(),
        updated_ms: now_ms(),
    }
}

async fn exercise(store: JobStore) {
    let lease = Duration::from_secs(60);
    store.enqueue(&job("a", "t1"), 10).await.unwrap();
    store.enqueue(&job("b", "t1"), 10).await.unwrap();
    assert_eq!(store.queued().await.unwrap(), 2);
    assert!(store.enqueue(&job("c", "t1"), 2).await.is_err(), "queue bound");

    // Concurrent claims never hand one job to two owners.
    let (x, y, z) = tokio::join!(store.claim("w1", lease), store.claim("w2", lease), store.claim("w3", lease));
    let claimed: Vec<JobRecord> = [x, y, z].into_iter().filter_map(|r| r.unwrap()).collect();
    let mut ids: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), claimed.len(), "a job was claimed twice");
    while store.claim("w4", lease).await.unwrap().is_some() {}
    let a = store.get_job("t1", "a").await.unwrap().unwrap();
    assert_eq!((a.state, a.attempts), (JobState::Proving, 1));
    assert!(store.get_job("t2", "a").await.unwrap().is_none(), "tenant isolation");

    // Only the owner may finish; a finished job cannot be finished again.
    for intruder in ["nobody", "w9"] {
        assert!(!store.proved("a", intruder, "blob", 5, JobState::Succeeded).await.unwrap());
    }
    let owner = ["w1", "w2", "w3", "w4"];
    let mut done = 0;
    for o in owner {
        if store.proved("a", o, &"ab".repeat(32), 5, JobState::Succeeded).await.unwrap() {
            done += 1;
        }
    }
    assert_eq!(done, 1, "exactly one owner completes a job");
    for o in owner {
        assert!(!store.proved("a", o, "again", 5, JobState::Succeeded).await.unwrap());
    }
    let a = store.get_job("t1", "a").await.unwrap().unwrap();
    assert_eq!(a.state, JobState::Succeeded);
    assert_eq!(a.proof_blob.as_deref(), Some("ab".repeat(32).as_str()));

    // A cancelled job cannot be completed by the worker that held it.
    let b = store.cancel("t1", "b").await.unwrap().unwrap();
    assert_eq!(b.state, JobState::Cancelled);
    for o in owner {
        assert!(!store.proved("b", o, "late", 5, JobState::Succeeded).await.unwrap());
    }

    // A dead worker's expired lease puts the job back; the dead worker cannot finish it.
    store.enqueue(&job("d", "t1"), 10).await.unwrap();
    let d = store.claim("dead", Duration::from_millis(1)).await.unwrap().unwrap();
    assert_eq!(d.id, "d");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store.requeue_expired(false).await.unwrap() >= 1);
    assert!(!store.renew("d", "dead", lease).await.unwrap());
    assert!(!store.proved("d", "dead", "x", 1, JobState::Succeeded).await.unwrap());
    let d = store.claim("alive", lease).await.unwrap().unwrap();
    assert_eq!((d.id.as_str(), d.attempts), ("d", 2));
    assert!(store.renew("d", "alive", lease).await.unwrap());
    assert!(store.proved("d", "alive", "y", 1, JobState::Posting).await.unwrap());
    // Posting is resumed by another worker after a crash, without a new attempt.
    assert_eq!(store.claim("other", lease).await.unwrap(), None, "posting job still leased");
    store.requeue_expired(true).await.unwrap();
    let p = store.claim("other", lease).await.unwrap().unwrap();
    assert_eq!((p.state, p.attempts), (JobState::Posting, 2));
    let receipt = ChainRecord { chain_id: 31337, tx_hash: Some("0xab".into()), status: Some("success".into()), gas_used: 1, error: None };
    assert!(store.posted("d", "other", &receipt).await.unwrap());
    assert_eq!(store.get_job("t1", "d").await.unwrap().unwrap().chain, receipt);

    // A job that dies on every attempt ends failed.
    store.enqueue(&job("e", "t1"), 10).await.unwrap();
    for _ in 0..MAX_ATTEMPTS {
        store.claim("crashy", Duration::from_millis(1)).await.unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        store.requeue_expired(false).await.unwrap();
    }
    let e = store.get_job("t1", "e").await.unwrap().unwrap();
    assert_eq!(e.state, JobState::Failed);
    assert!(e.error.unwrap().contains("gave up"));

    // Re-registering a name points it at the new model; other tenants never see it.
    use cipherproof_gateway::store::ModelRecord;
    for id in ["a".repeat(64), "b".repeat(64)] {
        let m = ModelRecord { tenant: "t1".into(), name: "m".into(), model_id: id, meta: "{}".into(), created_ms: now_ms() };
        store.put_model(&m).await.unwrap();
    }
    assert_eq!(store.find_model("t1", "m").await.unwrap().unwrap().model_id, "b".repeat(64));
    assert_eq!(store.list_models("t1").await.unwrap().len(), 1);
    assert!(store.find_model("t2", "m").await.unwrap().is_none());
    for blob in ["x", "y"] {
        store.put_fhe_key("t1", "k", "m", blob).await.unwrap();
        store.put_chain_verifier(1, "r", "m", blob).await.unwrap();
    }
    assert_eq!(store.fhe_key("t1", "k").await.unwrap(), Some(("m".into(), "y".into())));
    assert_eq!(store.fhe_key("t2", "k").await.unwrap(), None);
    assert_eq!(store.chain_verifier(1, "r", "m").await.unwrap().as_deref(), Some("y"));
    studies(&store).await;
    store.close().await;
}

/// Studies: registration once, idempotent record files, one share per party.
async fn studies(store: &JobStore) {
    use cipherproof_gateway::store::{AggregateRecord, Inserted, StudyRecord};
    let s = StudyRecord {
        study_id: "s1".into(),
        tenant: "coord".into(),
        name: "icu".into(),
        members: vec!["a".into(), "b".into()],
        public_blob: "p".into(),
    };
    assert_eq!(store.put_study(&s).await.unwrap(), Inserted::New);
    assert_eq!(store.put_study(&s).await.unwrap(), Inserted::Duplicate);
    let taken = StudyRecord { tenant: "other".into(), ..s.clone() };
    assert!(store.put_study(&taken).await.is_err(), "a study id is taken once");
    let got = store.study("s1").await.unwrap().unwrap();
    assert_eq!(got, s);
    assert!(got.speaks_for("b", 1) && !got.speaks_for("a", 1) && got.visible_to("coord") && !got.visible_to("x"));
    assert_eq!(store.put_study_records("s1", 0, "r0", 3).await.unwrap(), Inserted::New);
    assert_eq!(store.put_study_records("s1", 0, "r0", 3).await.unwrap(), Inserted::Duplicate);
    assert_eq!(store.put_study_records("s1", 1, "r1", 2).await.unwrap(), Inserted::New);
    let mut files = store.study_records("s1").await.unwrap();
    files.sort();
    assert_eq!(files, vec![(0, "r0".to_string(), 3), (1, "r1".to_string(), 2)]);
    let agg = AggregateRecord { aggregate_id: "g1".into(), study_id: "s1".into(), records: 5, blob: "g".into() };
    store.put_aggregate(&agg).await.unwrap();
    assert_eq!(store.aggregate("g1").await.unwrap(), Some(agg));
    assert_eq!(store.put_study_share("g1", 0, "d0").await.unwrap(), Inserted::New);
    assert_eq!(store.put_study_share("g1", 0, "d0").await.unwrap(), Inserted::Duplicate);
    assert!(store.put_study_share("g1", 0, "d0-again").await.is_err(), "one share per party");
    assert_eq!(store.study_shares("g1").await.unwrap(), vec![(0, "d0".to_string())]);
}

#[tokio::test]
async fn sqlite_store() {
    let dir = common::scratch("store");
    let store = JobStore::connect(&format!("sqlite://{}?mode=rwc", dir.join("jobs.sqlite").display())).await.unwrap();
    exercise(store).await;
}

#[tokio::test]
async fn postgres_store() {
    let Some(url) = common::postgres_database("store").await else { return };
    exercise(JobStore::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn bad_database_urls_are_refused() {
    let e = JobStore::connect("mysql://x").await.unwrap_err();
    assert!(e.to_string().contains("sqlite:// or postgres://"), "{e}");
}
