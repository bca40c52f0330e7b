//! Client keys (the LWE secret key) and server keys (parameters plus the
//! model and key they are bound to). The key id is a hash of the secret key:
//! it names the key without revealing it, and lets a server refuse
//! ciphertexts made under another key.

use crate::error::{FheError, Result};
use crate::params::{DEFAULT_PARAMS, LweParams, PbsParams};
use crate::program::FheProgram;
use crate::wire::{ClientKeyFile, EvalKeys, ServerKeyFile};
use sha2::{Digest, Sha256};
use tfhe::core_crypto::prelude::*;

/// Fresh CSPRNGs seeded from the OS (RDSEED where available).
pub(crate) fn generators() -> (
    SecretRandomGenerator<DefaultRandomGenerator>,
    EncryptionRandomGenerator<DefaultRandomGenerator>,
) {
    let mut seeder = new_seeder();
    let seeder = seeder.as_mut();
    let secret = SecretRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed());
    let encryption = EncryptionRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed(), seeder);
    (secret, encryption)
}

fn key_id(model_id: &str, secret: &LweSecretKeyOwned<u64>, small: Option<&LweSecretKeyOwned<u64>>) -> String {
    let mut h = Sha256::new();
    h.update(b"cipherproof-fhe-key-v1");
    h.update(model_id.as_bytes());
    for w in secret.as_ref() {
        h.update(w.to_le_bytes());
    }
    if let Some(small) = small {
        h.update(b"small");
        for w in small.as_ref() {
            h.update(w.to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// The compressed bootstrapping keys from the big key (a GLWE key, k = 1) and the small key.
fn eval_keys(pbs: &PbsParams, big: &LweSecretKeyOwned<u64>, small: &LweSecretKeyOwned<u64>) -> EvalKeys {
    let mut seeder = new_seeder();
    let seeder = seeder.as_mut();
    let glwe = GlweSecretKey::from_container(big.as_ref(), PolynomialSize(pbs.polynomial_size));
    let mut bsk = |base_log, level| {
        par_allocate_and_generate_new_seeded_lwe_bootstrap_key(
            small,
            &glwe,
            DecompositionBaseLog(base_log),
            DecompositionLevelCount(level),
            DynamicDistribution::new_t_uniform(DEFAULT_PARAMS.noise_bound_log2),
            CiphertextModulus::new_native(),
            seeder,
        )
    };
    let (bsk, bsk_fast) = (bsk(pbs.pbs_base_log, pbs.pbs_level), bsk(pbs.fast_pbs_base_log, pbs.fast_pbs_level));
    let ksk = allocate_and_generate_new_seeded_lwe_keyswitch_key(
        big,
        small,
        DecompositionBaseLog(pbs.ks_base_log),
        DecompositionLevelCount(pbs.ks_level),
        DynamicDistribution::new_t_uniform(pbs.small_noise_bound_log2),
        CiphertextModulus::new_native(),
        seeder,
    );
    EvalKeys { bsk, bsk_fast, ksk }
}

/// Generates a client key for `program` and the matching server key (with compressed
/// bootstrapping keys when the program has hidden layers).
pub fn keygen(program: &FheProgram) -> (ClientKeyFile, ServerKeyFile) {
    let (mut secret_gen, _) = generators();
    let secret: LweSecretKeyOwned<u64> =
        allocate_and_generate_new_binary_lwe_secret_key(LweDimension(program.params.dimension), &mut secret_gen);
    let small_secret: Option<LweSecretKeyOwned<u64>> = program
        .pbs
        .map(|p| allocate_and_generate_new_binary_lwe_secret_key(LweDimension(p.small_dimension), &mut secret_gen));
    let eval = program.pbs.as_ref().zip(small_secret.as_ref()).map(|(p, small)| eval_keys(p, &secret, small));
    let id = key_id(&program.model_id, &secret, small_secret.as_ref());
    let client = ClientKeyFile {
        model_id: program.model_id.clone(),
        key_id: id.clone(),
        dimension: program.params.dimension as u64,
        noise_bound_log2: program.params.noise_bound_log2,
        secret,
        small_secret,
    };
    let server = ServerKeyFile {
        model_id: program.model_id.clone(),
        key_id: id,
        dimension: program.params.dimension as u64,
        noise_bound_log2: program.params.noise_bound_log2,
        eval,
    };
    (client, server)
}

fn params_of(dimension: u64, noise_bound_log2: u32) -> LweParams {
    LweParams {
        dimension: dimension as usize,
        noise_bound_log2,
    }
}

impl ClientKeyFile {
    /// Checks the key is for `program` (model and parameters) and is self-consistent.
    pub fn check(&self, program: &FheProgram) -> Result<()> {
        if self.model_id != program.model_id {
            return Err(FheError::Mismatch(format!(
                "the client key is for model {}, not {}",
                self.model_id, program.model_id
            )));
        }
        if params_of(self.dimension, self.noise_bound_log2) != program.params
            || self.secret.lwe_dimension().0 as u64 != self.dimension
        {
            return Err(FheError::Mismatch("the client key has other parameters than the model's".into()));
        }
        let small_ok = match (&program.pbs, &self.small_secret) {
            (None, None) => true,
            (Some(p), Some(small)) => small.lwe_dimension().0 == p.small_dimension,
            _ => false,
        };
        if !small_ok {
            return Err(FheError::Mismatch("the client key's bootstrapping key does not fit the model's parameters".into()));
        }
        if key_id(&self.model_id, &self.secret, self.small_secret.as_ref()) != self.key_id {
            return Err(FheError::Mismatch("the client key's id does not match its secret (corrupt key)".into()));
        }
        Ok(())
    }
}

impl ServerKeyFile {
    pub fn check(&self, program: &FheProgram) -> Result<()> {
        if self.model_id != program.model_id {
            return Err(FheError::Mismatch(format!(
                "the server key is for model {}, not {}",
                self.model_id, program.model_id
            )));
        }
        if params_of(self.dimension, self.noise_bound_log2) != program.params {
            return Err(FheError::Mismatch("the server key is for other parameters than the model's".into()));
        }
        match (&program.pbs, &self.eval) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(FheError::Mismatch(
                "the server key has no bootstrapping keys, and this model's hidden layers need them".into(),
            )),
            (Some(p), Some(eval)) => crate::bootstrap::check_keys(eval, p, program.params.dimension),
        }
    }
}
