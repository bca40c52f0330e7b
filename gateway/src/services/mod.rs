//! The tonic services. Each handler returns [`GatewayError`]s, mapped to
//! statuses (and counted in the metrics) in one place, [`observed`].

pub mod fhe;
pub mod inference;
pub mod jobs;
pub mod kserve;
pub mod models;

use crate::error::GatewayError;
use crate::server::Shared;
use std::future::Future;
use std::time::Instant;
use tonic::{Code, Response, Status};

/// Runs a handler, maps its error to a status and records method, code and latency.
pub(crate) async fn observed<T>(
    shared: &Shared,
    method: &str,
    handler: impl Future<Output = Result<T, GatewayError>>,
) -> Result<Response<T>, Status> {
    let started = Instant::now();
    shared.metrics.in_flight.inc();
    let result = handler.await.map_err(Status::from);
    shared.metrics.in_flight.dec();
    let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
    shared.metrics.observe(method, started, code);
    result.map(Response::new)
}

/// A fresh random id (128 bits, hex).
pub(crate) fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
