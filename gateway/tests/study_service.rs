//! `StudyService` end to end through tonic: two hospitals (two tenants) pool
//! encrypted records under a study whose setup ran outside the gateway; the
//! result exists only once both have returned their decryption shares, equals
//! the plaintext statistics exactly, and survives a gateway restart. Tenants
//! outside the study see nothing; a party cannot act for another.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_fhe::study::{self, KeyShare, Schema, StudyPublic};
use cipherproof_gateway::proto::v1::study_service_client::StudyServiceClient;
use cipherproof_gateway::proto::v1::submit_records_request::Part;
use cipherproof_gateway::proto::v1::*;
use common::*;
use tonic::Code;

type Client = StudyServiceClient<Svc>;

const KEYS: &str = r#"{"tenants": {"coordinator": ["coordinator-key-0001"], "hospital-a": ["hospital-a-key-0001"],
    "hospital-b": ["hospital-b-key-0001"], "outsider": ["outsider-key-00001"]}}"#;

async fn client(gw: &cipherproof_gateway::RunningGateway, key: &str) -> Client {
    let c = clients(gw, Some(key)).await;
    let k = Key(Some(format!("Bearer {key}").parse().unwrap()));
    StudyServiceClient::with_interceptor(c.channel, k).max_decoding_message_size(64 << 20)
}

fn schema() -> Schema {
    serde_json::from_str(
        r#"{"fields": [{"kind": "numeric", "name": "age", "max": 120},
                       {"kind": "categorical", "name": "sex", "categories": 2},
                       {"kind": "categorical", "name": "outcome", "categories": 2}],
            "cohort_field": "sex", "max_records": 1000}"#,
    )
    .unwrap()
}

fn upload(study_id: &str, party: u32, bytes: &[u8]) -> Vec<SubmitRecordsRequest> {
    let mut m = vec![SubmitRecordsRequest {
        part: Some(Part::Options(SubmitRecordsOptions { study_id: study_id.into(), party })),
    }];
    m.extend(bytes.chunks(1 << 20).map(|c| SubmitRecordsRequest { part: Some(Part::Chunk(c.to_vec())) }));
    m
}

async fn submit(c: &mut Client, study_id: &str, party: u32, bytes: &[u8]) -> Result<SubmitRecordsResponse, tonic::Status> {
    c.submit_records(tokio_stream::iter(upload(study_id, party, bytes))).await.map(|r| r.into_inner())
}

fn share_of(public: &StudyPublic, key: &KeyShare, aggregate: &[u8]) -> Vec<u8> {
    let agg = study::Aggregate::from_bytes(aggregate).unwrap();
    study::partial_decrypt(public, key, &agg).unwrap().to_bytes().unwrap()
}

async fn share(c: &mut Client, aggregate_id: &str, party: u32, share: Vec<u8>) -> Result<u32, tonic::Status> {
    c.submit_decryption_share(SubmitDecryptionShareRequest { aggregate_id: aggregate_id.into(), party, share })
        .await
        .map(|r| r.into_inner().shares)
}

async fn result(c: &mut Client, aggregate_id: &str) -> Result<GetResultResponse, tonic::Status> {
    c.get_result(GetResultRequest { aggregate_id: aggregate_id.into() }).await.map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hospitals_pool_encrypted_records() {
    let mut cfg = config("study");
    let keys = cfg.data_dir.join("keys.json");
    std::fs::write(&keys, KEYS).unwrap();
    cfg.api_keys = Some(keys);
    let gw = start(cfg.clone()).await;
    let mut coordinator = client(&gw, "coordinator-key-0001").await;
    let mut a = client(&gw, "hospital-a-key-0001").await;
    let mut b = client(&gw, "hospital-b-key-0001").await;
    let mut outsider = client(&gw, "outsider-key-00001").await;

    // Setup on the coordinator's machine; the gateway gets the public file only.
    let schema = schema();
    let (public, key_shares) = study::setup(2, &schema).unwrap();
    let public_bytes = public.to_bytes().unwrap();
    let members = vec!["hospital-a".to_string(), "hospital-b".to_string()];
    let e = coordinator
        .create_study(CreateStudyRequest { name: "s".into(), study_public: public_bytes.clone(), members: members[..1].to_vec() })
        .await
        .unwrap_err();
    assert_eq!(violations(&e)[0].0, "members");
    let created = coordinator
        .create_study(CreateStudyRequest { name: "icu-outcomes".into(), study_public: public_bytes.clone(), members: members.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.study_id, public.study_id);
    assert_eq!(created.slot_names, schema.slot_names().unwrap());
    // Registering it again is a no-op; another tenant cannot take its id.
    coordinator
        .create_study(CreateStudyRequest { name: "icu-outcomes".into(), study_public: public_bytes.clone(), members: members.clone() })
        .await
        .unwrap();
    let e = outsider
        .create_study(CreateStudyRequest { name: "mine".into(), study_public: public_bytes.clone(), members: vec![] })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
    let e = outsider.get_study(GetStudyRequest { study_id: public.study_id.clone() }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let fetched = b.get_study(GetStudyRequest { study_id: public.study_id.clone() }).await.unwrap().into_inner();
    assert_eq!(fetched.study_public, public_bytes);

    // Records: age, sex, outcome.
    let records_a: Vec<Vec<u32>> = vec![vec![40, 0, 1], vec![60, 1, 0], vec![35, 1, 1]];
    let records_b: Vec<Vec<u32>> = vec![vec![30, 1, 1], vec![70, 0, 0]];
    let enc_a = study::encrypt_records(&public, 0, &records_a).unwrap().to_bytes().unwrap();
    let enc_b = study::encrypt_records(&public, 1, &records_b).unwrap().to_bytes().unwrap();
    let r = submit(&mut a, &public.study_id, 0, &enc_a).await.unwrap();
    assert_eq!((r.party_records, r.study_records, r.duplicate), (3, 3, false));
    let r = submit(&mut a, &public.study_id, 0, &enc_a).await.unwrap();
    assert_eq!((r.party_records, r.study_records, r.duplicate), (3, 3, true), "a retry counts nothing twice");
    let e = submit(&mut a, &public.study_id, 1, &enc_b).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "hospital A cannot submit as party 1: {e:?}");
    let e = submit(&mut outsider, &public.study_id, 1, &enc_b).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = submit(&mut b, &public.study_id, 1, &enc_b[..enc_b.len() / 2]).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "chunk", "a truncated file: {e:?}");
    let mut flipped = enc_b.clone();
    let name = flipped.windows(12).position(|w| w == b"StudyRecords").expect("the file names its type");
    flipped[name] ^= 0x55;
    let e = submit(&mut b, &public.study_id, 1, &flipped).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "a corrupted header: {e:?}");
    let e = submit(&mut b, &public.study_id, 1, &public_bytes).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "chunk", "a study file sent as records: {e:?}");
    let r = submit(&mut b, &public.study_id, 1, &enc_b).await.unwrap();
    assert_eq!((r.party_records, r.study_records), (2, 5));

    // The aggregate, and no result before every share is in.
    let agg = b.aggregate(AggregateRequest { study_id: public.study_id.clone() }).await.unwrap().into_inner();
    assert_eq!(agg.records, 5);
    let e = outsider.get_aggregate(GetAggregateRequest { aggregate_id: agg.aggregate_id.clone() }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let fetched = a.get_aggregate(GetAggregateRequest { aggregate_id: agg.aggregate_id.clone() }).await.unwrap().into_inner();
    assert_eq!(fetched.aggregate, agg.aggregate);
    let e = result(&mut coordinator, &agg.aggregate_id).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let share_a = share_of(&public, &key_shares[0], &agg.aggregate);
    let share_b = share_of(&public, &key_shares[1], &agg.aggregate);
    let e = share(&mut b, &agg.aggregate_id, 0, share_a.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = share(&mut a, &agg.aggregate_id, 0, share_b.clone()).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "share", "party 1's share sent as party 0's: {e:?}");
    assert_eq!(share(&mut a, &agg.aggregate_id, 0, share_a.clone()).await.unwrap(), 1);
    assert_eq!(share(&mut a, &agg.aggregate_id, 0, share_a.clone()).await.unwrap(), 1, "the same share again is a no-op");
    let second = share_of(&public, &key_shares[0], &agg.aggregate);
    let e = share(&mut a, &agg.aggregate_id, 0, second).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists, "a second smudged share would leak: {e:?}");
    let e = result(&mut a, &agg.aggregate_id).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("parties 1"), "{}", e.message());
    assert_eq!(share(&mut b, &agg.aggregate_id, 1, share_b).await.unwrap(), 2);

    // The result equals the plaintext slot sums exactly, and survives a restart.
    let mut truth = vec![0i64; schema.slots().unwrap()];
    for r in records_a.iter().chain(&records_b) {
        for (t, v) in truth.iter_mut().zip(schema.encode(r).unwrap()) {
            *t += v;
        }
    }
    let got = result(&mut coordinator, &agg.aggregate_id).await.unwrap();
    assert_eq!(got.values, truth);
    assert_eq!(got.records, 5);
    assert_eq!(got.slot_names, created.slot_names);
    gw.shutdown().await.unwrap();
    let gw = start(cfg).await;
    let mut a = client(&gw, "hospital-a-key-0001").await;
    assert_eq!(result(&mut a, &agg.aggregate_id).await.unwrap().values, truth);
    let e = result(&mut client(&gw, "outsider-key-00001").await, &agg.aggregate_id).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    gw.shutdown().await.unwrap();
}

/// Benchmark scale through the gateway: 3 parties × 10,000 records × 8 fields,
/// each party's 7 MB file streamed over gRPC (run with --ignored; prints timings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark scale: cargo test -p cipherproof-gateway --test study_service -- --ignored --nocapture"]
async fn three_parties_ten_thousand_records_each_over_grpc() {
    use std::time::Instant;
    let gw = start(config("study-bench")).await;
    let c = clients(&gw, None).await;
    let mut c = StudyServiceClient::with_interceptor(c.channel, Key(None)).max_decoding_message_size(64 << 20);
    let schema: Schema = serde_json::from_str(
        r#"{"fields": [{"kind": "numeric", "name": "age", "max": 120}, {"kind": "categorical", "name": "sex", "categories": 2},
                       {"kind": "categorical", "name": "smoker", "categories": 2}, {"kind": "numeric", "name": "bmi", "max": 60},
                       {"kind": "numeric", "name": "systolic", "max": 250}, {"kind": "categorical", "name": "diabetes", "categories": 2},
                       {"kind": "categorical", "name": "region", "categories": 4}, {"kind": "categorical", "name": "outcome", "categories": 2}],
            "cohort_field": "sex", "max_records": 30000}"#,
    )
    .unwrap();
    let (public, key_shares) = study::setup(3, &schema).unwrap();
    let study_id = c
        .create_study(CreateStudyRequest { name: "bench".into(), study_public: public.to_bytes().unwrap(), members: vec![] })
        .await
        .unwrap()
        .into_inner()
        .study_id;
    // Record i of party p: a fixed spread over every field's range.
    let record = |p: usize, i: usize| -> Vec<u32> {
        let v = (i * 7919 + p * 104_729) as u32;
        vec![v % 121, v % 2, (v / 3) % 2, v % 61, v % 251, (v / 5) % 2, v % 4, (v / 7) % 2]
    };
    let mut truth = vec![0i64; schema.slots().unwrap()];
    let (mut encrypt_s, mut submit_s, mut mb) = (0.0, 0.0, 0usize);
    for p in 0..3 {
        let rows: Vec<Vec<u32>> = (0..10_000).map(|i| record(p, i)).collect();
        for r in &rows {
            for (t, v) in truth.iter_mut().zip(schema.encode(r).unwrap()) {
                *t += v;
            }
        }
        let t = Instant::now();
        let bytes = study::encrypt_records(&public, p as u32, &rows).unwrap().to_bytes().unwrap();
        encrypt_s += t.elapsed().as_secs_f64();
        mb = bytes.len() >> 20;
        let t = Instant::now();
        submit(&mut c, &study_id, p as u32, &bytes).await.unwrap();
        submit_s += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let agg = c.aggregate(AggregateRequest { study_id: study_id.clone() }).await.unwrap().into_inner();
    let aggregate_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for (p, key) in key_shares.iter().enumerate() {
        share(&mut c, &agg.aggregate_id, p as u32, share_of(&public, key, &agg.aggregate)).await.unwrap();
    }
    let got = result(&mut c, &agg.aggregate_id).await.unwrap();
    let decrypt_s = t.elapsed().as_secs_f64();
    assert_eq!(got.values, truth);
    assert_eq!(got.records, 30_000);
    println!(
        "study over gRPC: 3 parties x 10000 records x 8 fields: encrypt {:.2}s per party ({mb} MB), SubmitRecords {:.2}s per party, \
         Aggregate {aggregate_s:.2}s, 3 partial decryptions + SubmitDecryptionShare x3 + GetResult {decrypt_s:.3}s",
        encrypt_s / 3.0,
        submit_s / 3.0
    );
    gw.shutdown().await.unwrap();
}
