//! What a gateway is started with (the `serve` flags).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Chain posting: each verified proof is submitted to the registry on this chain.
#[derive(Clone)]
pub struct ChainConfig {
    pub rpc: String,
    /// Hex signing key; None: anvil's development key (chain id 31337 only).
    pub private_key: Option<String>,
    /// Registry address; None: the deployments file's entry for the chain, else a fresh deployment.
    pub registry: Option<String>,
}

impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("rpc", &self.rpc)
            .field("private_key", &self.private_key.as_ref().map(|_| "<redacted>"))
            .field("registry", &self.registry)
            .finish()
    }
}

/// TLS from PEM files (rustls).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// Models, proofs, the SQLite job store and the key cache live here.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; None: `sqlite://DATA/jobs.sqlite`.
    pub database_url: Option<String>,
    /// Prometheus `/metrics` address; None: no metrics server.
    pub metrics: Option<SocketAddr>,
    /// API-key file; None: no authentication, every caller is tenant "default".
    pub api_keys: Option<PathBuf>,
    /// Concurrent proofs.
    pub workers: usize,
    /// Where proofs run: the CPU, the GPU, or the GPU when there is one ([`crate::engines`]).
    pub prove_backend: cipherproof_cuda::Backend,
    /// Queued proof jobs beyond which PROVEN requests get RESOURCE_EXHAUSTED.
    pub max_queue: usize,
    /// Requests served at once beyond which new ones get RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    /// Largest ONNX upload.
    pub max_model_bytes: usize,
    /// Largest single gRPC message.
    pub max_message_bytes: usize,
    /// Largest circuit (2^max_k rows) a registered model may need.
    pub max_k: u32,
    /// A proving job whose worker has not renewed its lease for this long is re-queued.
    pub job_lease: Duration,
    /// Ceremony SRS in halo2's format; None: the UNSAFE development SRS.
    pub srs: Option<PathBuf>,
    pub chain: Option<ChainConfig>,
    pub tls: Option<TlsConfig>,
}

impl GatewayConfig {
    /// Defaults that need no other server: SQLite in `data_dir`, no auth, no chain.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: data_dir.into(),
            database_url: None,
            metrics: None,
            api_keys: None,
            workers: 1,
            prove_backend: cipherproof_cuda::Backend::Auto,
            max_queue: 256,
            max_in_flight: 512,
            max_model_bytes: 64 << 20,
            max_message_bytes: 4 << 20,
            max_k: 20,
            job_lease: Duration::from_secs(30),
            srs: None,
            chain: None,
            tls: None,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("jobs.sqlite").display()
            )
        })
    }
}
