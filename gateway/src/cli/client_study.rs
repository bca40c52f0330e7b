//! `cipherproof client study ...`: a party's or coordinator's side of a study
//! served by a gateway (`StudyService`). The files are those of the offline
//! `cipherproof study` commands: `study.pub` from setup, records from
//! `study encrypt`, shares from `study partial-decrypt`.

use super::client_cmd::{CHUNK, Conn, Intercepted, status};
use super::fhe_cmd::{read, write};
use anyhow::Result;
use cipherproof_fhe::wire::{CIPHERTEXT_LIMIT, STUDY_LIMIT};
use cipherproof_gateway::proto::v1::study_service_client::StudyServiceClient;
use cipherproof_gateway::proto::v1::submit_records_request::Part;
use cipherproof_gateway::proto::v1::*;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct StudyClientArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[command(subcommand)]
    pub command: StudyClientCommand,
}

#[derive(Debug, Subcommand)]
pub enum StudyClientCommand {
    /// Coordinator: register a study set up with `cipherproof study setup` (its public file only).
    Create {
        /// The study's public file (`study.pub`).
        #[arg(long)]
        study: PathBuf,
        #[arg(long)]
        name: String,
        /// The tenant of each party, in party order (default: the caller is every party).
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
    },
    /// Show a study: parties, members, slots and the records submitted so far.
    Show {
        #[arg(long)]
        study_id: String,
    },
    /// Party: submit a file of encrypted records (`cipherproof study encrypt`).
    Submit {
        #[arg(long)]
        study_id: String,
        #[arg(long)]
        party: u32,
        #[arg(long)]
        records: PathBuf,
    },
    /// Add every record submitted so far; writes the aggregate for the parties to decrypt.
    Aggregate {
        #[arg(long)]
        study_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Fetch an aggregate (to run `cipherproof study partial-decrypt` on it).
    FetchAggregate {
        #[arg(long)]
        aggregate_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Party: submit its decryption share of an aggregate (`cipherproof study partial-decrypt`).
    Share {
        #[arg(long)]
        aggregate_id: String,
        #[arg(long)]
        party: u32,
        #[arg(long)]
        share: PathBuf,
    },
    /// The decrypted statistics of an aggregate (once every party's share is in), as JSON.
    Result {
        #[arg(long)]
        aggregate_id: String,
    },
}

async fn client(conn: &Conn) -> Result<StudyServiceClient<Intercepted>> {
    let (c, b) = conn.channel().await?;
    Ok(StudyServiceClient::with_interceptor(c, b).max_decoding_message_size(256 << 20))
}

fn study_json(s: &Study) -> serde_json::Value {
    serde_json::json!({
        "study_id": s.study_id, "name": s.name, "parties": s.parties, "members": s.members,
        "slot_names": s.slot_names, "max_records": s.max_records, "party_records": s.party_records,
    })
}

fn aggregate_json(a: &AggregateResponse) -> serde_json::Value {
    serde_json::json!({ "aggregate_id": a.aggregate_id, "study_id": a.study_id, "records": a.records })
}

pub async fn study_client(a: &StudyClientArgs) -> Result<()> {
    let mut c = client(&a.conn).await?;
    let out = match &a.command {
        StudyClientCommand::Create { study, name, members } => {
            let req = CreateStudyRequest {
                name: name.clone(),
                study_public: read(study, STUDY_LIMIT)?,
                members: members.clone(),
            };
            study_json(&c.create_study(req).await.map_err(status)?.into_inner())
        }
        StudyClientCommand::Show { study_id } => {
            let req = GetStudyRequest { study_id: study_id.clone() };
            study_json(&c.get_study(req).await.map_err(status)?.into_inner())
        }
        StudyClientCommand::Submit { study_id, party, records } => {
            let bytes = read(records, CIPHERTEXT_LIMIT)?;
            let mut messages = vec![SubmitRecordsRequest {
                part: Some(Part::Options(SubmitRecordsOptions { study_id: study_id.clone(), party: *party })),
            }];
            messages.extend(bytes.chunks(CHUNK).map(|ch| SubmitRecordsRequest { part: Some(Part::Chunk(ch.to_vec())) }));
            let r = c.submit_records(tokio_stream::iter(messages)).await.map_err(status)?.into_inner();
            serde_json::json!({
                "party_records": r.party_records, "study_records": r.study_records, "duplicate": r.duplicate,
            })
        }
        StudyClientCommand::Aggregate { study_id, out } => {
            let req = AggregateRequest { study_id: study_id.clone() };
            let r = c.aggregate(req).await.map_err(status)?.into_inner();
            write(out, &r.aggregate)?;
            aggregate_json(&r)
        }
        StudyClientCommand::FetchAggregate { aggregate_id, out } => {
            let req = GetAggregateRequest { aggregate_id: aggregate_id.clone() };
            let r = c.get_aggregate(req).await.map_err(status)?.into_inner();
            write(out, &r.aggregate)?;
            aggregate_json(&r)
        }
        StudyClientCommand::Share { aggregate_id, party, share } => {
            let req = SubmitDecryptionShareRequest {
                aggregate_id: aggregate_id.clone(),
                party: *party,
                share: read(share, STUDY_LIMIT)?,
            };
            let r = c.submit_decryption_share(req).await.map_err(status)?.into_inner();
            serde_json::json!({ "shares": r.shares, "parties": r.parties })
        }
        StudyClientCommand::Result { aggregate_id } => {
            let req = GetResultRequest { aggregate_id: aggregate_id.clone() };
            let r = c.get_result(req).await.map_err(status)?.into_inner();
            let values: serde_json::Map<String, serde_json::Value> =
                r.slot_names.into_iter().zip(r.values).map(|(n, v)| (n, serde_json::json!(v))).collect();
            serde_json::json!({ "records": r.records, "values": values })
        }
    };
    println!("{out}");
    Ok(())
}
