//! The versioned proof file (`PROOF.json`).

use crate::compile::SrsSource;
use crate::error::{ProverError, Result, io_err};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

pub const PROOF_VERSION: u32 = 1;
/// Proof files larger than this are refused unread.
pub const MAX_PROOF_FILE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofFile {
    pub version: u32,
    /// The compiled model this proof is for (hash of quantized model and vk).
    pub model_id: String,
    pub k: u32,
    /// SHPLONK proof over the Keccak (EVM) transcript, hex.
    pub proof: String,
    /// Public instances (one column), each a 32-byte big-endian field element in hex.
    pub instances: Vec<Vec<String>>,
    /// The proven outputs as signed integers (the packed output instances,
    /// decoded: `cipherproof_circuits::packing`).
    pub quantized_outputs: Vec<i64>,
    pub dequantized_outputs: Vec<f64>,
    pub argmax: usize,
    pub srs: SrsSource,
    /// What the proof says about the input (its visibility was fixed at compile time).
    #[serde(default)]
    pub input: InputClaim,
}

/// The input part of the public instances.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "visibility", rename_all = "kebab-case")]
pub enum InputClaim {
    /// Nothing about the input is revealed.
    #[default]
    Private,
    /// The quantized input, as the first instances.
    Public { values: Vec<i64> },
    /// A Poseidon commitment (width 3, rate 2, 8 full / 57 partial rounds) to the quantized input, as the first instance.
    Hashed { commitment: String },
}

impl InputClaim {
    /// The instances this claim stands for.
    pub fn instances(&self) -> Option<Vec<Fr>> {
        match self {
            InputClaim::Private => Some(Vec::new()),
            InputClaim::Public { values } => Some(
                values
                    .iter()
                    .map(|&v| cipherproof_circuits::field::fr_i64(v))
                    .collect(),
            ),
            InputClaim::Hashed { commitment } => fr_from_hex(commitment).map(|f| vec![f]),
        }
    }
}

pub fn fr_to_hex(f: &Fr) -> String {
    let mut bytes = f.to_repr();
    bytes.reverse();
    format!("0x{}", hex::encode(bytes))
}

pub fn fr_from_hex(s: &str) -> Option<Fr> {
    let bytes = hex::decode(s.strip_prefix("0x").unwrap_or(s)).ok()?;
    let mut repr: [u8; 32] = bytes.try_into().ok()?;
    repr.reverse();
    Option::from(Fr::from_repr(repr))
}

impl ProofFile {
    pub fn proof_bytes(&self) -> Result<Vec<u8>> {
        hex::decode(self.proof.strip_prefix("0x").unwrap_or(&self.proof)).map_err(|e| {
            ProverError::Corrupt {
                path: "proof".into(),
                reason: format!("proof is not hex: {e}"),
            }
        })
    }

    pub fn instance_values(&self) -> Result<Vec<Vec<Fr>>> {
        self.instances
            .iter()
            .map(|col| {
                col.iter()
                    .map(|s| {
                        fr_from_hex(s).ok_or_else(|| ProverError::Corrupt {
                            path: "instances".into(),
                            reason: format!("'{s}' is not a field element"),
                        })
                    })
                    .collect()
            })
            .collect()
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| ProverError::Corrupt {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, json).map_err(io_err(path))
    }

    pub fn read(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(io_err(path))?;
        let mut bytes = Vec::new();
        f.take(MAX_PROOF_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err(path))?;
        let corrupt = |reason: String| ProverError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        if bytes.len() as u64 > MAX_PROOF_FILE_BYTES {
            return Err(corrupt(format!("larger than {MAX_PROOF_FILE_BYTES} bytes")));
        }
        let p: ProofFile = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("not a cipherproof proof file: {e}")))?;
        if p.version != PROOF_VERSION {
            return Err(corrupt(format!(
                "proof format version {} (this build reads {PROOF_VERSION})",
                p.version
            )));
        }
        Ok(p)
    }
}
