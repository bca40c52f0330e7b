//! `cipherproof serve`: the gRPC gateway.

use anyhow::{Context, Result};
use cipherproof_gateway::config::{ChainConfig, TlsConfig};
use cipherproof_gateway::{Gateway, GatewayConfig};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// gRPC address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Data directory: models, proofs, keys, and the SQLite job store.
    #[arg(long, default_value = "cipherproof-data")]
    pub data: PathBuf,
    /// Prometheus /metrics address (off unless given).
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// API keys per tenant: {"tenants": {"NAME": ["KEY" | "sha256:HEX", ...]}}. Without it, no auth.
    #[arg(long)]
    pub api_keys: Option<PathBuf>,
    /// Job store: sqlite://FILE or postgres://... [default: sqlite://DATA/jobs.sqlite].
    #[arg(long)]
    pub database: Option<String>,
    /// Concurrent proof workers.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Where proofs run: cpu, cuda (a `--features cuda` build and a device, else
    /// the gateway does not start) or auto (the GPU when both are there; a job
    /// the GPU fails is proved on the CPU).
    #[arg(long, default_value = "auto")]
    pub backend: cipherproof_cuda::Backend,
    /// Post every verified proof to the InferenceRegistry on this JSON-RPC chain.
    #[arg(long)]
    pub chain_rpc: Option<String>,
    /// Signing key for --chain-rpc (default on anvil: its first dev account). Never logged.
    #[arg(long, env = "CIPHERPROOF_PRIVATE_KEY", hide_env_values = true)]
    pub private_key: Option<String>,
    /// InferenceRegistry address for --chain-rpc [default: deploy the contracts at start].
    #[arg(long)]
    pub registry: Option<String>,
    /// PEM certificate chain for TLS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Queued proof jobs beyond which PROVEN requests get RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 256)]
    pub max_queue: usize,
    /// Requests served at once beyond which new ones get RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 512)]
    pub max_in_flight: usize,
    /// Largest ONNX upload in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_model_bytes: usize,
    /// Largest gRPC message in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_message_bytes: usize,
    /// Refuse models whose circuit needs more than 2^max_k rows.
    #[arg(long, default_value_t = 20)]
    pub max_k: u32,
    /// Seconds a proving job's lease lasts without renewal before it is re-queued.
    #[arg(long, default_value_t = 30)]
    pub job_lease_secs: u64,
    /// Ceremony SRS in halo2's params format [default: an UNSAFE development SRS].
    #[arg(long)]
    pub srs: Option<PathBuf>,
}

impl ServeArgs {
    fn config(&self) -> GatewayConfig {
        let mut c = GatewayConfig::new(&self.data);
        c.listen = self.listen;
        c.metrics = self.metrics;
        c.api_keys = self.api_keys.clone();
        c.database_url = self.database.clone();
        c.workers = self.workers;
        c.prove_backend = self.backend;
        c.max_queue = self.max_queue;
        c.max_in_flight = self.max_in_flight;
        c.max_model_bytes = self.max_model_bytes;
        c.max_message_bytes = self.max_message_bytes;
        c.max_k = self.max_k;
        c.job_lease = Duration::from_secs(self.job_lease_secs.max(1));
        c.srs = self.srs.clone();
        c.chain = self.chain_rpc.as_ref().map(|rpc| ChainConfig {
            rpc: rpc.clone(),
            private_key: self.private_key.clone(),
            registry: self.registry.clone(),
        });
        c.tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        };
        c
    }
}

async fn until_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub fn serve_cmd(args: &ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,halo2_base=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = args.config();
    if config.srs.is_none() {
        eprintln!("warning: {}", cipherproof_prover::srs::UNSAFE_WARNING);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let gw = Gateway::start(config).await?;
        println!("listening on {}", gw.addr);
        if let Some(m) = gw.metrics_addr {
            println!("metrics on http://{m}/metrics");
        }
        until_signal().await;
        eprintln!("shutting down");
        gw.shutdown().await?;
        Ok(())
    })
}
