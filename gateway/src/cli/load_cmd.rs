//! `cipherproof client load`: a bounded load generator for a running gateway
//! (loopback benchmarks): N concurrent clients send Infer requests for a fixed
//! time or count, and it reports throughput, latency percentiles and how many
//! requests were shed with RESOURCE_EXHAUSTED.

use super::client_cmd::Conn;
use super::inputs::read_single;
use anyhow::{Result, bail};
use cipherproof_gateway::proto::v1::{InferRequest, InferenceMode};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Model name or id.
    #[arg(long)]
    pub model: String,
    /// Input in EZKL's format {"input_data": [[...]]}.
    #[arg(long)]
    pub input: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Stop after this many seconds (at most 600).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Stop after this many requests in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_requests: u64,
    /// Queue a proof with every request (PROVEN) instead of PLAIN inference.
    #[arg(long)]
    pub prove: bool,
    /// Client threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Open loop: start this many requests per second whatever the answers
    /// (at most --concurrency outstanding; a tick with none free counts as skipped).
    #[arg(long)]
    pub rate: Option<f64>,
}

#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    shed: AtomicU64,
    failed: AtomicU64,
    sent: AtomicU64,
}

pub fn load_cmd(a: &LoadArgs) -> Result<()> {
    if a.duration_secs == 0 || a.duration_secs > 600 {
        bail!("--duration-secs must be 1..=600");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(run(a))
}

async fn run(a: &LoadArgs) -> Result<()> {
    let input = read_single(&a.input)?;
    let mode = if a.prove { InferenceMode::Proven } else { InferenceMode::Plain } as i32;
    let mut clients = Vec::new();
    for _ in 0..a.connections.max(1) {
        clients.push(a.conn.inference().await?);
    }
    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + Duration::from_secs(a.duration_secs);
    let started = Instant::now();
    if let Some(rate) = a.rate {
        let req = InferRequest {
            model: a.model.clone(),
            input: input.clone(),
            mode,
        };
        return open_loop(a, rate, req, clients, tally, deadline, started).await;
    }
    let mut tasks = Vec::new();
    for i in 0..a.concurrency.max(1) {
        let mut client = clients[i % clients.len()].clone();
        let tally = tally.clone();
        let req = InferRequest {
            model: a.model.clone(),
            input: input.clone(),
            mode,
        };
        let max = a.max_requests;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline && tally.sent.fetch_add(1, Ordering::Relaxed) < max {
                let t = Instant::now();
                match client.infer(req.clone()).await {
                    Ok(_) => {
                        latencies.push(t.elapsed().as_secs_f64());
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                        tally.shed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(s) => {
                        if tally.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first error: {:?}: {}", s.code(), s.message());
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    report(a, &tally, latencies, started, 0);
    Ok(())
}

type Client = cipherproof_gateway::proto::v1::inference_service_client::InferenceServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, super::client_cmd::Bearer>,
>;

async fn open_loop(
    a: &LoadArgs,
    rate: f64,
    req: InferRequest,
    clients: Vec<Client>,
    tally: Arc<Tally>,
    deadline: Instant,
    started: Instant,
) -> Result<()> {
    if !(rate > 0.0 && rate.is_finite()) {
        bail!("--rate must be a positive number");
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(a.concurrency.max(1)));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let (mut skipped, mut n) = (0u64, 0usize);
    let mut tasks = Vec::new();
    while Instant::now() < deadline && (n as u64) < a.max_requests {
        tick.tick().await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let mut client = clients[n % clients.len()].clone();
        n += 1;
        let (tally, req) = (tally.clone(), req.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let t = Instant::now();
            tally.sent.fetch_add(1, Ordering::Relaxed);
            match client.infer(req).await {
                Ok(_) => {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                    Some(t.elapsed().as_secs_f64())
                }
                Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                    tally.shed.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(_) => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await?);
    }
    report(a, &tally, latencies, started, skipped);
    Ok(())
}

fn report(a: &LoadArgs, tally: &Tally, mut latencies: Vec<f64>, started: Instant, skipped: u64) {
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i] * 1000.0
    };
    let ok = tally.ok.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "mode": if a.prove { "proven" } else { "plain" },
            "concurrency": a.concurrency, "connections": a.connections,
            "seconds": elapsed, "ok": ok,
            "resource_exhausted": tally.shed.load(Ordering::Relaxed),
            "failed": tally.failed.load(Ordering::Relaxed),
            "requests_per_s": ok as f64 / elapsed,
            "offered_per_s": a.rate, "skipped_ticks": skipped,
            "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
        })
    );
}
