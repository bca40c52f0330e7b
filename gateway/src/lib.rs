//! # cipherproof-gateway
//!
//! One gRPC server for plain, proven and encrypted inference, and the
//! `cipherproof` command-line tool built on it.
//!
//! * [`proto`]: generated code of `proto/cipherproof/v1` (our API) and
//!   `proto/inference` (KServe v2, for Triton clients).
//! * [`services`]: the tonic services: models, inference, jobs, KServe, and the
//!   FHE key service (encrypted inference) and the multi-party study service.
//! * [`registry`]: registered models (ONNX → quantized model → circuit keys),
//!   content-addressed on disk, owned per tenant.
//! * [`store`]: the durable job store (SQLite by default, Postgres when
//!   configured, one schema) with leases, so a killed gateway's jobs re-run.
//! * [`worker`]: proof workers: claim, prove, verify, store, post on-chain.
//! * [`engines`]: where they prove (`serve --backend cpu|cuda|auto`): the CPU
//!   or, in a `--features cuda` build with a device, the GPU.
//! * [`blobs`]: content-addressed artifact storage (proof files, FHE keys,
//!   study ciphertexts and shares).
//! * [`auth`]: API keys per tenant; [`metrics`]: Prometheus `/metrics`;
//!   [`server`]: wiring, listening and shutdown.
//!
//! Only this crate does network I/O, reads configuration or owns a runtime.

pub mod auth;
pub mod blobs;
pub mod chain;
pub mod config;
pub mod engines;
pub mod error;
pub mod metrics;
pub mod proto;
pub mod registry;
pub mod server;
pub mod services;
pub mod store;
pub mod worker;

pub use config::GatewayConfig;
pub use error::GatewayError;
pub use server::{Gateway, RunningGateway};
