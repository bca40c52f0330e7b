//! Multi-party encrypted analytics ("studies") with n-of-n decryption.
//!
//! * **Setup** (run once by a coordinator, who is trusted *during setup
//!   only*): a binary LWE secret key `s` (dimension 2048) is generated, the
//!   compact public key is derived from it, `s` is split into additive shares
//!   `s = s₁ + … + sₙ (mod 2^64)` (`s₁ … sₙ₋₁` uniform, so any n−1 shares are
//!   uniformly random and independent of `s`), one per party, and `s` is
//!   dropped: it is never written anywhere.
//! * **Records**: each party encodes its records under the study's agreed
//!   schema into slots (a count slot, numeric values, categorical fields
//!   one-hot, and the same again per category of the cohort field, computed in
//!   clear by the party before encryption), and encrypts them with the public
//!   key as compact ciphertext lists.
//! * **Aggregate**: records are packed ~2048/slots to a compact list; the
//!   server adds every party's lists slot-wise while they are still compact
//!   (one add per list, no expansion), expands the sum once and adds its
//!   record blocks together. It never holds any key share.
//! * **Decrypt**: each party returns `⟨aⱼ, sᵢ⟩ + smudgeᵢⱼ` for every slot;
//!   `bⱼ − Σᵢ dᵢⱼ` decodes to the slot sums only when all n shares are there.
//!   Smudging noise (uniform, ±2^smudge_log2) hides each party's exact inner
//!   products; with a 64-bit torus it can be only a few bits above the
//!   aggregate's own noise, which `StudyParams::smudge_hiding_log2` states.

// tfhe-versionable's derives generate helper types without Debug.
#![allow(missing_debug_implementations)]

use crate::encoding::{decode, encode};
use crate::error::{FheError, Result, corrupt};
use crate::keys::generators;
use crate::params::DEFAULT_PARAMS;
use crate::wire::{STUDY_LIMIT, versioned};
use rand::Rng;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tfhe::core_crypto::prelude::*;
use tfhe_versionable::Versionize;

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Field {
    /// An integer in `0..=max`.
    Numeric { name: String, max: u32 },
    /// One of `categories` values `0..categories`, encoded one-hot.
    Categorical { name: String, categories: u32 },
}

impl Field {
    pub fn name(&self) -> &str {
        match self {
            Field::Numeric { name, .. } | Field::Categorical { name, .. } => name,
        }
    }

    fn width(&self) -> usize {
        match self {
            Field::Numeric { .. } => 1,
            Field::Categorical { categories, .. } => *categories as usize,
        }
    }
}

/// The agreed schema: the fields, the cohort field (categorical) whose
/// categories get their own filtered statistics, and the most records a study may hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub fields: Vec<Field>,
    pub cohort_field: Option<String>,
    pub max_records: u64,
}

/// Encoding and noise facts of a study.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StudyParams {
    pub log_delta: u32,
    /// Each party's smudging noise is uniform in ±2^smudge_log2.
    pub smudge_log2: u32,
    /// log2 of the aggregate's estimated noise standard deviation (public-key encryption, summed).
    pub aggregate_noise_log2: f64,
    /// log2 of the statistical distance smudging leaves per decrypted slot
    /// (aggregate noise bound / smudging bound): how well a partial decryption hides a share.
    pub smudge_hiding_log2: f64,
}

impl Schema {
    fn cohort(&self) -> Result<Option<(usize, u32)>> {
        let Some(name) = &self.cohort_field else {
            return Ok(None);
        };
        match self.fields.iter().enumerate().find(|(_, f)| f.name() == name) {
            Some((i, Field::Categorical { categories, .. })) => Ok(Some((i, *categories))),
            Some(_) => Err(FheError::Study(format!("cohort field {name:?} must be categorical"))),
            None => Err(FheError::Study(format!("cohort field {name:?} is not a field"))),
        }
    }

    /// Slots of one block: count, then every field.
    fn block(&self) -> usize {
        1 + self.fields.iter().map(Field::width).sum::<usize>()
    }

    /// Records packed into one compact list (it holds up to the key's dimension of values).
    pub fn records_per_list(&self) -> Result<usize> {
        Ok((DEFAULT_PARAMS.dimension / self.slots()?).max(1))
    }

    /// Slots of a record: the block for everyone, then one block per cohort category.
    pub fn slots(&self) -> Result<usize> {
        let cohorts = self.cohort()?.map_or(0, |(_, k)| k as usize);
        Ok(self.block() * (1 + cohorts))
    }

    fn largest_value(&self) -> u64 {
        self.fields
            .iter()
            .map(|f| match f {
                Field::Numeric { max, .. } => u64::from(*max),
                Field::Categorical { .. } => 1,
            })
            .max()
            .unwrap_or(1)
            .max(1)
    }

    pub fn validate(&self) -> Result<()> {
        if self.fields.is_empty() {
            return Err(FheError::Study("the schema has no fields".into()));
        }
        for f in &self.fields {
            if let Field::Categorical { categories: 0, name } = f {
                return Err(FheError::Study(format!("field {name:?} has no categories")));
            }
        }
        if self.slots()? > DEFAULT_PARAMS.dimension {
            return Err(FheError::Study(format!(
                "{} slots per record; at most {} fit one compact list",
                self.slots()?,
                DEFAULT_PARAMS.dimension
            )));
        }
        if self.max_records == 0 {
            return Err(FheError::Study("max_records must be positive".into()));
        }
        Ok(())
    }

    /// Encodes one record (one value per field) into its slots.
    pub fn encode(&self, record: &[u32]) -> Result<Vec<i64>> {
        if record.len() != self.fields.len() {
            return Err(FheError::InvalidInput(format!(
                "a record has {} values; the schema has {} fields",
                record.len(),
                self.fields.len()
            )));
        }
        let mut block = vec![1i64];
        for (f, &v) in self.fields.iter().zip(record) {
            match f {
                Field::Numeric { name, max } => {
                    if v > *max {
                        return Err(FheError::InvalidInput(format!("{name} = {v} is above its maximum {max}")));
                    }
                    block.push(i64::from(v));
                }
                Field::Categorical { name, categories } => {
                    if v >= *categories {
                        return Err(FheError::InvalidInput(format!(
                            "{name} = {v}: categories are 0..{categories}"
                        )));
                    }
                    block.extend((0..*categories).map(|c| i64::from(c == v)));
                }
            }
        }
        let mut slots = block.clone();
        if let Some((field, k)) = self.cohort()? {
            for c in 0..k {
                let inside = record[field] == c;
                slots.extend(block.iter().map(|&x| if inside { x } else { 0 }));
            }
        }
        Ok(slots)
    }

    /// Names the slots: `count`, `FIELD`, `FIELD=CATEGORY`, each prefixed `COHORT=c/` in cohort blocks.
    pub fn slot_names(&self) -> Result<Vec<String>> {
        let mut block = vec!["count".to_string()];
        for f in &self.fields {
            match f {
                Field::Numeric { name, .. } => block.push(format!("sum {name}")),
                Field::Categorical { name, categories } => {
                    block.extend((0..*categories).map(|c| format!("count {name}={c}")));
                }
            }
        }
        let mut names = block.clone();
        if let Some((field, k)) = self.cohort()? {
            let cohort = self.fields[field].name();
            for c in 0..k {
                names.extend(block.iter().map(|n| format!("{cohort}={c}: {n}")));
            }
        }
        Ok(names)
    }

    /// The encoding and smudging that fit this schema.
    pub fn params(&self, parties: u32) -> Result<StudyParams> {
        self.validate()?;
        let max_sum = u128::from(self.max_records) * u128::from(self.largest_value());
        let message_bits = (128 - max_sum.leading_zeros()) + 1;
        let log_delta = 64u32.saturating_sub(message_bits);
        // Public-key encryption: σ ≈ √n·σ_fresh per record; the sum of N records: × √N.
        let fresh = DEFAULT_PARAMS.fresh_std_dev() * (DEFAULT_PARAMS.dimension as f64).sqrt();
        let aggregate_noise_log2 = (fresh * (self.max_records as f64).sqrt()).log2();
        let parties_log2 = (f64::from(parties.max(1))).log2().ceil() as u32;
        // Everything must stay below Δ/2: the aggregate's noise (8σ) plus n smudges.
        let smudge_log2 = log_delta.saturating_sub(2 + parties_log2);
        if (aggregate_noise_log2 + 3.0) >= f64::from(smudge_log2) {
            return Err(FheError::NoiseBudget(format!(
                "sums up to {max_sum} need Δ = 2^{log_delta}, which leaves no room for smudging above the \
                 aggregate noise (2^{aggregate_noise_log2:.1}); lower max_records or field maxima"
            )));
        }
        Ok(StudyParams {
            log_delta,
            smudge_log2,
            aggregate_noise_log2,
            smudge_hiding_log2: aggregate_noise_log2 + 3.0 - f64::from(smudge_log2),
        })
    }
}

/// What every party and the server get: the study, its schema and the public key.
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(StudyPublicVersions)]
pub struct StudyPublic {
    pub study_id: String,
    pub parties: u32,
    /// The [`Schema`] as JSON.
    pub schema_json: String,
    pub public_key: LweCompactPublicKeyOwned<u64>,
}
versioned!(StudyPublic, StudyPublicVersions, "cipherproof::fhe::StudyPublic", STUDY_LIMIT);

/// One party's additive share of the study's secret key.
#[derive(Clone, Serialize, Deserialize, Versionize)]
#[versionize(KeyShareVersions)]
#[allow(missing_debug_implementations)] // manual, redacting the share: below
pub struct KeyShare {
    pub study_id: String,
    pub party: u32,
    pub share: Vec<u64>,
}
versioned!(KeyShare, KeyShareVersions, "cipherproof::fhe::StudyKeyShare", STUDY_LIMIT);

/// A party's encrypted records.
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(EncryptedRecordsVersions)]
pub struct EncryptedRecords {
    pub study_id: String,
    pub party: u32,
    /// How many records the lists hold.
    pub count: u64,
    /// Records packed [`Schema::records_per_list`] to a compact list (unused blocks encrypt zeros).
    pub records: Vec<LweCompactCiphertextListOwned<u64>>,
}
versioned!(EncryptedRecords, EncryptedRecordsVersions, "cipherproof::fhe::StudyRecords", STUDY_LIMIT);

/// The encrypted slot sums over every party's records.
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(AggregateVersions)]
pub struct Aggregate {
    pub study_id: String,
    pub aggregate_id: String,
    pub records: u64,
    pub slots: LweCiphertextListOwned<u64>,
}
versioned!(Aggregate, AggregateVersions, "cipherproof::fhe::StudyAggregate", STUDY_LIMIT);

/// One party's partial decryption of an aggregate.
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(DecryptionShareVersions)]
pub struct DecryptionShare {
    pub study_id: String,
    pub aggregate_id: String,
    pub party: u32,
    pub values: Vec<u64>,
}
versioned!(DecryptionShare, DecryptionShareVersions, "cipherproof::fhe::StudyDecryptionShare", STUDY_LIMIT);

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyShare")
            .field("study_id", &self.study_id)
            .field("party", &self.party)
            .field("share", &"<redacted>")
            .finish()
    }
}

impl StudyPublic {
    pub fn schema(&self) -> Result<Schema> {
        serde_json::from_str(&self.schema_json).map_err(|e| corrupt("study schema", e))
    }

    pub fn params(&self) -> Result<StudyParams> {
        self.schema()?.params(self.parties)
    }

    /// Checks what a server is given: the key's parameters and the schema.
    pub fn check(&self) -> Result<()> {
        if self.public_key.lwe_dimension().0 != DEFAULT_PARAMS.dimension
            || !self.public_key.ciphertext_modulus().is_native_modulus()
        {
            return Err(FheError::Mismatch("the study's public key has other parameters".into()));
        }
        self.params().map(drop)
    }
}

/// Creates a study: its public part and one key share per party. The full
/// secret key exists only inside this call.
pub fn setup(parties: u32, schema: &Schema) -> Result<(StudyPublic, Vec<KeyShare>)> {
    if parties < 2 {
        return Err(FheError::Study("a study needs at least 2 parties".into()));
    }
    schema.params(parties)?;
    let (mut secret_gen, mut enc_gen) = generators();
    let secret: LweSecretKeyOwned<u64> =
        allocate_and_generate_new_binary_lwe_secret_key(LweDimension(DEFAULT_PARAMS.dimension), &mut secret_gen);
    let public_key = allocate_and_generate_new_lwe_compact_public_key(
        &secret,
        DEFAULT_PARAMS.noise(),
        CiphertextModulus::new_native(),
        &mut enc_gen,
    );
    let schema_json = serde_json::to_string(schema).map_err(|e| corrupt("study schema", e))?;
    let mut h = Sha256::new();
    h.update(b"cipherproof-study-v1");
    h.update(schema_json.as_bytes());
    h.update(OsRng.r#gen::<[u8; 32]>());
    let study_id = hex::encode(&h.finalize()[..16]);
    let n = DEFAULT_PARAMS.dimension;
    let mut last: Vec<u64> = secret.as_ref().to_vec();
    let mut shares = Vec::new();
    for party in 0..parties - 1 {
        let share: Vec<u64> = (0..n).map(|_| OsRng.r#gen()).collect();
        for (l, s) in last.iter_mut().zip(&share) {
            *l = l.wrapping_sub(*s);
        }
        shares.push(KeyShare {
            study_id: study_id.clone(),
            party,
            share,
        });
    }
    shares.push(KeyShare {
        study_id: study_id.clone(),
        party: parties - 1,
        share: last,
    });
    drop(secret);
    Ok((
        StudyPublic {
            study_id,
            parties,
            schema_json,
            public_key,
        },
        shares,
    ))
}

/// A party encrypts its records with the study's public key.
pub fn encrypt_records(public: &StudyPublic, party: u32, records: &[Vec<u32>]) -> Result<EncryptedRecords> {
    public.check()?;
    if party >= public.parties {
        return Err(FheError::Study(format!("party {party}: the study has parties 0..{}", public.parties)));
    }
    let schema = public.schema()?;
    let params = schema.params(public.parties)?;
    let encoded = records
        .iter()
        .enumerate()
        .map(|(i, r)| schema.encode(r).map_err(|e| FheError::InvalidInput(format!("record {i}: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    use rayon::prelude::*;
    let per_list = schema.records_per_list()?;
    let width = per_list * schema.slots()?;
    let lists = encoded
        .par_chunks(per_list * 16)
        .map(|chunk| {
            let (_, mut enc_gen) = generators();
            chunk
                .chunks(per_list)
                .map(|group| {
                    let mut values = vec![0u64; width];
                    for (v, &m) in values.iter_mut().zip(group.iter().flatten()) {
                        *v = encode(m, params.log_delta).0;
                    }
                    let mut list = LweCompactCiphertextList::new(
                        0u64,
                        LweDimension(DEFAULT_PARAMS.dimension).to_lwe_size(),
                        LweCiphertextCount(width),
                        CiphertextModulus::new_native(),
                    );
                    encrypt_lwe_compact_ciphertext_list_with_compact_public_key(
                        &public.public_key,
                        &mut list,
                        &PlaintextList::from_container(values),
                        DEFAULT_PARAMS.noise(),
                        DEFAULT_PARAMS.noise(),
                        enc_gen.noise_generator_mut(),
                    );
                    list
                })
                .collect::<Vec<_>>()
        })
        .flatten()
        .collect();
    Ok(EncryptedRecords {
        study_id: public.study_id.clone(),
        party,
        count: records.len() as u64,
        records: lists,
    })
}

/// Checks a party's encrypted records against the study before the server
/// keeps or adds them: the study, the party, and the shape of every list.
pub fn check_records(public: &StudyPublic, batch: &EncryptedRecords) -> Result<()> {
    if batch.study_id != public.study_id {
        return Err(FheError::Mismatch(format!(
            "records of study {} given to study {}",
            batch.study_id, public.study_id
        )));
    }
    if batch.party >= public.parties {
        return Err(FheError::Mismatch(format!(
            "records of party {}: the study has parties 0..{}",
            batch.party, public.parties
        )));
    }
    let schema = public.schema()?;
    let per_list = schema.records_per_list()?;
    let width = per_list * schema.slots()?;
    let lwe_size = LweDimension(DEFAULT_PARAMS.dimension).to_lwe_size();
    for (i, r) in batch.records.iter().enumerate() {
        if r.lwe_size() != lwe_size || r.lwe_ciphertext_count().0 != width || !r.ciphertext_modulus().is_native_modulus() {
            return Err(FheError::Mismatch(format!(
                "party {} list {i}: {} slots of dimension {}; the study packs {width} of dimension {}",
                batch.party,
                r.lwe_ciphertext_count().0,
                r.lwe_size().to_lwe_dimension().0,
                DEFAULT_PARAMS.dimension
            )));
        }
    }
    if batch.count > (batch.records.len() * per_list) as u64 {
        return Err(FheError::Mismatch(format!(
            "party {} claims {} records in {} lists of {per_list}",
            batch.party,
            batch.count,
            batch.records.len()
        )));
    }
    Ok(())
}

/// The server: sums every party's records slot-wise (compact), then expands once.
pub fn aggregate(public: &StudyPublic, batches: &[EncryptedRecords]) -> Result<Aggregate> {
    public.check()?;
    let schema = public.schema()?;
    let slots = schema.slots()?;
    let per_list = schema.records_per_list()?;
    let width = per_list * slots;
    let lwe_size = LweDimension(DEFAULT_PARAMS.dimension).to_lwe_size();
    let mut sum = LweCompactCiphertextList::new(0u64, lwe_size, LweCiphertextCount(width), CiphertextModulus::new_native());
    let mut records = 0u64;
    let mut h = Sha256::new();
    h.update(public.study_id.as_bytes());
    for b in batches {
        check_records(public, b)?;
        for r in &b.records {
            lwe_compact_ciphertext_list_add_assign(&mut sum, r);
        }
        records += b.count;
        h.update(b.party.to_le_bytes());
        h.update(b.count.to_le_bytes());
    }
    if records > schema.max_records {
        return Err(FheError::Study(format!(
            "{records} records exceed the study's maximum of {} (its noise budget)",
            schema.max_records
        )));
    }
    h.update(OsRng.r#gen::<[u8; 16]>());
    let mut packed = LweCiphertextList::new(0u64, lwe_size, LweCiphertextCount(width), CiphertextModulus::new_native());
    expand_lwe_compact_ciphertext_list(&mut packed, &sum);
    // Add the packed blocks: slot j of every record position.
    let mut expanded = LweCiphertextList::new(0u64, lwe_size, LweCiphertextCount(slots), CiphertextModulus::new_native());
    for (k, ct) in packed.iter().enumerate() {
        let mut out = expanded.get_mut(k % slots);
        lwe_ciphertext_add_assign(&mut out, &ct);
    }
    Ok(Aggregate {
        study_id: public.study_id.clone(),
        aggregate_id: hex::encode(&h.finalize()[..16]),
        records,
        slots: expanded,
    })
}

/// A party's partial decryption of an aggregate: `⟨aⱼ, sᵢ⟩ + smudge` per slot.
pub fn partial_decrypt(public: &StudyPublic, share: &KeyShare, agg: &Aggregate) -> Result<DecryptionShare> {
    if share.study_id != public.study_id || agg.study_id != public.study_id {
        return Err(FheError::Mismatch("the key share, the aggregate and the study do not belong together".into()));
    }
    if share.share.len() != DEFAULT_PARAMS.dimension || agg.slots.lwe_size().to_lwe_dimension().0 != DEFAULT_PARAMS.dimension {
        return Err(FheError::Mismatch("the key share or the aggregate has other parameters".into()));
    }
    let params = public.params()?;
    let bound = 1i64 << params.smudge_log2;
    let values = agg
        .slots
        .iter()
        .map(|ct| {
            let (mask, _) = ct.get_mask_and_body();
            let dot = mask
                .as_ref()
                .iter()
                .zip(&share.share)
                .fold(0u64, |acc, (a, s)| acc.wrapping_add(a.wrapping_mul(*s)));
            dot.wrapping_add(OsRng.gen_range(-bound..=bound) as u64)
        })
        .collect();
    Ok(DecryptionShare {
        study_id: public.study_id.clone(),
        aggregate_id: agg.aggregate_id.clone(),
        party: share.party,
        values,
    })
}

/// Combines decryption shares: the slot sums, only with every party's share.
pub fn combine(public: &StudyPublic, agg: &Aggregate, shares: &[DecryptionShare]) -> Result<Vec<i64>> {
    let slots = agg.slots.lwe_ciphertext_count().0;
    let mut seen = vec![false; public.parties as usize];
    for s in shares {
        if s.study_id != public.study_id || s.aggregate_id != agg.aggregate_id {
            return Err(FheError::Study(format!("party {}'s share is for another aggregate", s.party)));
        }
        let slot = seen
            .get_mut(s.party as usize)
            .ok_or_else(|| FheError::Study(format!("party {} is not in this study", s.party)))?;
        if *slot {
            return Err(FheError::Study(format!("party {} sent two shares", s.party)));
        }
        *slot = true;
        if s.values.len() != slots {
            return Err(FheError::Study(format!("party {}'s share has {} values for {slots} slots", s.party, s.values.len())));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(FheError::Study(format!(
            "the decryption share of party {missing} is missing: all {} are needed",
            public.parties
        )));
    }
    Ok(combine_unchecked(public.params()?.log_delta, agg, shares))
}

/// `bⱼ − Σ dᵢⱼ`, decoded, with whatever shares are given (tests show n−1 reveal nothing).
pub fn combine_unchecked(log_delta: u32, agg: &Aggregate, shares: &[DecryptionShare]) -> Vec<i64> {
    agg.slots
        .iter()
        .enumerate()
        .map(|(j, ct)| {
            let body = *ct.get_body().data;
            let phase = shares.iter().fold(body, |acc, s| acc.wrapping_sub(s.values[j]));
            decode(Plaintext(phase), log_delta)
        })
        .collect()
}
