//! The tonic services. Each handler returns [`GatewayError`]s, mapped to
//! statuses (and counted in the metrics) in one place, [`observed`].

pub mod fhe;
pub mod inference;
pub mod jobs;
pub mod kserve;
pub mod models;
pub mod studies;

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

/// One message of a client-streamed upload: its options or a chunk of bytes.
pub(crate) enum UploadPart<O> {
    Options(O),
    Chunk(Vec<u8>),
}

/// Collects a client-streamed upload: the options from the first message,
/// then at least one and at most `limit` bytes of chunks (`chunk_field` names
/// them in errors, `what` is the thing uploaded).
pub(crate) async fn collect_upload<M, O>(
    mut stream: tonic::Streaming<M>,
    chunk_field: &str,
    what: &str,
    limit: usize,
    part: impl Fn(M) -> Option<UploadPart<O>>,
) -> Result<(O, Vec<u8>), GatewayError> {
    let mut options = None;
    let mut bytes = Vec::new();
    while let Some(msg) = stream
        .message()
        .await
        .map_err(|s| GatewayError::invalid("stream", s.message().to_string()))?
    {
        match part(msg) {
            Some(UploadPart::Options(o)) if options.is_none() && bytes.is_empty() => options = Some(o),
            Some(UploadPart::Options(_)) => {
                return Err(GatewayError::invalid("options", "send the options once, in the first message"));
            }
            Some(UploadPart::Chunk(chunk)) => {
                if options.is_none() {
                    return Err(GatewayError::invalid("options", "the first message must carry the options"));
                }
                if bytes.len() + chunk.len() > limit {
                    return Err(GatewayError::invalid(
                        chunk_field,
                        format!("the {what} exceeds this gateway's limit of {limit} bytes"),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            None => return Err(GatewayError::invalid("part", "empty message")),
        }
    }
    let options = options.ok_or_else(|| GatewayError::invalid("options", "no options were sent"))?;
    if bytes.is_empty() {
        return Err(GatewayError::invalid(chunk_field, format!("no {what} bytes were sent")));
    }
    Ok((options, bytes))
}

/// A fresh random id (128 bits, hex).
pub(crate) fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}
