//! The LWE parameter set and the noise budget of an encrypted dot product.
//!
//! Inputs are encrypted under a binary LWE secret key of dimension 2048 with
//! TUniform noise bounded by 2^17 on the native 2^64 modulus: the shape and
//! noise of the GLWE key (k = 1, N = 2048) in tfhe 1.8's default 128-bit
//! parameter set (`PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128`), used here
//! as a plain LWE key. A dot product with cleartext weights `w` and a
//! plaintext bias leaves an error `Σ wᵢ·eᵢ`: at most `Σ|wᵢ|·2^17` (TUniform is
//! bounded), standard deviation `‖w‖₂·σ` with `σ² = (2^(2b+1)+1)/6`.
//! Decoding is exact while the error stays below `Δ/2`.

use crate::error::{FheError, Result};
use serde::{Deserialize, Serialize};
use tfhe::core_crypto::prelude::DynamicDistribution;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LweParams {
    pub dimension: usize,
    /// Fresh noise is uniform-like on [−2^b, 2^b] (TUniform with bound_log2 = b).
    pub noise_bound_log2: u32,
}

/// The 128-bit set (see the module documentation).
pub const DEFAULT_PARAMS: LweParams = LweParams {
    dimension: 2048,
    noise_bound_log2: 17,
};

/// Failure probabilities above this are refused (per decrypted value, union bound).
pub const MAX_LOG2_P_FAIL: f64 = -64.0;

impl LweParams {
    pub fn noise(&self) -> DynamicDistribution<u64> {
        DynamicDistribution::new_t_uniform(self.noise_bound_log2)
    }

    /// Standard deviation of fresh TUniform noise.
    pub fn fresh_std_dev(&self) -> f64 {
        let b = f64::from(self.noise_bound_log2);
        ((2f64.powf(2.0 * b + 1.0) + 1.0) / 6.0).sqrt()
    }
}

/// The noise budget of a program: the encoding and how safely it decodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Δ = 2^log_delta: each message is encoded as m·Δ.
    pub log_delta: u32,
    /// Signed bits the largest accumulator needs.
    pub message_bits: u32,
    /// log2 of the largest possible error (TUniform noise is bounded).
    pub worst_case_error_log2: f64,
    /// log2 of the error's standard deviation (worst output).
    pub std_dev_log2: f64,
    /// log2 of the probability that any one decrypted value is wrong: −∞ when
    /// even the worst-case error stays below Δ/2, else a Gaussian tail bound.
    pub log2_p_fail: f64,
}

fn bits_for(max_abs: u128) -> u32 {
    128 - max_abs.leading_zeros()
}

/// The budget of dot products with these weight rows and accumulators bounded by `max_abs_acc`.
pub fn budget<'a>(
    params: &LweParams,
    rows: impl IntoIterator<Item = &'a [i64]>,
    max_abs_acc: u128,
) -> Result<Budget> {
    let message_bits = bits_for(max_abs_acc) + 1;
    if message_bits > 48 {
        return Err(FheError::NoiseBudget(format!(
            "accumulators need {message_bits} signed bits; at most 48 fit above the noise"
        )));
    }
    let log_delta = 64 - message_bits;
    let half_delta = 2f64.powi(log_delta as i32 - 1);
    let bound = 2f64.powi(params.noise_bound_log2 as i32);
    let (mut worst, mut std_dev) = (0f64, 0f64);
    for row in rows {
        let l1: f64 = row.iter().map(|w| w.unsigned_abs() as f64).sum();
        let l2: f64 = row.iter().map(|w| (*w as f64).powi(2)).sum::<f64>().sqrt();
        worst = worst.max(l1 * bound);
        std_dev = std_dev.max(l2 * params.fresh_std_dev());
    }
    let log2_p_fail = if worst < half_delta {
        f64::NEG_INFINITY
    } else {
        // P(|N(0, σ²)| ≥ t) ≤ 2·exp(−t²/2σ²)
        let t = half_delta / std_dev.max(f64::MIN_POSITIVE);
        1.0 - t * t / (2.0 * std::f64::consts::LN_2)
    };
    let b = Budget {
        log_delta,
        message_bits,
        worst_case_error_log2: worst.max(1.0).log2(),
        std_dev_log2: std_dev.max(1.0).log2(),
        log2_p_fail,
    };
    if b.log2_p_fail > MAX_LOG2_P_FAIL {
        return Err(FheError::NoiseBudget(format!(
            "a decryption would fail with probability 2^{:.1} (Δ = 2^{log_delta}, error σ = 2^{:.1}); \
             fewer weight bits or activation bits would fit",
            b.log2_p_fail, b.std_dev_log2
        )));
    }
    Ok(b)
}

/// The budget of dot products whose inputs carry Gaussian noise of (normalised) variance
/// `input_variance`: bootstrap outputs. There is no worst case, only the Gaussian tail.
pub fn budget_gaussian<'a>(
    rows: impl IntoIterator<Item = &'a [i64]>,
    max_abs_acc: u128,
    input_variance: f64,
    log_delta: u32,
) -> Result<Budget> {
    let message_bits = bits_for(max_abs_acc) + 1;
    if message_bits > 48 || log_delta > 64 - message_bits {
        return Err(FheError::NoiseBudget(format!(
            "accumulators need {message_bits} signed bits; they do not fit above Δ = 2^{log_delta}"
        )));
    }
    let max_l2 = rows
        .into_iter()
        .map(|row| row.iter().map(|w| (*w as f64).powi(2)).sum::<f64>())
        .fold(0.0, f64::max);
    let variance = max_l2 * input_variance;
    let margin = 2f64.powi(log_delta as i32 - 65);
    let b = Budget {
        log_delta,
        message_bits,
        worst_case_error_log2: f64::INFINITY,
        std_dev_log2: (variance.sqrt() * 2f64.powi(64)).max(1.0).log2(),
        log2_p_fail: noise::log2_tail(margin, variance),
    };
    if b.log2_p_fail > MAX_LOG2_P_FAIL {
        return Err(FheError::NoiseBudget(format!(
            "a decryption would fail with probability 2^{:.1} (Δ = 2^{log_delta}, error σ = 2^{:.1}): every input \
             of the last layer is a bootstrap's output, whose noise its weight multiplies; fewer weight bits \
             (--weight-bits) would fit",
            b.log2_p_fail, b.std_dev_log2
        )));
    }
    Ok(b)
}

/// The largest Δ (log2) at which accumulators bounded by `max_abs_acc` fit the torus.
pub fn log_delta_for(max_abs_acc: u128) -> u32 {
    64u32.saturating_sub(bits_for(max_abs_acc) + 1)
}

/// The bootstrapping parameter set: tfhe 1.8's `V1_4_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128`
/// (128-bit security; its GLWE key, k = 1 and N = 2048 with TUniform(2^17) noise, is the input key
/// of [`DEFAULT_PARAMS`]). Two bootstrapping keys: tfhe's (1 level of base 2^23, σ ≈ 2^-15) for sign
/// and flag tables, and for digit and window reads where the noise budget allows; and an accurate
/// one for the other tables whose outputs are kept. [`PBS_PARAMS`] holds 3 levels of base 2^11
/// (σ ≈ 2^-25); each model's program takes the cheapest of
/// [`crate::program::ACCURATE_DECOMPOSITIONS`] that fits (decomposition parameters do not change
/// security, only noise and speed). Ciphertexts live under the big key (dimension 2048); a bootstrap
/// keyswitches to the small key (dimension 918), modulus-switches to 2N and blind-rotates back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PbsParams {
    pub small_dimension: usize,
    pub small_noise_bound_log2: u32,
    pub polynomial_size: usize,
    pub pbs_base_log: usize,
    pub pbs_level: usize,
    /// The fast bootstrapping key: signs and flags, and reads whose noise the budget allows.
    pub fast_pbs_base_log: usize,
    pub fast_pbs_level: usize,
    pub ks_base_log: usize,
    pub ks_level: usize,
}

pub const PBS_PARAMS: PbsParams = PbsParams {
    small_dimension: 918,
    small_noise_bound_log2: 45,
    polynomial_size: 2048,
    pbs_base_log: 11,
    pbs_level: 3,
    fast_pbs_base_log: 23,
    fast_pbs_level: 1,
    ks_base_log: 4,
    ks_level: 4,
};

/// Variances on the torus normalised to 1 (a value `v` of the 2^64 modulus is `v / 2^64`).
pub mod noise {
    use super::{LweParams, PbsParams};
    use tfhe::core_crypto::commons::noise_formulas::lwe_keyswitch::keyswitch_additive_variance_132_bits_security_tuniform;
    use tfhe::core_crypto::commons::noise_formulas::lwe_programmable_bootstrap::pbs_variance_132_bits_security_tuniform_fft_mul;
    use tfhe::core_crypto::commons::noise_formulas::modulus_switch::modulus_switch_additive_variance;
    use tfhe::core_crypto::prelude::*;

    const Q: f64 = 18446744073709551616.0; // 2^64

    /// Fresh encryption noise under the big key.
    pub fn fresh(params: &LweParams) -> f64 {
        (params.fresh_std_dev() / Q).powi(2)
    }

    fn pbs(p: &PbsParams, base_log: usize, level: usize) -> f64 {
        pbs_variance_132_bits_security_tuniform_fft_mul(
            LweDimension(p.small_dimension),
            GlweDimension(1),
            PolynomialSize(p.polynomial_size),
            DecompositionBaseLog(base_log),
            DecompositionLevelCount(level),
            53.0,
            Q,
        )
        .0
    }

    /// Output noise of one bootstrap with the accurate key (tfhe's formula for the FFT PBS, 53-bit mantissa).
    pub fn bootstrap(p: &PbsParams) -> f64 {
        pbs(p, p.pbs_base_log, p.pbs_level)
    }

    /// Output noise of one bootstrap with the fast key.
    pub fn bootstrap_fast(p: &PbsParams) -> f64 {
        pbs(p, p.fast_pbs_base_log, p.fast_pbs_level)
    }

    /// Noise a keyswitch (big key to small key) adds.
    pub fn keyswitch(p: &PbsParams, big_dimension: usize) -> f64 {
        keyswitch_additive_variance_132_bits_security_tuniform(
            LweDimension(big_dimension),
            LweDimension(p.small_dimension),
            DecompositionBaseLog(p.ks_base_log),
            DecompositionLevelCount(p.ks_level),
            Q,
            Q,
        )
        .0
    }

    /// Noise the modulus switch to 2N adds (the dominant term of a bootstrap's input).
    pub fn modulus_switch(p: &PbsParams) -> f64 {
        modulus_switch_additive_variance(LweDimension(p.small_dimension), Q, 2.0 * p.polynomial_size as f64).0
    }

    /// log2 of P(|N(0, variance)| ≥ margin), by the bound 2·exp(−t²/2) (t = margin/σ).
    pub fn log2_tail(margin: f64, variance: f64) -> f64 {
        let t = margin / variance.sqrt().max(f64::MIN_POSITIVE);
        1.0 - t * t / (2.0 * std::f64::consts::LN_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_weights_decode_exactly_and_large_ones_are_refused() {
        let rows: Vec<Vec<i64>> = vec![vec![511; 30], vec![-3; 30]];
        let b = budget(&DEFAULT_PARAMS, rows.iter().map(|r| r.as_slice()), 1 << 30).unwrap();
        assert_eq!(b.log_delta, 64 - 32);
        assert_eq!(b.log2_p_fail, f64::NEG_INFINITY, "{b:?}");
        let huge: Vec<i64> = vec![1 << 20; 1000];
        assert!(budget(&DEFAULT_PARAMS, [huge.as_slice()], 1 << 40).is_err());
    }
}
#[cfg(test)]
mod survey {
    #[test]
    #[ignore]
    fn bootstrap_noise_by_decomposition() {
        for (b, l) in [(23, 1), (15, 2), (14, 2), (13, 2), (12, 2), (11, 3), (10, 3), (8, 4)] {
            let p = super::PbsParams { pbs_base_log: b, pbs_level: l, ..super::PBS_PARAMS };
            eprintln!("base 2^{b} x {l}: sigma 2^{:.2}", super::noise::bootstrap(&p).sqrt().log2());
        }
    }
}
