//! KServe v2 / Triton `inference.GRPCInferenceService`: liveness, readiness,
//! metadata and ModelInfer, so stock clients (`tritonclient[grpc]`) work.
//!
//! A model is addressed by its registered name (or model id). It has one FP32
//! input of the ONNX input's shape, and three outputs: the ONNX output's name
//! (FP32, dequantized), `quantized_output` (INT64, what a proof proves) and
//! `argmax` (INT64). Request parameter `prove=true` queues a proof job whose
//! id comes back as the response parameter `proof_job_id`. Raw tensor bytes
//! in, raw bytes out; typed contents in, typed contents out.

use super::inference::enqueue_proof;
use super::observed;
use crate::auth::tenant;
use crate::error::{GatewayError, Result};
use crate::proto::inference::grpc_inference_service_server::GrpcInferenceService;
use crate::proto::inference::infer_parameter::ParameterChoice;
use crate::proto::inference::model_infer_request::InferInputTensor;
use crate::proto::inference::model_infer_response::InferOutputTensor;
use crate::proto::inference::model_metadata_response::TensorMetadata;
use crate::proto::inference::*;
use crate::registry::LoadedModel;
use crate::server::Shared;
use std::collections::HashMap;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub const QUANTIZED_OUTPUT: &str = "quantized_output";
pub const ARGMAX_OUTPUT: &str = "argmax";
pub const PROVE_PARAMETER: &str = "prove";
pub const JOB_PARAMETER: &str = "proof_job_id";

#[derive(Debug, Clone)]
pub struct KServeApi {
    shared: Arc<Shared>,
}

impl KServeApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn dims(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

/// The FP32 values of the one input tensor, checked against the model's input.
fn input_values(model: &LoadedModel, req: &ModelInferRequest) -> Result<Vec<f32>> {
    let meta = &model.meta;
    let [input] = req.inputs.as_slice() else {
        return Err(GatewayError::invalid(
            "inputs",
            format!("the model takes exactly one input ({:?}); got {}", meta.input_name, req.inputs.len()),
        ));
    };
    check_tensor(meta.input_name.as_str(), &meta.input_shape, input)?;
    let numel: usize = meta.input_shape.iter().product();
    let values = match (req.raw_input_contents.first(), &input.contents) {
        (Some(raw), _) => {
            if req.raw_input_contents.len() != 1 {
                return Err(GatewayError::invalid("raw_input_contents", "expected one entry per input"));
            }
            if raw.len() != numel * 4 {
                return Err(GatewayError::invalid(
                    "raw_input_contents",
                    format!("{} bytes for {numel} FP32 values ({} bytes)", raw.len(), numel * 4),
                ));
            }
            raw.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }
        (None, Some(c)) => {
            if c.fp32_contents.len() != numel {
                return Err(GatewayError::invalid(
                    "inputs[0].contents.fp32_contents",
                    format!("{} values for {numel}", c.fp32_contents.len()),
                ));
            }
            c.fp32_contents.clone()
        }
        (None, None) => return Err(GatewayError::invalid("inputs[0].contents", "no tensor data")),
    };
    Ok(values)
}

fn check_tensor(name: &str, shape: &[usize], input: &InferInputTensor) -> Result<()> {
    if input.name != name {
        return Err(GatewayError::invalid("inputs[0].name", format!("{:?}: the model's input is {name:?}", input.name)));
    }
    if input.datatype != "FP32" {
        return Err(GatewayError::invalid(
            "inputs[0].datatype",
            format!("{:?}: the model's input is FP32", input.datatype),
        ));
    }
    if input.shape != dims(shape) {
        return Err(GatewayError::invalid(
            "inputs[0].shape",
            format!("{:?}: the model's input shape is {:?}", input.shape, shape),
        ));
    }
    Ok(())
}

fn wants_proof(params: &HashMap<String, InferParameter>) -> Result<bool> {
    match params.get(PROVE_PARAMETER).and_then(|p| p.parameter_choice.as_ref()) {
        None => Ok(false),
        Some(ParameterChoice::BoolParam(b)) => Ok(*b),
        Some(ParameterChoice::StringParam(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(_) => Err(GatewayError::invalid("parameters.prove", "must be a bool (or \"true\"/\"false\")")),
    }
}

fn tensor(name: &str, datatype: &str, shape: Vec<i64>, contents: InferTensorContents) -> InferOutputTensor {
    InferOutputTensor {
        name: name.into(),
        datatype: datatype.into(),
        shape,
        parameters: HashMap::new(),
        contents: Some(contents),
    }
}

impl KServeApi {
    async fn model_infer(&self, tenant: &str, req: ModelInferRequest) -> Result<ModelInferResponse> {
        let model = self.shared.registry.resolve(tenant, &req.model_name).await?;
        let prove = wants_proof(&req.parameters)?;
        let values = input_values(&model, &req)?;
        let out = model.infer(&values)?;
        let meta = &model.meta;
        let all = [
            tensor(
                &meta.output_name,
                "FP32",
                dims(&meta.output_shape),
                InferTensorContents {
                    fp32_contents: out.dequantized.iter().map(|&v| v as f32).collect(),
                    ..Default::default()
                },
            ),
            tensor(
                QUANTIZED_OUTPUT,
                "INT64",
                dims(&meta.output_shape),
                InferTensorContents {
                    int64_contents: out.quantized.clone(),
                    ..Default::default()
                },
            ),
            tensor(
                ARGMAX_OUTPUT,
                "INT64",
                vec![1],
                InferTensorContents {
                    int64_contents: vec![out.argmax as i64],
                    ..Default::default()
                },
            ),
        ];
        let mut outputs = Vec::new();
        if req.outputs.is_empty() {
            outputs.extend(all);
        } else {
            for wanted in &req.outputs {
                let t = all.iter().find(|t| t.name == wanted.name).ok_or_else(|| {
                    GatewayError::invalid(
                        "outputs",
                        format!(
                            "unknown output {:?} (outputs: {:?}, {QUANTIZED_OUTPUT:?}, {ARGMAX_OUTPUT:?})",
                            wanted.name, meta.output_name
                        ),
                    )
                })?;
                outputs.push(t.clone());
            }
        }
        let mut raw_output_contents = Vec::new();
        if !req.raw_input_contents.is_empty() {
            for t in &mut outputs {
                let c = t.contents.take().unwrap_or_default();
                let bytes: Vec<u8> = if t.datatype == "FP32" {
                    c.fp32_contents.iter().flat_map(|v| v.to_le_bytes()).collect()
                } else {
                    c.int64_contents.iter().flat_map(|v| v.to_le_bytes()).collect()
                };
                raw_output_contents.push(bytes);
            }
        }
        let mut parameters = HashMap::new();
        if prove {
            let job = enqueue_proof(&self.shared, tenant, &model, &out).await?;
            parameters.insert(
                JOB_PARAMETER.to_string(),
                InferParameter {
                    parameter_choice: Some(ParameterChoice::StringParam(job)),
                },
            );
        }
        Ok(ModelInferResponse {
            model_name: req.model_name,
            model_version: "1".into(),
            id: req.id,
            parameters,
            outputs,
            raw_output_contents,
        })
    }

    async fn metadata(&self, tenant: &str, name: &str) -> Result<ModelMetadataResponse> {
        let model = self.shared.registry.resolve(tenant, name).await?;
        let m = &model.meta;
        let meta = |name: &str, datatype: &str, shape: Vec<i64>| TensorMetadata {
            name: name.into(),
            datatype: datatype.into(),
            shape,
        };
        Ok(ModelMetadataResponse {
            name: name.into(),
            versions: vec!["1".into()],
            platform: "cipherproof_halo2".into(),
            inputs: vec![meta(&m.input_name, "FP32", dims(&m.input_shape))],
            outputs: vec![
                meta(&m.output_name, "FP32", dims(&m.output_shape)),
                meta(QUANTIZED_OUTPUT, "INT64", dims(&m.output_shape)),
                meta(ARGMAX_OUTPUT, "INT64", vec![1]),
            ],
        })
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for KServeApi {
    async fn server_live(&self, _: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(&self, _: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: true }))
    }

    async fn model_ready(&self, request: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let tenant = tenant(&request)?.0;
        let name = request.into_inner().name;
        observed(&self.shared, "ModelReady", async {
            Ok(ModelReadyResponse {
                ready: self.shared.registry.resolve(&tenant, &name).await.is_ok(),
            })
        })
        .await
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse {
            name: "cipherproof".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec!["parameters".into()],
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        let tenant = tenant(&request)?.0;
        let name = request.into_inner().name;
        observed(&self.shared, "ModelMetadata", self.metadata(&tenant, &name)).await
    }

    async fn model_infer(&self, request: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "ModelInfer", self.model_infer(&tenant, request.into_inner())).await
    }
}
