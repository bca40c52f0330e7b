//! `StudyService`: multi-party encrypted analytics (`cipherproof_fhe::study`)
//! over gRPC. The coordinator registers the study's public file (setup runs on
//! its own machine; the gateway never sees a key share), parties stream their
//! encrypted records, anyone in the study asks for an aggregate, each party
//! returns its partial decryption of it, and the result is combined only when
//! all of them are in.
//!
//! Who may do what: the creator and the members (one tenant per party) see the
//! study, its aggregates and results; only a party's own tenant submits its
//! records and its decryption share (PERMISSION_DENIED otherwise). Everyone
//! else gets NOT_FOUND.

use super::{UploadPart, collect_upload, observed};
use crate::auth::tenant;
use crate::blobs::BlobStore;
use crate::error::{GatewayError, Result};
use crate::proto::v1::study_service_server::StudyService;
use crate::proto::v1::submit_records_request::Part;
use crate::proto::v1::*;
use crate::server::Shared;
use crate::store::{AggregateRecord, Inserted, StudyRecord};
use cipherproof_fhe::study::{self, DecryptionShare, EncryptedRecords, Schema, StudyPublic};
use cipherproof_fhe::wire::CIPHERTEXT_LIMIT;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

/// The largest study-name length.
const MAX_NAME: usize = 128;

#[derive(Debug, Clone)]
pub struct StudyApi {
    shared: Arc<Shared>,
}

impl StudyApi {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

/// A study, its public file (bytes and parsed) and its schema, if `tenant` may see it.
struct Visible {
    record: StudyRecord,
    public_bytes: Vec<u8>,
    public: StudyPublic,
    schema: Schema,
}

impl Visible {
    fn new(record: StudyRecord, public_bytes: Vec<u8>) -> Result<Self> {
        let public = StudyPublic::from_bytes(&public_bytes).map_err(corrupt("stored study"))?;
        let schema = public.schema().map_err(corrupt("stored study"))?;
        Ok(Self { record, public_bytes, public, schema })
    }
}

async fn visible_study(shared: &Shared, tenant: &str, study_id: &str) -> Result<Visible> {
    let record = shared
        .store
        .study(study_id)
        .await?
        .filter(|s| s.visible_to(tenant))
        .ok_or_else(|| GatewayError::not_found("study", study_id))?;
    let bytes = shared.blobs.get(&record.public_blob)?;
    Visible::new(record, bytes)
}

async fn visible_aggregate(shared: &Shared, tenant: &str, aggregate_id: &str) -> Result<(Visible, AggregateRecord)> {
    let agg = shared
        .store
        .aggregate(aggregate_id)
        .await?
        .ok_or_else(|| GatewayError::not_found("aggregate", aggregate_id))?;
    let study = visible_study(shared, tenant, &agg.study_id)
        .await
        .map_err(|e| match e {
            GatewayError::NotFound { .. } => GatewayError::not_found("aggregate", aggregate_id),
            other => other,
        })?;
    Ok((study, agg))
}

fn check_party(study: &Visible, tenant: &str, party: u32) -> Result<()> {
    if party >= study.public.parties {
        return Err(GatewayError::invalid(
            "party",
            format!("party {party}: the study has parties 0..{}", study.public.parties),
        ));
    }
    if !study.record.speaks_for(tenant, party) {
        return Err(GatewayError::PermissionDenied(format!(
            "tenant {tenant:?} does not speak for party {party} of study {}",
            study.record.study_id
        )));
    }
    Ok(())
}

fn corrupt(what: &str) -> impl FnOnce(cipherproof_fhe::FheError) -> GatewayError + '_ {
    move |e| GatewayError::Corrupt { what: what.into(), reason: e.to_string() }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| GatewayError::Internal(format!("study task: {e}")))
}

impl StudyApi {
    async fn describe(&self, study: &Visible) -> Result<Study> {
        let schema = &study.schema;
        let mut party_records = vec![0u64; study.public.parties as usize];
        for (party, _, n) in self.shared.store.study_records(&study.record.study_id).await? {
            if let Some(slot) = party_records.get_mut(party as usize) {
                *slot += n;
            }
        }
        Ok(Study {
            study_id: study.record.study_id.clone(),
            name: study.record.name.clone(),
            parties: study.public.parties,
            members: study.record.members.clone(),
            slot_names: schema.slot_names().map_err(corrupt("stored study"))?,
            max_records: schema.max_records,
            party_records,
            study_public: study.public_bytes.clone(),
        })
    }

    async fn create(&self, tenant: String, req: CreateStudyRequest) -> Result<Study> {
        if req.name.trim().is_empty() || req.name.len() > MAX_NAME {
            return Err(GatewayError::invalid("name", format!("a study name needs 1 to {MAX_NAME} characters")));
        }
        let public = StudyPublic::from_bytes(&req.study_public)
            .map_err(|e| GatewayError::invalid("study_public", format!("not a study's public file: {e}")))?;
        public.check().map_err(|e| GatewayError::invalid("study_public", e.to_string()))?;
        let members = if req.members.is_empty() {
            vec![tenant.clone(); public.parties as usize]
        } else if req.members.len() != public.parties as usize || req.members.iter().any(|m| m.trim().is_empty()) {
            return Err(GatewayError::invalid(
                "members",
                format!("name one tenant per party ({} parties; got {})", public.parties, req.members.len()),
            ));
        } else {
            req.members
        };
        let record = StudyRecord {
            study_id: public.study_id.clone(),
            tenant,
            name: req.name,
            members,
            public_blob: self.shared.blobs.put(&req.study_public)?,
        };
        self.shared.store.put_study(&record).await?;
        let schema = public.schema().map_err(|e| GatewayError::invalid("study_public", e.to_string()))?;
        self.describe(&Visible { record, public_bytes: req.study_public, public, schema }).await
    }

    async fn get(&self, tenant: String, req: GetStudyRequest) -> Result<Study> {
        let study = visible_study(&self.shared, &tenant, &req.study_id).await?;
        self.describe(&study).await
    }

    async fn submit(&self, tenant: String, stream: Streaming<SubmitRecordsRequest>) -> Result<SubmitRecordsResponse> {
        let (options, bytes) = collect_upload(stream, "chunk", "records file", CIPHERTEXT_LIMIT as usize, |m: SubmitRecordsRequest| {
            m.part.map(|p| match p {
                Part::Options(o) => UploadPart::Options(o),
                Part::Chunk(c) => UploadPart::Chunk(c),
            })
        })
        .await?;
        let study = visible_study(&self.shared, &tenant, &options.study_id).await?;
        check_party(&study, &tenant, options.party)?;
        let batch = EncryptedRecords::from_bytes(&bytes)
            .map_err(|e| GatewayError::invalid("chunk", format!("not an encrypted-records file: {e}")))?;
        if batch.party != options.party {
            return Err(GatewayError::invalid(
                "party",
                format!("the file holds party {}'s records, sent as party {}", batch.party, options.party),
            ));
        }
        study::check_records(&study.public, &batch).map_err(|e| GatewayError::invalid("chunk", e.to_string()))?;
        let store = &self.shared.store;
        let before = store.study_records(&study.record.study_id).await?;
        let max = study.schema.max_records;
        let total: u64 = before.iter().map(|(_, _, n)| n).sum();
        let hash = BlobStore::hash_of(&bytes);
        let duplicate = before.iter().any(|(_, b, _)| *b == hash);
        if !duplicate && total + batch.count > max {
            return Err(GatewayError::FailedPrecondition(format!(
                "{} more records would exceed the study's maximum of {max} (it holds {total})",
                batch.count
            )));
        }
        let blob = self.shared.blobs.put(&bytes)?;
        let inserted = store.put_study_records(&study.record.study_id, options.party, &blob, batch.count).await?;
        let after = store.study_records(&study.record.study_id).await?;
        Ok(SubmitRecordsResponse {
            party_records: after.iter().filter(|(p, _, _)| *p == options.party).map(|(_, _, n)| n).sum(),
            study_records: after.iter().map(|(_, _, n)| n).sum(),
            duplicate: inserted == Inserted::Duplicate,
        })
    }

    async fn aggregate_now(&self, tenant: String, req: AggregateRequest) -> Result<AggregateResponse> {
        let study = visible_study(&self.shared, &tenant, &req.study_id).await?;
        let files = self.shared.store.study_records(&study.record.study_id).await?;
        if files.is_empty() {
            return Err(GatewayError::FailedPrecondition(format!(
                "study {} has no records yet",
                study.record.study_id
            )));
        }
        let batches = files
            .iter()
            .map(|(_, blob, _)| EncryptedRecords::from_bytes(&self.shared.blobs.get(blob)?).map_err(corrupt("stored records")))
            .collect::<Result<Vec<_>>>()?;
        let public = study.public;
        let agg = blocking(move || study::aggregate(&public, &batches))
            .await?
            .map_err(|e| GatewayError::FailedPrecondition(e.to_string()))?;
        let bytes = agg.to_bytes().map_err(corrupt("aggregate"))?;
        let record = AggregateRecord {
            aggregate_id: agg.aggregate_id.clone(),
            study_id: agg.study_id.clone(),
            records: agg.records,
            blob: self.shared.blobs.put(&bytes)?,
        };
        self.shared.store.put_aggregate(&record).await?;
        Ok(AggregateResponse {
            aggregate_id: record.aggregate_id,
            study_id: record.study_id,
            records: record.records,
            aggregate: bytes,
        })
    }

    async fn fetch_aggregate(&self, tenant: String, req: GetAggregateRequest) -> Result<AggregateResponse> {
        let (_, agg) = visible_aggregate(&self.shared, &tenant, &req.aggregate_id).await?;
        Ok(AggregateResponse {
            aggregate: self.shared.blobs.get(&agg.blob)?,
            aggregate_id: agg.aggregate_id,
            study_id: agg.study_id,
            records: agg.records,
        })
    }

    async fn submit_share(&self, tenant: String, req: SubmitDecryptionShareRequest) -> Result<SubmitDecryptionShareResponse> {
        let (study, agg) = visible_aggregate(&self.shared, &tenant, &req.aggregate_id).await?;
        check_party(&study, &tenant, req.party)?;
        let share = DecryptionShare::from_bytes(&req.share)
            .map_err(|e| GatewayError::invalid("share", format!("not a decryption share: {e}")))?;
        let slots = study.schema.slots().map_err(corrupt("stored study"))?;
        if share.study_id != agg.study_id || share.aggregate_id != agg.aggregate_id || share.party != req.party {
            return Err(GatewayError::invalid(
                "share",
                format!(
                    "this is party {}'s share of aggregate {}, sent as party {}'s share of {}",
                    share.party, share.aggregate_id, req.party, agg.aggregate_id
                ),
            ));
        }
        if share.values.len() != slots {
            return Err(GatewayError::invalid(
                "share",
                format!("{} values for the study's {slots} slots", share.values.len()),
            ));
        }
        let blob = self.shared.blobs.put(&req.share)?;
        self.shared.store.put_study_share(&agg.aggregate_id, req.party, &blob).await?;
        Ok(SubmitDecryptionShareResponse {
            shares: self.shared.store.study_shares(&agg.aggregate_id).await?.len() as u32,
            parties: study.public.parties,
        })
    }

    async fn result(&self, tenant: String, req: GetResultRequest) -> Result<GetResultResponse> {
        let (study, agg) = visible_aggregate(&self.shared, &tenant, &req.aggregate_id).await?;
        let stored = self.shared.store.study_shares(&agg.aggregate_id).await?;
        let missing: Vec<String> = (0..study.public.parties)
            .filter(|p| !stored.iter().any(|(q, _)| q == p))
            .map(|p| p.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(GatewayError::FailedPrecondition(format!(
                "waiting for the decryption shares of parties {} (all {} are needed)",
                missing.join(", "),
                study.public.parties
            )));
        }
        let shares = stored
            .iter()
            .map(|(_, blob)| DecryptionShare::from_bytes(&self.shared.blobs.get(blob)?).map_err(corrupt("stored share")))
            .collect::<Result<Vec<_>>>()?;
        let aggregate = study::Aggregate::from_bytes(&self.shared.blobs.get(&agg.blob)?).map_err(corrupt("stored aggregate"))?;
        let values = study::combine(&study.public, &aggregate, &shares).map_err(corrupt("study result"))?;
        Ok(GetResultResponse {
            values,
            slot_names: study.schema.slot_names().map_err(corrupt("stored study"))?,
            records: agg.records,
        })
    }
}

#[tonic::async_trait]
impl StudyService for StudyApi {
    async fn create_study(&self, request: Request<CreateStudyRequest>) -> Result<Response<Study>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "CreateStudy", self.create(tenant, request.into_inner())).await
    }
    async fn get_study(&self, request: Request<GetStudyRequest>) -> Result<Response<Study>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "GetStudy", self.get(tenant, request.into_inner())).await
    }
    async fn submit_records(
        &self,
        request: Request<Streaming<SubmitRecordsRequest>>,
    ) -> Result<Response<SubmitRecordsResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "SubmitRecords", self.submit(tenant, request.into_inner())).await
    }
    async fn aggregate(&self, request: Request<AggregateRequest>) -> Result<Response<AggregateResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "Aggregate", self.aggregate_now(tenant, request.into_inner())).await
    }
    async fn get_aggregate(&self, request: Request<GetAggregateRequest>) -> Result<Response<AggregateResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "GetAggregate", self.fetch_aggregate(tenant, request.into_inner())).await
    }
    async fn submit_decryption_share(
        &self,
        request: Request<SubmitDecryptionShareRequest>,
    ) -> Result<Response<SubmitDecryptionShareResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "SubmitDecryptionShare", self.submit_share(tenant, request.into_inner())).await
    }
    async fn get_result(&self, request: Request<GetResultRequest>) -> Result<Response<GetResultResponse>, Status> {
        let tenant = tenant(&request)?.0;
        observed(&self.shared, "GetResult", self.result(tenant, request.into_inner())).await
    }
}
