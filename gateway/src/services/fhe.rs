//! FHE key upload and joint-analytics studies: their engine (`cipherproof-fhe`,
//! the encrypted-inference issue) is not built into this gateway yet, so every
//! call answers UNIMPLEMENTED with that reason rather than pretending.

use crate::proto::v1::key_service_server::KeyService;
use crate::proto::v1::study_service_server::StudyService;
use crate::proto::v1::*;
use tonic::{Request, Response, Status, Streaming};

pub const NOT_BUILT: &str = "encrypted inference is not available: this gateway is built without the \
     TFHE engine (cipherproof-fhe has not landed yet)";

#[derive(Debug, Clone, Copy)]
pub struct FheApi;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented(NOT_BUILT))
}

#[tonic::async_trait]
impl KeyService for FheApi {
    async fn upload_server_key(
        &self,
        _: Request<Streaming<UploadServerKeyRequest>>,
    ) -> Result<Response<UploadServerKeyResponse>, Status> {
        unimplemented()
    }
}

#[tonic::async_trait]
impl StudyService for FheApi {
    async fn create_study(&self, _: Request<CreateStudyRequest>) -> Result<Response<Study>, Status> {
        unimplemented()
    }
    async fn submit_records(
        &self,
        _: Request<SubmitRecordsRequest>,
    ) -> Result<Response<SubmitRecordsResponse>, Status> {
        unimplemented()
    }
    async fn aggregate(&self, _: Request<AggregateRequest>) -> Result<Response<AggregateResponse>, Status> {
        unimplemented()
    }
    async fn submit_decryption_share(
        &self,
        _: Request<SubmitDecryptionShareRequest>,
    ) -> Result<Response<SubmitDecryptionShareResponse>, Status> {
        unimplemented()
    }
    async fn get_result(&self, _: Request<GetResultRequest>) -> Result<Response<GetResultResponse>, Status> {
        unimplemented()
    }
}
