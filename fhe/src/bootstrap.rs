//! Programmable bootstrapping for the exact requantization of hidden layers.
//!
//! A hidden accumulator `acc` arrives encoded as `acc·Δ` under the big key.
//! `round_shift(acc, s)` is `⌊(acc + 2^(s−1)) / 2^s⌋`, so after adding the
//! rounding constant the low `s` bits are cleared, lowest digit first:
//!
//! 1. the ciphertext is multiplied by a power of two that puts the digit's
//!    `w` bits and the bit above it (`t`) at the top of the torus (everything
//!    higher wraps away; the cleared bits below are zero);
//! 2. a bootstrap with a constant table returns `±2^62` by `t` (negacyclic),
//!    which, added back, clears `t` in that scaled copy: the digit now sits in
//!    the half torus a table can read;
//! 3. a second bootstrap reads the digit `r` and returns `r·2^start·Δ`, which
//!    is subtracted from the accumulator.
//!
//! What is left is `y·2^s·Δ` with `y = round_shift(acc, s)` in a window of
//! `p` signed bits; offset by `2^(p−1)` it lies in the half torus, and one
//! last bootstrap returns `activation(y)` encoded at the next layer's Δ.
//! Every bootstrap keyswitches to the small key first (tfhe's KS-PBS order).

use crate::error::{FheError, Result};
use crate::params::PbsParams;
use crate::program::{Activation, BootstrapKey, Digit, EncLayer, FeatureSplit, Requant};
use rayon::prelude::*;
use crate::wire::{EvalKeys, seed_starts_fresh};
use tfhe::core_crypto::prelude::*;

/// The server's expanded evaluation keys (Fourier bootstrapping key and keyswitching key).
pub struct Evaluator {
    bsk: FourierLweBootstrapKeyOwned,
    bsk_fast: FourierLweBootstrapKeyOwned,
    ksk: LweKeyswitchKeyOwned<u64>,
    params: PbsParams,
    big_dimension: usize,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").field("params", &self.params).finish_non_exhaustive()
    }
}

/// Per-thread scratch space of a bootstrap.
pub struct Scratch {
    fft: Fft,
    buffers: ComputationBuffers,
    small: LweCiphertextOwned<u64>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

/// The tables of one hidden layer.
#[derive(Debug)]
pub struct LayerTables {
    /// Per digit: the sign table and the digit table.
    digits: Vec<(GlweCiphertextOwned<u64>, GlweCiphertextOwned<u64>)>,
    /// Narrow: `activation(y)` of the whole window (one table per value for
    /// [`crate::program::Activation::Lookup`]). Wide: the sign flag of `y`.
    windows: Vec<GlweCiphertextOwned<u64>>,
    /// Wide: per digit of `y`, its sign and digit tables and the mask table.
    y_digits: Vec<(GlweCiphertextOwned<u64>, GlweCiphertextOwned<u64>, GlweCiphertextOwned<u64>)>,
    /// A split layer's low tests `[l > b]`, one table per test.
    lows: Vec<GlweCiphertextOwned<u64>>,
}

fn table(p: &PbsParams, cells: usize, f: impl Fn(u64) -> u64) -> GlweCiphertextOwned<u64> {
    generate_programmable_bootstrap_glwe_lut(
        PolynomialSize(p.polynomial_size),
        GlweSize(2),
        cells,
        CiphertextModulus::new_native(),
        1u64,
        f,
    )
}

/// Checks that the compressed keys have exactly the shapes of `params` (tfhe asserts otherwise).
pub fn check_keys(keys: &EvalKeys, params: &PbsParams, big_dimension: usize) -> Result<()> {
    let bsk_ok = |b: &SeededLweBootstrapKeyOwned<u64>, base_log: usize, level: usize| {
        b.input_lwe_dimension().0 == params.small_dimension
            && b.glwe_size() == GlweSize(2)
            && b.polynomial_size().0 == params.polynomial_size
            && b.decomposition_base_log().0 == base_log
            && b.decomposition_level_count().0 == level
            && b.ciphertext_modulus().is_native_modulus()
            && seed_starts_fresh(&b.compression_seed())
    };
    let k = &keys.ksk;
    let ok = bsk_ok(&keys.bsk, params.pbs_base_log, params.pbs_level)
        && bsk_ok(&keys.bsk_fast, params.fast_pbs_base_log, params.fast_pbs_level)
        && k.input_key_lwe_dimension().0 == big_dimension
        && k.output_key_lwe_dimension().0 == params.small_dimension
        && k.decomposition_base_log().0 == params.ks_base_log
        && k.decomposition_level_count().0 == params.ks_level
        && k.ciphertext_modulus().is_native_modulus()
        && seed_starts_fresh(&k.compression_seed())
        && params.polynomial_size == big_dimension;
    if ok {
        Ok(())
    } else {
        Err(FheError::Mismatch("the server key's bootstrapping keys have other parameters than the model's".into()))
    }
}

fn fourier(seeded: &SeededLweBootstrapKeyOwned<u64>) -> FourierLweBootstrapKeyOwned {
    let standard = seeded.clone().par_decompress_into_lwe_bootstrap_key();
    let mut bsk = FourierLweBootstrapKey::new(
        standard.input_lwe_dimension(),
        standard.glwe_size(),
        standard.polynomial_size(),
        standard.decomposition_base_log(),
        standard.decomposition_level_count(),
    );
    par_convert_standard_lwe_bootstrap_key_to_fourier(&standard, &mut bsk);
    bsk
}

impl Evaluator {
    /// Expands compressed keys (seeded → full, then to the Fourier domain), after checking their shapes.
    pub fn new(keys: &EvalKeys, params: &PbsParams, big_dimension: usize) -> Result<Self> {
        check_keys(keys, params, big_dimension)?;
        Ok(Self {
            bsk: fourier(&keys.bsk),
            bsk_fast: fourier(&keys.bsk_fast),
            ksk: keys.ksk.clone().par_decompress_into_lwe_keyswitch_key(),
            params: *params,
            big_dimension,
        })
    }

    pub fn scratch(&self) -> Scratch {
        let fft = Fft::new(PolynomialSize(self.params.polynomial_size));
        let mut buffers = ComputationBuffers::new();
        buffers.resize(
            programmable_bootstrap_lwe_ciphertext_mem_optimized_requirement::<u64>(
                GlweSize(2),
                PolynomialSize(self.params.polynomial_size),
                fft.as_view(),
            )
            .unaligned_bytes_required(),
        );
        Scratch {
            fft,
            buffers,
            small: LweCiphertext::new(0u64, LweDimension(self.params.small_dimension).to_lwe_size(), CiphertextModulus::new_native()),
        }
    }

    /// Keyswitch to the small key, then bootstrap through `table` with `key` (the fast one for
    /// signs and flags, and for digits and windows where the plan's noise budget allows).
    fn bootstrap(&self, s: &mut Scratch, input: &LweCiphertextOwned<u64>, table: &GlweCiphertextOwned<u64>, key: BootstrapKey) -> LweCiphertextOwned<u64> {
        keyswitch_lwe_ciphertext(&self.ksk, input, &mut s.small);
        let mut out = LweCiphertext::new(0u64, LweDimension(self.big_dimension).to_lwe_size(), CiphertextModulus::new_native());
        let bsk = match key {
            BootstrapKey::Fast => &self.bsk_fast,
            BootstrapKey::Accurate => &self.bsk,
        };
        programmable_bootstrap_lwe_ciphertext_mem_optimized(&s.small, &mut out, table, bsk, s.fft.as_view(), s.buffers.stack());
        out
    }

    /// The tables of a hidden layer (built once per layer, shared by its values).
    pub fn tables(&self, layer: &EncLayer, rq: &Requant) -> LayerTables {
        let p = &self.params;
        let extract = |d: &Digit, shift: u32| {
            let cells = 1usize << d.width;
            (table(p, cells, |_| 1u64 << 62), table(p, cells, move |r| r.wrapping_shl(shift)))
        };
        let digits = rq.digits.iter().map(|d| extract(d, layer.log_delta + d.start)).collect();
        let next = rq.next_log_delta;
        let (windows, y_digits) = if rq.wide {
            // y's sign sits at phase 0 (t = 0) or 3/4 (t = 1), messages 0 and 3 of 4 cells: t·2^63.
            let flag = table(p, 2, |m| if m == 0 { 0 } else { 1u64 << 63 });
            let y_digits = rq
                .y_digits
                .iter()
                .map(|d| {
                    // digit·K/2 with K = 2^(j + next): both the subtracted value (scaled up) and half the ReLU term.
                    let half_k = d.start - rq.shift + next - 1;
                    let (t, r) = extract(d, half_k);
                    // Negacyclic: digit·K/2 when t = 0, −digit·K/2 when t = 1.
                    let mask = table(p, 1usize << d.width, move |v| v.wrapping_shl(half_k));
                    (t, r, mask)
                })
                .collect();
            (vec![flag], y_digits)
        } else {
            // f(y) of the window's value y, at the next layer's Δ.
            let half = 1i64 << (rq.window_bits - 1);
            let read = |f: &dyn Fn(i64) -> i64| table(p, 1usize << rq.window_bits, |v| (f(v as i64 - half) as u64).wrapping_shl(next));
            let windows = match (&rq.split, rq.activation) {
                // A split layer's nodes: x ≤ T (v < 0) and x > T (v ≥ 0).
                (Some(_), _) => [Activation::Negative, Activation::NonNegative].map(|a| read(&|y| a.apply(y))).into(),
                (None, Activation::Lookup) => (0..layer.dot.outputs).map(|j| read(&|y| rq.apply(j, y))).collect(),
                (None, _) => vec![read(&|y| rq.activation.apply(y))],
            };
            (windows, Vec::new())
        };
        // A split layer's low tests `[l > b]`, at h's scale (2^(Δ + d)).
        let lows = rq.split.as_ref().map_or_else(Vec::new, |split| {
            let h_shift = split.high_shift(layer.log_delta);
            split.low_tests.iter().map(|t| table(p, 1usize << split.digit.width, |l| u64::from(l as i64 > t.above).wrapping_shl(h_shift))).collect()
        });
        LayerTables { digits, windows, y_digits, lows }
    }

    /// Clears one digit of `ct` (two bootstraps). The digit table, read with `key`, returns `digit·2^out_shift`,
    /// subtracted scaled up by `2^up` (so that `out_shift + up = log_delta + start`), and returned.
    #[allow(clippy::too_many_arguments)]
    fn clear_digit(
        &self,
        s: &mut Scratch,
        log_delta: u32,
        d: &Digit,
        up: u32,
        sign: &GlweCiphertextOwned<u64>,
        digit: &GlweCiphertextOwned<u64>,
        key: BootstrapKey,
        ct: &mut LweCiphertextOwned<u64>,
    ) -> LweCiphertextOwned<u64> {
        let m = 64 - log_delta - d.start - d.width - 1;
        let mut scaled = ct.clone();
        lwe_ciphertext_cleartext_mul_assign(&mut scaled, Cleartext(1u64 << m));
        let t = self.bootstrap(s, &scaled, sign, BootstrapKey::Fast);
        lwe_ciphertext_add_assign(&mut scaled, &t);
        lwe_ciphertext_plaintext_sub_assign(&mut scaled, Plaintext(1u64 << 62));
        let r = self.bootstrap(s, &scaled, digit, key);
        let mut sub = r.clone();
        lwe_ciphertext_cleartext_mul_assign(&mut sub, Cleartext(1u64 << up));
        lwe_ciphertext_sub_assign(ct, &sub);
        r
    }

    /// A layer of node tests read feature by feature ([`crate::program::FeatureSplit`]), from the
    /// layer's inputs `x` at `layer.log_delta`: each node's 1 or 0 at the next layer's Δ.
    pub fn split_tests(&self, layer: &EncLayer, rq: &Requant, split: &FeatureSplit, tables: &LayerTables, x: &[LweCiphertextOwned<u64>]) -> Vec<LweCiphertextOwned<u64>> {
        let d = split.digit;
        // Each feature: x − l = 2^d·h (kept) and the digit l at Δ (read by the low tests).
        let parts: Vec<(LweCiphertextOwned<u64>, LweCiphertextOwned<u64>)> = split
            .features
            .par_iter()
            .map_init(
                || self.scratch(),
                |s, &f| {
                    let mut high = x[f].clone();
                    let (sign, digit) = &tables.digits[0];
                    let low = self.clear_digit(s, layer.log_delta, &d, 0, sign, digit, split.digit_key, &mut high);
                    (high, low)
                },
            )
            .collect();
        // [l > b]: l scaled to the d-bit window's l·2^(63 − d) (its offset −2^(d−1) and the half torus' +2^62 cancel).
        let up = split.low_read_shift(layer.log_delta);
        let lows: Vec<LweCiphertextOwned<u64>> = split
            .low_tests
            .par_iter()
            .zip(&tables.lows)
            .map_init(
                || self.scratch(),
                |s, (t, table)| {
                    let mut l = parts[t.feature].1.clone();
                    lwe_ciphertext_cleartext_mul_assign(&mut l, Cleartext(1u64 << up));
                    self.bootstrap(s, &l, table, split.low_key)
                },
            )
            .collect();
        // v·2^(Δ + d) = 2^d·h·Δ − (a + 1)·2^(Δ + d) + [l > b]·2^(Δ + d), then into the half torus.
        let h_shift = split.high_shift(layer.log_delta);
        split
            .nodes
            .par_iter()
            .map_init(
                || self.scratch(),
                |s, n| {
                    let mut v = parts[n.feature].0.clone();
                    if let Some(t) = n.low {
                        lwe_ciphertext_add_assign(&mut v, &lows[t]);
                    }
                    lwe_ciphertext_plaintext_sub_assign(&mut v, Plaintext((n.high.wrapping_add(1) as u64).wrapping_shl(h_shift)));
                    lwe_ciphertext_plaintext_add_assign(&mut v, Plaintext(1u64 << 62));
                    self.bootstrap(s, &v, &tables.windows[usize::from(!n.below)], rq.window_key)
                },
            )
            .collect()
    }

    /// Value `j`'s `activation(round_shift(acc, shift))` at the next layer's Δ, from `acc` at `layer.log_delta`.
    pub fn requantize(
        &self,
        s: &mut Scratch,
        layer: &EncLayer,
        rq: &Requant,
        tables: &LayerTables,
        j: usize,
        mut ct: LweCiphertextOwned<u64>,
    ) -> LweCiphertextOwned<u64> {
        let window = &tables.windows[j.min(tables.windows.len() - 1)];
        if rq.shift > 0 {
            lwe_ciphertext_plaintext_add_assign(&mut ct, Plaintext(1u64 << (layer.log_delta + rq.shift - 1)));
        }
        for (d, (sign, digit)) in rq.digits.iter().zip(&tables.digits) {
            self.clear_digit(s, layer.log_delta, d, 0, sign, digit, rq.digit_key, &mut ct);
        }
        if !rq.wide {
            // ct = y·2^(63 − window_bits): offset into the half torus and read the window.
            lwe_ciphertext_plaintext_add_assign(&mut ct, Plaintext(1u64 << 62));
            return self.bootstrap(s, &ct, window, rq.window_key);
        }
        // Wide: clear y's digits below its sign bit, keeping each as digit·K/2; then the flag t·2^63.
        let up = layer.log_delta + rq.shift + 1 - rq.next_log_delta;
        let mut kept = Vec::with_capacity(rq.y_digits.len());
        for (d, (sign, digit, _)) in rq.y_digits.iter().zip(&tables.y_digits) {
            kept.push(self.clear_digit(s, layer.log_delta, d, up, sign, digit, BootstrapKey::Accurate, &mut ct));
        }
        let flag = self.bootstrap(s, &ct, window, BootstrapKey::Fast);
        // relu(y) = Σ (1 − t)·digit·K = Σ (±digit·K/2 from the mask) + digit·K/2.
        let mut out = LweCiphertext::new(0u64, LweDimension(self.big_dimension).to_lwe_size(), CiphertextModulus::new_native());
        for ((d, r), (_, _, mask)) in rq.y_digits.iter().zip(kept).zip(&tables.y_digits) {
            let b = 64 - d.width - (d.start - rq.shift) - rq.next_log_delta;
            let mut z = r.clone();
            lwe_ciphertext_cleartext_mul_assign(&mut z, Cleartext(1u64 << b));
            lwe_ciphertext_add_assign(&mut z, &flag);
            let masked = self.bootstrap(s, &z, mask, BootstrapKey::Accurate);
            lwe_ciphertext_add_assign(&mut out, &masked);
            lwe_ciphertext_add_assign(&mut out, &r);
        }
        out
    }
}

#[cfg(test)]
#[path = "bootstrap_tests.rs"]
mod tests;
