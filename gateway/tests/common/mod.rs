//! A gateway in the test process (SQLite in a temp dir unless told otherwise)
//! and tonic clients for it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_gateway::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use cipherproof_gateway::proto::v1::inference_service_client::InferenceServiceClient;
use cipherproof_gateway::proto::v1::job_service_client::JobServiceClient;
use cipherproof_gateway::proto::v1::model_service_client::ModelServiceClient;
use cipherproof_gateway::proto::v1::register_model_request::Part;
use cipherproof_gateway::proto::v1::*;
use cipherproof_gateway::{Gateway, GatewayConfig, RunningGateway};
use std::path::PathBuf;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "cipherproof-gw-{name}-{}-{:x}",
        std::process::id(),
        rand_u64()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// A config on a free port with a shared proving-key/SRS cache across tests.
pub fn config(name: &str) -> GatewayConfig {
    let mut c = GatewayConfig::new(scratch(name));
    c.listen = "127.0.0.1:0".parse().unwrap();
    c
}

/// `cipherproof serve` as a process on a free port with `data` as its data
/// directory (plus `extra` flags); returns the process and its http:// address.
pub fn serve_process(data: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_cipherproof"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "warn,halo2_base=error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (child, format!("http://{addr}"))
}

pub async fn start(config: GatewayConfig) -> RunningGateway {
    Gateway::start(config).await.expect("gateway starts")
}

#[derive(Clone)]
pub struct Key(pub Option<MetadataValue<Ascii>>);

impl Interceptor for Key {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type Svc = InterceptedService<Channel, Key>;

pub struct Clients {
    pub models: ModelServiceClient<Svc>,
    pub infer: InferenceServiceClient<Svc>,
    pub jobs: JobServiceClient<Svc>,
    pub kserve: GrpcInferenceServiceClient<Svc>,
    pub channel: Channel,
}

pub async fn clients(gw: &RunningGateway, api_key: Option<&str>) -> Clients {
    let channel = Channel::from_shared(format!("http://{}", gw.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let key = Key(api_key.map(|k| format!("Bearer {k}").parse().unwrap()));
    Clients {
        models: ModelServiceClient::with_interceptor(channel.clone(), key.clone()),
        infer: InferenceServiceClient::with_interceptor(channel.clone(), key.clone()),
        jobs: JobServiceClient::with_interceptor(channel.clone(), key.clone())
            .max_decoding_message_size(64 << 20),
        kserve: GrpcInferenceServiceClient::with_interceptor(channel.clone(), key),
        channel,
    }
}

pub fn onnx(rel: &str) -> Vec<u8> {
    std::fs::read(cipherproof_testkit::fixture(rel)).unwrap()
}

pub fn register_messages(name: &str, onnx: &[u8], chunk: usize) -> Vec<RegisterModelRequest> {
    let mut m = vec![RegisterModelRequest {
        part: Some(Part::Options(RegisterModelOptions {
            name: name.into(),
            ..Default::default()
        })),
    }];
    m.extend(onnx.chunks(chunk).map(|c| RegisterModelRequest {
        part: Some(Part::OnnxChunk(c.to_vec())),
    }));
    m
}

pub async fn register(c: &mut Clients, name: &str, rel: &str) -> Result<ModelInfo, tonic::Status> {
    let msgs = register_messages(name, &onnx(rel), 4096);
    c.models
        .register_model(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner().model.unwrap())
}

/// The first sample of a fixture's EZKL-format input.
pub fn input(rel: &str) -> Vec<f32> {
    cipherproof_testkit::samples(&cipherproof_testkit::fixture(rel), "input_data")
        .swap_remove(0)
}

/// Follows a job until it ends; returns every state seen.
pub async fn watch(c: &mut Clients, id: &str) -> Vec<Job> {
    let mut stream = c
        .jobs
        .watch_job(GetJobRequest { job_id: id.into() })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    while let Some(j) = tokio::time::timeout_at(deadline, stream.message())
        .await
        .expect("job ends within 5 minutes")
        .unwrap()
    {
        seen.push(j);
    }
    seen
}

/// The BadRequest field violations of a status.
pub fn violations(s: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    s.get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The Postgres server of the machine (`CIPHERPROOF_TEST_POSTGRES`, default
/// postgres://postgres@127.0.0.1:5432/test): creates a fresh database and
/// returns its URL. Without a server: skips (None), except in CI, where it fails.
pub async fn postgres_database(tag: &str) -> Option<String> {
    use sqlx::Connection;
    let base = std::env::var("CIPHERPROOF_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = match sqlx::PgConnection::connect(&base).await {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: no Postgres at {base} ({e}); set CIPHERPROOF_TEST_POSTGRES");
            return None;
        }
        Err(e) => panic!("CI needs Postgres at {base}: {e}"),
    };
    let db = format!("cp_{tag}_{}_{:x}", std::process::id(), rand_u64() & 0xffff_ffff);
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut conn).await.unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{db}"))
}
