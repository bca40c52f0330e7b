//! `ModelService`: register (client-streamed ONNX), get, list.

use super::{UploadPart, collect_upload, observed};
use crate::auth::tenant;
use crate::error::{GatewayError, Result};
use crate::proto::v1::model_service_server::ModelService;
use crate::proto::v1::register_model_request::Part;
use crate::proto::v1::*;
use crate::registry::{ModelMeta, RegisterOptions, check_name};
use crate::server::Shared;
use crate::store::ModelRecord;
use cipherproof_circuits::InputVisibility as Vis;
use cipherproof_model::quant::QuantConfig;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

#[derive(Debug, Clone)]
pub struct ModelApi {
    shared: Arc<Shared>,
}

impl ModelApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

pub fn visibility_to_proto(v: Vis) -> InputVisibility {
    match v {
        Vis::Private => InputVisibility::Private,
        Vis::Public => InputVisibility::Public,
        Vis::Hashed => InputVisibility::Hashed,
    }
}

fn visibility_from_proto(v: i32) -> Result<Vis> {
    match InputVisibility::try_from(v) {
        Ok(InputVisibility::Unspecified | InputVisibility::Private) => Ok(Vis::Private),
        Ok(InputVisibility::Public) => Ok(Vis::Public),
        Ok(InputVisibility::Hashed) => Ok(Vis::Hashed),
        Err(_) => Err(GatewayError::invalid("options.input_visibility", format!("unknown value {v}"))),
    }
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

pub fn model_info(record: &ModelRecord, meta: &ModelMeta) -> ModelInfo {
    ModelInfo {
        model_id: meta.model_id.clone(),
        name: record.name.clone(),
        circuit: Some(CircuitStats {
            k: meta.k,
            rows: 1u64 << meta.k,
            advice_columns: meta.advice_columns,
            lookup_advice_columns: meta.lookup_advice_columns,
            fixed_columns: meta.fixed_columns,
            advice_cells: meta.advice_cells,
            lookup_cells: meta.lookup_cells,
        }),
        vk_hash: meta.vk_hash.clone(),
        input_visibility: visibility_to_proto(meta.input_visibility) as i32,
        input_shape: dims(&meta.input_shape),
        output_shape: dims(&meta.output_shape),
        created_unix_ms: record.created_ms,
        compile_seconds: meta.compile_seconds,
    }
}

impl ModelApi {
    async fn register(&self, tenant: String, stream: Streaming<RegisterModelRequest>) -> Result<ModelInfo> {
        let (options, onnx) = collect_upload(
            stream,
            "onnx_chunk",
            "ONNX model",
            self.shared.config.max_model_bytes,
            |m: RegisterModelRequest| {
                m.part.map(|p| match p {
                    Part::Options(o) => UploadPart::Options(o),
                    Part::OnnxChunk(c) => UploadPart::Chunk(c),
                })
            },
        )
        .await?;
        check_name(&options.name)?;
        let opts = RegisterOptions {
            name: options.name.clone(),
            input_visibility: visibility_from_proto(options.input_visibility)?,
            calibration: options.calibration.into_iter().map(|s| s.values).collect(),
            input_range: options.input_range,
            quant: quant_config(options.quantization.as_ref()),
            output: Some(options.output.clone()).filter(|o| !o.is_empty()),
        };
        let shared = self.shared.clone();
        let model = tokio::task::spawn_blocking(move || shared.registry.compile_onnx(&onnx, &opts))
            .await
            .map_err(|e| GatewayError::Internal(format!("compile task: {e}")))??;
        let record = self.shared.registry.bind(&tenant, &options.name, &model).await?;
        tracing::info!(tenant, name = options.name, model_id = model.meta.model_id, "model registered");
        Ok(model_info(&record, &model.meta))
    }
}

#[tonic::async_trait]
impl ModelService for ModelApi {
    async fn register_model(
        &self,
        request: Request<Streaming<RegisterModelRequest>>,
    ) -> Result<Response<RegisterModelResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "RegisterModel", async {
            Ok(RegisterModelResponse {
                model: Some(self.register(tenant, request.into_inner()).await?),
            })
        })
        .await
    }

    async fn get_model(&self, request: Request<GetModelRequest>) -> Result<Response<ModelInfo>, Status> {
        let tenant = tenant(&request)?.0;
        let name = request.into_inner().model;
        observed(&self.shared, "GetModel", async {
            let (record, meta) = self.shared.registry.record(&tenant, &name).await?;
            Ok(model_info(&record, &meta))
        })
        .await
    }

    async fn list_models(&self, request: Request<ListModelsRequest>) -> Result<Response<ListModelsResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "ListModels", async {
            let models = self.shared.registry.list(&tenant).await?;
            Ok(ListModelsResponse {
                models: models.iter().map(|(r, m)| model_info(r, m)).collect(),
            })
        })
        .await
    }
}

/// The requested bit-widths over the defaults (the quantizer checks their ranges).
fn quant_config(q: Option<&Quantization>) -> QuantConfig {
    let d = QuantConfig::default();
    let Some(q) = q else { return d };
    QuantConfig {
        weight_bits: q.weight_bits.unwrap_or(d.weight_bits),
        activation_bits: q.activation_bits.unwrap_or(d.activation_bits),
        output_bits: q.output_bits,
        headroom_bits: q.headroom_bits.unwrap_or(d.headroom_bits),
        ..d
    }
}
