//! `InferenceService`: plain, proven and encrypted inference.

use super::{new_id, observed};
use crate::auth::tenant;
use crate::error::{GatewayError, Result};
use crate::proto::v1::inference_service_server::InferenceService;
use crate::proto::v1::*;
use crate::registry::{LoadedModel, Outputs};
use crate::server::Shared;
use crate::store::{JobRecord, JobState, now_ms};
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct InferenceApi {
    shared: Arc<Shared>,
}

impl InferenceApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// Queues the proof of an inference already run; returns the job id.
pub(crate) async fn enqueue_proof(
    shared: &Shared,
    tenant: &str,
    model: &LoadedModel,
    outputs: &Outputs,
) -> Result<String> {
    let json = |v: &[i64]| serde_json::to_string(v).map_err(|e| GatewayError::Internal(e.to_string()));
    let job = JobRecord {
        id: new_id(),
        tenant: tenant.to_string(),
        model_id: model.meta.model_id.clone(),
        state: JobState::Queued,
        input: json(&outputs.quantized_input)?,
        outputs: json(&outputs.quantized)?,
        attempts: 0,
        error: None,
        proof_blob: None,
        prove_ms: 0,
        chain: Default::default(),
        created_ms: now_ms(),
        updated_ms: now_ms(),
    };
    shared.store.enqueue(&job, shared.config.max_queue).await?;
    shared.new_job.notify_one();
    Ok(job.id)
}

impl InferenceApi {
    async fn infer(&self, tenant: &str, req: InferRequest) -> Result<InferResponse> {
        let mode = InferenceMode::try_from(req.mode)
            .map_err(|_| GatewayError::invalid("mode", format!("unknown mode {}", req.mode)))?;
        let model = self.shared.registry.resolve(tenant, &req.model).await?;
        let outputs = model.infer(&req.input)?;
        let job_id = match mode {
            InferenceMode::Proven => enqueue_proof(&self.shared, tenant, &model, &outputs).await?,
            InferenceMode::Plain | InferenceMode::Unspecified => String::new(),
        };
        Ok(InferResponse {
            model_id: model.meta.model_id.clone(),
            quantized_outputs: outputs.quantized,
            dequantized_outputs: outputs.dequantized,
            argmax: outputs.argmax as u32,
            job_id,
        })
    }
}

#[tonic::async_trait]
impl InferenceService for InferenceApi {
    async fn infer(&self, request: Request<InferRequest>) -> Result<Response<InferResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "Infer", self.infer(&tenant, request.into_inner())).await
    }

    async fn infer_encrypted(
        &self,
        request: Request<InferEncryptedRequest>,
    ) -> Result<Response<InferEncryptedResponse>, Status> {
        let tenant = tenant(&request)?.0;
        let req = request.into_inner();
        observed(&self.shared, "InferEncrypted", super::fhe::infer_encrypted(&self.shared, &tenant, req)).await
    }
}
