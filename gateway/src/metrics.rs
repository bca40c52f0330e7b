//! Prometheus metrics and the `/metrics` HTTP endpoint.

use crate::error::{GatewayError, Result};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use std::net::SocketAddr;
use std::time::Instant;
use tonic::Code;

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub queue_depth: IntGauge,
    pub in_flight: IntGauge,
    proofs: HistogramVec,
    proofs_by_engine: IntCounterVec,
    pub proof_failures: IntCounterVec,
    /// Jobs the GPU failed and the CPU then proved (`serve --backend auto`).
    pub gpu_fallbacks: IntCounter,
}

fn reg_err(e: prometheus::Error) -> GatewayError {
    GatewayError::Internal(format!("metrics: {e}"))
}

impl Metrics {
    pub fn new() -> Result<Self> {
        let registry = Registry::new_custom(Some("cipherproof".into()), None).map_err(reg_err)?;
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "gRPC requests by method and status code"),
            &["method", "code"],
        )
        .map_err(reg_err)?;
        let latency = HistogramVec::new(
            HistogramOpts::new("request_seconds", "gRPC request latency by method").buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
            ]),
            &["method"],
        )
        .map_err(reg_err)?;
        let queue_depth = IntGauge::new("queue_depth", "proof jobs waiting for a worker").map_err(reg_err)?;
        let in_flight = IntGauge::new("in_flight_requests", "requests being served").map_err(reg_err)?;
        let proofs = HistogramVec::new(
            HistogramOpts::new("proof_seconds", "proof durations by model")
                .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]),
            &["model"],
        )
        .map_err(reg_err)?;
        let proofs_by_engine = IntCounterVec::new(
            Opts::new("proofs_total", "proofs made, by engine (cpu or cuda)"),
            &["engine"],
        )
        .map_err(reg_err)?;
        let proof_failures = IntCounterVec::new(
            Opts::new("proof_failures_total", "failed proof jobs by stage"),
            &["stage"],
        )
        .map_err(reg_err)?;
        let gpu_fallbacks = IntCounter::new(
            "gpu_fallbacks_total",
            "jobs the GPU failed and the CPU then proved (--backend auto)",
        )
        .map_err(reg_err)?;
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(queue_depth.clone()),
            Box::new(in_flight.clone()),
            Box::new(proofs.clone()),
            Box::new(proofs_by_engine.clone()),
            Box::new(proof_failures.clone()),
            Box::new(gpu_fallbacks.clone()),
        ] {
            registry.register(c).map_err(reg_err)?;
        }
        Ok(Self {
            registry,
            requests,
            latency,
            queue_depth,
            in_flight,
            proofs,
            proofs_by_engine,
            proof_failures,
            gpu_fallbacks,
        })
    }

    /// Counts one finished request.
    pub fn observe(&self, method: &str, started: Instant, code: Code) {
        self.requests
            .with_label_values(&[method, &format!("{code:?}")])
            .inc();
        self.latency
            .with_label_values(&[method])
            .observe(started.elapsed().as_secs_f64());
    }

    /// A proof of `model_id` made by `engine` ("cpu" or "cuda") in `seconds`.
    pub fn proof(&self, model_id: &str, engine: &str, seconds: f64) {
        let short = &model_id[..model_id.len().min(16)];
        self.proofs.with_label_values(&[short]).observe(seconds);
        self.proofs_by_engine.with_label_values(&[engine]).inc();
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Serves `/metrics` on `addr` until `shutdown` resolves; returns the bound address.
    pub async fn serve(
        &self,
        addr: SocketAddr,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| GatewayError::Config(format!("metrics address {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let me = self.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let me = me.clone();
                async move { me.render() }
            }),
        );
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
        Ok(bound)
    }
}
