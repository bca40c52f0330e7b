//! Wiring: the store, registry and workers behind one tonic server (our
//! services with auth, KServe v2, health, reflection), `/metrics`, and an
//! orderly shutdown.

use crate::auth::Auth;
use crate::blobs::BlobStore;
use crate::chain::ChainPoster;
use crate::config::GatewayConfig;
use crate::engines::Engines;
use crate::error::{GatewayError, Result};
use crate::metrics::Metrics;
use crate::proto::inference::grpc_inference_service_server::GrpcInferenceServiceServer;
use crate::proto::v1::inference_service_server::InferenceServiceServer;
use crate::proto::v1::job_service_server::JobServiceServer;
use crate::proto::v1::key_service_server::KeyServiceServer;
use crate::proto::v1::model_service_server::ModelServiceServer;
use crate::proto::v1::study_service_server::StudyServiceServer;
use crate::registry::Registry;
use crate::services::{fhe::FheApi, studies::StudyApi, inference::InferenceApi, jobs::JobApi, kserve::KServeApi, models::ModelApi};
use crate::store::JobStore;
use crate::worker;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Identity, Server, ServerTlsConfig};

/// What every service and worker of one gateway shares.
#[derive(Debug)]
pub struct Shared {
    pub config: GatewayConfig,
    pub store: JobStore,
    pub registry: Registry,
    pub blobs: BlobStore,
    pub metrics: Metrics,
    /// Ids of jobs whose state changed in this process (WatchJob wakes on them).
    pub events: broadcast::Sender<String>,
    /// Wakes an idle worker when a job is queued.
    pub new_job: Notify,
    pub poster: Option<ChainPoster>,
    /// This gateway process's lease-owner prefix.
    pub instance: String,
    /// Expanded FHE server keys of recent `InferEncrypted` calls.
    pub fhe_servers: crate::services::fhe::ServerCache,
    /// Where the workers prove.
    pub engines: Engines,
}

impl Shared {
    pub fn job_changed(&self, id: &str) {
        let _ = self.events.send(id.to_string());
    }
}

/// How long a shutdown waits for workers to finish what they are doing.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Builds and starts gateways.
#[derive(Debug)]
pub struct Gateway;

/// A started gateway.
#[derive(Debug)]
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    workers: Vec<JoinHandle<()>>,
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

impl Gateway {
    /// Opens the store, re-queues interrupted jobs, starts workers, metrics and the gRPC server.
    pub async fn start(config: GatewayConfig) -> Result<RunningGateway> {
        std::fs::create_dir_all(&config.data_dir).map_err(GatewayError::io(&config.data_dir))?;
        let auth = match &config.api_keys {
            Some(p) => Auth::from_file(p)?,
            None => Auth::open(),
        };
        let engines = Engines::new(config.prove_backend)?;
        tracing::info!(backend = engines.name(), device = %engines.describe(), "proof workers");
        let store = JobStore::connect(&config.database_url()).await?;
        let requeued = store.requeue_expired(store.is_sqlite()).await?;
        if requeued > 0 {
            tracing::info!(requeued, "re-queued jobs interrupted by a previous stop");
        }
        let registry = Registry::new(&config.data_dir, config.srs.clone(), config.max_k, store.clone())?;
        let blobs = BlobStore::open(&config.data_dir.join("blobs"))?;
        let poster = match &config.chain {
            Some(c) => Some(ChainPoster::connect(c, store.clone()).await?),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| GatewayError::Config(format!("listen address {}: {e}", config.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            instance: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            metrics: Metrics::new()?,
            events: broadcast::channel(1024).0,
            new_job: Notify::new(),
            config,
            store,
            registry,
            blobs,
            poster,
            fhe_servers: Default::default(),
            engines,
        });
        let metrics_addr = match shared.config.metrics {
            Some(a) => Some(shared.metrics.serve(a, stopped(stop_rx.clone())).await?),
            None => None,
        };
        let mut workers: Vec<JoinHandle<()>> = (0..shared.config.workers)
            .map(|i| tokio::spawn(worker::run(shared.clone(), i, stop_rx.clone())))
            .collect();
        workers.push(tokio::spawn(reaper(shared.clone(), stop_rx.clone())));
        let server = serve(shared.clone(), auth, listener, stop_rx).await?;
        tracing::info!(%addr, "cipherproof gateway listening");
        Ok(RunningGateway {
            addr,
            metrics_addr,
            shared,
            stop,
            server,
            workers,
        })
    }
}

/// Re-queues jobs of gateways that stopped renewing their leases, and keeps the queue gauge current.
async fn reaper(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = (shared.config.job_lease / 2).max(std::time::Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        match shared.store.requeue_expired(false).await {
            Ok(n) if n > 0 => {
                tracing::info!(requeued = n, "re-queued jobs whose lease ran out");
                shared.new_job.notify_waiters();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "re-queueing expired jobs failed"),
        }
        if let Ok(n) = shared.store.queued().await {
            shared.metrics.queue_depth.set(n);
        }
    }
}

async fn serve(
    shared: Arc<Shared>,
    auth: Auth,
    listener: tokio::net::TcpListener,
    stop: watch::Receiver<bool>,
) -> Result<JoinHandle<Result<(), tonic::transport::Error>>> {
    let limit = shared.config.max_message_bytes;
    let intercept = move |req| auth.intercept(req);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<ModelServiceServer<ModelApi>>().await;
    health.set_serving::<InferenceServiceServer<InferenceApi>>().await;
    health.set_serving::<JobServiceServer<JobApi>>().await;
    health.set_serving::<GrpcInferenceServiceServer<KServeApi>>().await;
    health.set_serving::<KeyServiceServer<FheApi>>().await;
    health.set_serving::<StudyServiceServer<StudyApi>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| GatewayError::Internal(format!("reflection: {e}")))?;
    // Shed, don't queue: beyond max_in_flight requests in the whole server, new
    // ones get RESOURCE_EXHAUSTED at once (tonic maps tower's Overloaded to it).
    let mut builder = Server::builder().layer(
        tower::ServiceBuilder::new()
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                shared.config.max_in_flight.max(1),
            ))
            .into_inner(),
    );
    if let Some(tls) = &shared.config.tls {
        let cert = std::fs::read(&tls.cert).map_err(GatewayError::io(&tls.cert))?;
        let key = std::fs::read(&tls.key).map_err(GatewayError::io(&tls.key))?;
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
            .map_err(|e| GatewayError::Config(format!("TLS: {e}")))?;
    }
    let models = ModelServiceServer::new(ModelApi::new(shared.clone()))
        .max_decoding_message_size(limit);
    let inference = InferenceServiceServer::new(InferenceApi::new(shared.clone()))
        .max_decoding_message_size(limit);
    let jobs = JobServiceServer::new(JobApi::new(shared.clone())).max_decoding_message_size(limit);
    let kserve = GrpcInferenceServiceServer::new(KServeApi::new(shared.clone()))
        .max_decoding_message_size(limit);
    let keys = KeyServiceServer::new(FheApi::new(shared.clone())).max_decoding_message_size(limit);
    let studies = StudyServiceServer::new(StudyApi::new(shared.clone())).max_decoding_message_size(limit);
    let router = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(InterceptedService::new(models, intercept.clone()))
        .add_service(InterceptedService::new(inference, intercept.clone()))
        .add_service(InterceptedService::new(jobs, intercept.clone()))
        .add_service(InterceptedService::new(kserve, intercept.clone()))
        .add_service(InterceptedService::new(keys, intercept.clone()))
        .add_service(InterceptedService::new(studies, intercept));
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    Ok(tokio::spawn(router.serve_with_incoming_shutdown(incoming, stopped(stop))))
}

impl RunningGateway {
    /// Stops accepting calls, gives workers [`SHUTDOWN_GRACE`] to finish their
    /// current step, closes the store. A proof still running is abandoned: its
    /// job goes back to the queue (at the next start on SQLite, when its lease
    /// runs out on Postgres).
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let served = self.server.await;
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for w in self.workers {
            let abort = w.abort_handle();
            if tokio::time::timeout_at(deadline, w).await.is_err() {
                abort.abort();
            }
        }
        self.shared.store.close().await;
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(GatewayError::Internal(format!("server: {e}"))),
            Err(e) => Err(GatewayError::Internal(format!("server task: {e}"))),
        }
    }
}
