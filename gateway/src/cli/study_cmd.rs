//! `cipherproof study setup | encrypt | aggregate | partial-decrypt | combine`:
//! multi-party encrypted analytics with n-of-n decryption (`cipherproof_fhe::study`).

use super::fhe_cmd::write;
use anyhow::{Context, Result};
use cipherproof_fhe::study::{self, Aggregate, DecryptionShare, EncryptedRecords, KeyShare, Schema, StudyPublic};
use cipherproof_fhe::wire::STUDY_LIMIT;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub command: StudyCommand,
}

#[derive(Debug, Subcommand)]
pub enum StudyCommand {
    /// Coordinator: create the study (public key and one key share per party; the full key is dropped).
    Setup {
        #[arg(long)]
        parties: u32,
        /// {"fields": [{"kind": "numeric", "name": .., "max": ..} | {"kind": "categorical", "name": .., "categories": ..}], "cohort_field": .., "max_records": ..}
        #[arg(long)]
        schema: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Party: encrypt records from a CSV (a header naming the schema's fields, integer values).
    Encrypt {
        #[arg(long)]
        study: PathBuf,
        #[arg(long)]
        party: u32,
        #[arg(long)]
        records: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Server: add every party's encrypted records.
    Aggregate {
        #[arg(long)]
        study: PathBuf,
        #[arg(long, num_args = 1.., required = true)]
        records: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Party: its decryption share of an aggregate.
    PartialDecrypt {
        #[arg(long)]
        study: PathBuf,
        #[arg(long)]
        share: PathBuf,
        #[arg(long)]
        aggregate: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Anyone: combine all parties' shares into the aggregate statistics.
    Combine {
        #[arg(long)]
        study: PathBuf,
        #[arg(long)]
        aggregate: PathBuf,
        #[arg(long, num_args = 1.., required = true)]
        shares: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

fn read(path: &Path) -> Result<Vec<u8>> {
    super::fhe_cmd::read(path, STUDY_LIMIT)
}

fn public(path: &Path) -> Result<StudyPublic> {
    StudyPublic::from_bytes(&read(path)?).with_context(|| path.display().to_string())
}

/// Records from a CSV whose header names the schema's fields (any order).
fn read_csv(path: &Path, schema: &Schema) -> Result<Vec<Vec<u32>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().context("empty CSV")?.split(',').map(str::trim).collect();
    let order = schema
        .fields
        .iter()
        .map(|f| {
            header
                .iter()
                .position(|h| *h == f.name())
                .with_context(|| format!("{}: no column {:?}", path.display(), f.name()))
        })
        .collect::<Result<Vec<_>>>()?;
    lines
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            order
                .iter()
                .map(|&c| {
                    let cell = cells.get(c).with_context(|| format!("{}: row {}: too few columns", path.display(), i + 1))?;
                    cell.parse::<u32>()
                        .with_context(|| format!("{}: row {}: {cell:?} is not a non-negative integer", path.display(), i + 1))
                })
                .collect()
        })
        .collect()
}

pub fn study_cmd(args: &StudyArgs) -> Result<()> {
    match &args.command {
        StudyCommand::Setup { parties, schema, out } => {
            let schema: Schema = serde_json::from_slice(&std::fs::read(schema).with_context(|| schema.display().to_string())?)
                .with_context(|| format!("{} is not a study schema", schema.display()))?;
            let (public, shares) = study::setup(*parties, &schema)?;
            std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
            write(&out.join("study.pub"), &public.to_bytes()?)?;
            for s in &shares {
                write(&out.join(format!("party-{}.share", s.party)), &s.to_bytes()?)?;
            }
            let p = public.params()?;
            println!(
                "{}",
                serde_json::json!({
                    "study_id": public.study_id, "parties": parties, "slots": schema.slots()?,
                    "log_delta": p.log_delta, "smudge_log2": p.smudge_log2,
                    "smudge_hiding_log2": p.smudge_hiding_log2,
                })
            );
        }
        StudyCommand::Encrypt { study: s, party, records, out } => {
            let public = public(s)?;
            let rows = read_csv(records, &public.schema()?)?;
            let enc = study::encrypt_records(&public, *party, &rows)?;
            write(out, &enc.to_bytes()?)?;
            eprintln!("encrypted {} records", rows.len());
        }
        StudyCommand::Aggregate { study: s, records, out } => {
            let public = public(s)?;
            let batches = records
                .iter()
                .map(|p| EncryptedRecords::from_bytes(&read(p)?).with_context(|| p.display().to_string()))
                .collect::<Result<Vec<_>>>()?;
            let agg = study::aggregate(&public, &batches)?;
            write(out, &agg.to_bytes()?)?;
            println!("{}", serde_json::json!({ "aggregate_id": agg.aggregate_id, "records": agg.records }));
        }
        StudyCommand::PartialDecrypt { study: s, share, aggregate, out } => {
            let public = public(s)?;
            let key = KeyShare::from_bytes(&read(share)?).with_context(|| share.display().to_string())?;
            let agg = Aggregate::from_bytes(&read(aggregate)?).with_context(|| aggregate.display().to_string())?;
            write(out, &study::partial_decrypt(&public, &key, &agg)?.to_bytes()?)?;
        }
        StudyCommand::Combine { study: s, aggregate, shares, json } => {
            let public = public(s)?;
            let agg = Aggregate::from_bytes(&read(aggregate)?).with_context(|| aggregate.display().to_string())?;
            let shares = shares
                .iter()
                .map(|p| DecryptionShare::from_bytes(&read(p)?).with_context(|| p.display().to_string()))
                .collect::<Result<Vec<_>>>()?;
            let values = study::combine(&public, &agg, &shares)?;
            let names = public.schema()?.slot_names()?;
            if *json {
                let map: serde_json::Map<String, serde_json::Value> =
                    names.into_iter().zip(values).map(|(n, v)| (n, serde_json::json!(v))).collect();
                println!("{}", serde_json::Value::Object(map));
            } else {
                for (n, v) in names.iter().zip(values) {
                    println!("{n:40} {v}");
                }
            }
        }
    }
    Ok(())
}
