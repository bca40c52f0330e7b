//! Encrypted inference through the gateway: `KeyService.UploadServerKey`
//! binds a client's TFHE server key to the caller's tenant, and
//! `InferenceService.InferEncrypted` evaluates a registered model on
//! ciphertexts under such a key (`cipherproof-fhe`; the server never holds a
//! secret key). Studies are served by [`super::studies`].

use super::{UploadPart, collect_upload, observed};
use crate::auth::tenant;
use crate::error::{GatewayError, Result};
use crate::proto::v1::key_service_server::KeyService;
use crate::proto::v1::upload_server_key_request::Part;
use crate::proto::v1::*;
use crate::server::Shared;
use cipherproof_fhe::params::DEFAULT_PARAMS;
use cipherproof_fhe::program::{FheProgram, compile, compile_for_key};
use cipherproof_fhe::server::Server;
use cipherproof_fhe::wire::{CIPHERTEXT_LIMIT, EncryptedInputs, SERVER_KEY_LIMIT, ServerKeyFile, from_bytes, to_bytes};
use cipherproof_model::quant::QuantModel;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

#[derive(Debug, Clone)]
pub struct FheApi {
    shared: Arc<Shared>,
}

impl FheApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// The encrypted program of a model, planned for `key` when given (INVALID_ARGUMENT if it cannot
/// run encrypted).
fn program_of(model: &QuantModel, key: Option<&ServerKeyFile>) -> Result<FheProgram> {
    let program = match key {
        Some(k) => compile_for_key(model, DEFAULT_PARAMS, k),
        None => compile(model, DEFAULT_PARAMS),
    };
    program.map_err(|e| GatewayError::invalid("model", format!("this model cannot run encrypted: {e}")))
}

impl FheApi {
    async fn upload(&self, tenant: String, stream: Streaming<UploadServerKeyRequest>) -> Result<UploadServerKeyResponse> {
        let (options, bytes) = collect_upload(
            stream,
            "key_chunk",
            "server key",
            SERVER_KEY_LIMIT as usize,
            |m: UploadServerKeyRequest| {
                m.part.map(|p| match p {
                    Part::Options(o) => UploadPart::Options(o),
                    Part::KeyChunk(c) => UploadPart::Chunk(c),
                })
            },
        )
        .await?;
        let model = options.model;
        let key: ServerKeyFile =
            from_bytes(&bytes, SERVER_KEY_LIMIT).map_err(|e| GatewayError::invalid("key_chunk", e.to_string()))?;
        let m = self.shared.registry.resolve(&tenant, &model).await?;
        let program = program_of(&m.compiled.model, Some(&key))?;
        key.check(&program).map_err(|e| GatewayError::invalid("key_chunk", e.to_string()))?;
        let blob = self.shared.blobs.put(&bytes)?;
        self.shared
            .store
            .put_fhe_key(&tenant, &key.key_id, &program.model_id, &blob)
            .await?;
        Ok(UploadServerKeyResponse { key_id: key.key_id })
    }
}

/// `InferEncrypted`: ciphertexts in, ciphertexts out, under the tenant's own key.
pub(crate) async fn infer_encrypted(shared: &Shared, tenant: &str, req: InferEncryptedRequest) -> Result<InferEncryptedResponse> {
    let model = shared.registry.resolve(tenant, &req.model).await?;
    let program = program_of(&model.compiled.model, None)?;
    let (model_id, blob) = shared
        .store
        .fhe_key(tenant, &req.key_id)
        .await?
        .ok_or_else(|| GatewayError::not_found("server key", &req.key_id))?;
    if model_id != program.model_id {
        return Err(GatewayError::invalid("key_id", "this server key was uploaded for another model"));
    }
    let input: EncryptedInputs =
        from_bytes(&req.ciphertext, CIPHERTEXT_LIMIT).map_err(|e| GatewayError::invalid("ciphertext", e.to_string()))?;
    // A cached server of the same model id holds the program planned for its key.
    let server = match shared.fhe_servers.get(&blob) {
        Some(s) if s.program().model_id == program.model_id => s,
        _ => {
            let bytes = shared.blobs.get(&blob)?;
            let server = tokio::task::spawn_blocking(move || -> Result<Server> {
                let key: ServerKeyFile = from_bytes(&bytes, SERVER_KEY_LIMIT)
                    .map_err(|e| GatewayError::Corrupt { what: "stored server key".into(), reason: e.to_string() })?;
                let program = program_of(&model.compiled.model, Some(&key))?;
                Server::new(&program, &key).map_err(|e| GatewayError::invalid("key_id", e.to_string()))
            })
            .await
            .map_err(|e| GatewayError::Internal(format!("FHE task: {e}")))??;
            shared.fhe_servers.put(&blob, server)
        }
    };
    let out = tokio::task::spawn_blocking(move || server.evaluate(&input))
        .await
        .map_err(|e| GatewayError::Internal(format!("FHE task: {e}")))?
        .map_err(|e| GatewayError::invalid("ciphertext", e.to_string()))?;
    let ciphertext = to_bytes(&out, CIPHERTEXT_LIMIT).map_err(|e| GatewayError::Internal(e.to_string()))?;
    Ok(InferEncryptedResponse { ciphertext })
}

/// Expanded server keys (a few hundred MB each for MLPs), kept for the last few keys used.
#[derive(Debug, Default)]
pub struct ServerCache {
    entries: std::sync::Mutex<Vec<(String, Arc<Server>)>>,
}

impl ServerCache {
    const CAPACITY: usize = 2;

    fn get(&self, blob: &str) -> Option<Arc<Server>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().find(|(b, _)| b == blob).map(|(_, s)| s.clone())
    }

    fn put(&self, blob: &str, server: Server) -> Arc<Server> {
        let server = Arc::new(server);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(b, _)| b != blob);
        if entries.len() >= Self::CAPACITY {
            entries.remove(0);
        }
        entries.push((blob.to_string(), server.clone()));
        server
    }
}

#[tonic::async_trait]
impl KeyService for FheApi {
    async fn upload_server_key(
        &self,
        request: Request<Streaming<UploadServerKeyRequest>>,
    ) -> Result<Response<UploadServerKeyResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "UploadServerKey", self.upload(tenant, request.into_inner())).await
    }
}
