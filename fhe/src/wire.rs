//! Files and messages: tfhe's safe serialization (a header naming the type and
//! its version, then bincode), always with a size limit, so a truncated,
//! corrupt or oversized file, or a file of another kind, is an error and
//! never a panic or a huge allocation.

// tfhe-versionable's derives generate helper types without Debug.
#![allow(missing_debug_implementations)]

use crate::error::{Result, corrupt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tfhe::core_crypto::commons::math::random::{CompressionSeed, Seed};
use tfhe::core_crypto::prelude::*;
use tfhe::named::Named;
use tfhe::safe_serialization::{safe_deserialize, safe_serialize};
use std::convert::Infallible;
use tfhe_versionable::{Unversionize, Upgrade, Version, Versionize, VersionsDispatch};

/// Largest client key file (a 2048-bit binary key is 16 KiB, the small key 7 KiB).
pub const CLIENT_KEY_LIMIT: u64 = 1 << 20;
/// Largest server key file (compressed bootstrapping keys are 90–120 MB).
pub const SERVER_KEY_LIMIT: u64 = 1 << 30;
/// Largest ciphertext file (inputs are seeded GLWE: ~16 KiB per 2048 features;
/// outputs ~16 KiB per value).
pub const CIPHERTEXT_LIMIT: u64 = 256 << 20;
/// Largest study file (public key, records, aggregates, shares).
pub const STUDY_LIMIT: u64 = 1 << 30;

/// The client's secret: never leaves the client.
#[derive(Clone, Serialize, Deserialize, Versionize)]
#[versionize(ClientKeyFileVersions)]
#[allow(missing_debug_implementations)] // manual, redacting the secret: below
pub struct ClientKeyFile {
    pub model_id: String,
    pub key_id: String,
    pub dimension: u64,
    pub noise_bound_log2: u32,
    pub secret: LweSecretKeyOwned<u64>,
    /// The small LWE key bootstraps keyswitch to (models with hidden layers only).
    pub small_secret: Option<LweSecretKeyOwned<u64>>,
}

/// Version 0 of the client key: no small key (linear models only).
#[derive(Version)]
pub struct ClientKeyFileV0 {
    pub model_id: String,
    pub key_id: String,
    pub dimension: u64,
    pub noise_bound_log2: u32,
    pub secret: LweSecretKeyOwned<u64>,
}

impl Upgrade<ClientKeyFile> for ClientKeyFileV0 {
    type Error = Infallible;
    fn upgrade(self) -> std::result::Result<ClientKeyFile, Infallible> {
        Ok(ClientKeyFile {
            model_id: self.model_id,
            key_id: self.key_id,
            dimension: self.dimension,
            noise_bound_log2: self.noise_bound_log2,
            secret: self.secret,
            small_secret: None,
        })
    }
}

#[derive(VersionsDispatch)]
#[allow(dead_code)]
pub enum ClientKeyFileVersions {
    V0(ClientKeyFileV0),
    V1(ClientKeyFile),
}


impl std::fmt::Debug for ClientKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeyFile")
            .field("model_id", &self.model_id)
            .field("key_id", &self.key_id)
            .field("dimension", &self.dimension)
            .field("secret", &"<redacted>")
            .finish()
    }
}


/// The compressed evaluation keys of bootstrapping: two seeded bootstrapping keys
/// (small key → big GLWE key, two decompositions) and a seeded keyswitching key (big → small).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Versionize)]
#[versionize(EvalKeysVersions)]
pub struct EvalKeys {
    /// The accurate key (2 levels of base 2^15 or 3 of 2^11, as the model's program chose): kept outputs.
    pub bsk: SeededLweBootstrapKeyOwned<u64>,
    /// The fast key (1 level of base 2^23): sign and flag tables, and reads the noise budget allows.
    pub bsk_fast: SeededLweBootstrapKeyOwned<u64>,
    pub ksk: SeededLweKeyswitchKeyOwned<u64>,
}

#[derive(VersionsDispatch)]
#[allow(dead_code)]
pub enum EvalKeysVersions {
    V0(EvalKeys),
}

/// What the server needs: the parameters, the model and key it is bound to,
/// and, for models with hidden layers, the bootstrapping keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Versionize)]
#[versionize(ServerKeyFileVersions)]
pub struct ServerKeyFile {
    pub model_id: String,
    pub key_id: String,
    pub dimension: u64,
    pub noise_bound_log2: u32,
    pub eval: Option<EvalKeys>,
}

/// Version 0 of the server key: no evaluation keys (linear models only).
#[derive(Version)]
pub struct ServerKeyFileV0 {
    pub model_id: String,
    pub key_id: String,
    pub dimension: u64,
    pub noise_bound_log2: u32,
}

impl Upgrade<ServerKeyFile> for ServerKeyFileV0 {
    type Error = Infallible;
    fn upgrade(self) -> std::result::Result<ServerKeyFile, Infallible> {
        Ok(ServerKeyFile {
            model_id: self.model_id,
            key_id: self.key_id,
            dimension: self.dimension,
            noise_bound_log2: self.noise_bound_log2,
            eval: None,
        })
    }
}

// tfhe-versionable's dispatch enum lives only while a file is read or written;
// boxing the newest version would only add an allocation there.
#[derive(VersionsDispatch)]
#[allow(dead_code, clippy::large_enum_variant)]
pub enum ServerKeyFileVersions {
    V0(ServerKeyFileV0),
    V1(ServerKeyFile),
}



/// Encrypted inputs: per sample, the input vector packed into the coefficients
/// of seeded GLWE ciphertexts (k = 1, N = the key's dimension; one mask
/// polynomial regenerated from a seed per N inputs), under the same secret key.
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(EncryptedInputsVersions)]
pub struct EncryptedInputs {
    pub model_id: String,
    pub key_id: String,
    pub samples: Vec<Vec<SeededGlweCiphertextOwned<u64>>>,
}



/// Encrypted results (the model's accumulators), one list per sample.
#[derive(Clone, Debug, Serialize, Deserialize, Versionize)]
#[versionize(EncryptedOutputsVersions)]
pub struct EncryptedOutputs {
    pub model_id: String,
    pub key_id: String,
    pub samples: Vec<LweCiphertextListOwned<u64>>,
}



/// Declares the version dispatch (`<Type>Versions`, version 0 so far) and
/// the safe-serialization name of a file type, with `to_bytes` / `from_bytes`
/// bounded by `limit`.
macro_rules! versioned {
    ($ty:ident, $versions:ident, $name:literal, $limit:expr) => {
        #[derive(Debug, tfhe_versionable::VersionsDispatch)]
        #[allow(dead_code)]
        pub enum $versions {
            V0($ty),
        }
        $crate::wire::named!($ty, $name, $limit);
    };
}
pub(crate) use versioned;

/// The safe-serialization name of a file type, with `to_bytes` / `from_bytes` bounded by `limit`
/// (for types whose version dispatch is written out, because they have older versions).
macro_rules! named {
    ($ty:ident, $name:literal, $limit:expr) => {
        impl tfhe::named::Named for $ty {
            const NAME: &'static str = $name;
        }
        impl $ty {
            pub fn to_bytes(&self) -> $crate::error::Result<Vec<u8>> {
                $crate::wire::to_bytes(self, $limit)
            }
            pub fn from_bytes(bytes: &[u8]) -> $crate::error::Result<Self> {
                $crate::wire::from_bytes(bytes, $limit)
            }
        }
    };
}
pub(crate) use named;

named!(ClientKeyFile, "cipherproof::fhe::ClientKey", CLIENT_KEY_LIMIT);
named!(ServerKeyFile, "cipherproof::fhe::ServerKey", SERVER_KEY_LIMIT);
versioned!(EncryptedInputs, EncryptedInputsVersions, "cipherproof::fhe::EncryptedInputs", CIPHERTEXT_LIMIT);
versioned!(EncryptedOutputs, EncryptedOutputsVersions, "cipherproof::fhe::EncryptedOutputs", CIPHERTEXT_LIMIT);

/// Whether a compression seed's mask generator starts at the first table index, as every
/// seed our client and keygen make does. tfhe-csprng 0.10 indexes its output buffer with
/// the deserialized index unchecked, so a tampered index panicked while the server
/// decompressed a ciphertext or key (found by `tests/fuzz_wire.rs`); files are checked
/// with this before anything is decompressed.
pub fn seed_starts_fresh(seed: &CompressionSeed) -> bool {
    seed.inner.first_index == CompressionSeed::from(Seed(0)).inner.first_index
}

/// Serializes `value` (refusing to write more than `limit` bytes).
pub fn to_bytes<T: Serialize + Versionize + Named>(value: &T, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    safe_serialize(value, &mut out, limit).map_err(|e| corrupt(T::NAME, e))?;
    Ok(out)
}

/// Reads a `T` back, refusing other kinds, other versions and anything over `limit`.
pub fn from_bytes<T: DeserializeOwned + Unversionize + Named>(bytes: &[u8], limit: u64) -> Result<T> {
    if bytes.len() as u64 > limit {
        return Err(corrupt(T::NAME, format!("{} bytes is over the limit of {limit}", bytes.len())));
    }
    safe_deserialize(bytes, limit).map_err(|e| corrupt(T::NAME, e))
}
