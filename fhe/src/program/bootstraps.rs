//! What one hidden layer's bootstraps cost and how often they may fail: the noise of each
//! bootstrap's input against its table's margin (digits, windows, a split layer's reads), and the
//! relative cost the planner minimises.

use super::{BootstrapKey, Digit, FeatureSplit, MAX_LOG2_P_FAIL_BOOTSTRAP, indicator};
use crate::params::{PbsParams, noise};

/// Digits of `width` bits (at most) over bits `[from, to)`, with the failure probabilities of
/// their extraction; `v_ct` is the accumulator's variance, grown by `sub_var` per subtraction.
#[allow(clippy::too_many_arguments)]
pub(super) fn plan_digits(
    n: &NoiseModel,
    v_ct: &mut f64,
    sub_var: f64,
    log_delta: u32,
    from: u32,
    to: u32,
    width: u32,
    fails: &mut Vec<f64>,
) -> Vec<Digit> {
    let mut digits = Vec::new();
    let mut start = from;
    while start < to {
        let w = width.min(to - start);
        // The window of w + 1 bits is scaled to the top of the torus.
        let m = 64 - i64::from(log_delta) - i64::from(start) - i64::from(w) - 1;
        let v_scaled = *v_ct * 2f64.powi(2 * m as i32);
        let margin = 2f64.powi(-(w as i32) - 2);
        fails.push(noise::log2_tail(margin, v_scaled + n.ks + n.ms));
        fails.push(noise::log2_tail(margin, v_scaled + n.pbs_fast + n.ks + n.ms));
        *v_ct += sub_var;
        digits.push(Digit { start, width: w });
        start += w;
    }
    digits
}

/// Variances of one bootstrap's output (accurate and fast keys), a keyswitch and a modulus switch.
pub(super) struct NoiseModel {
    pub(super) pbs: f64,
    pub(super) pbs_fast: f64,
    pub(super) ks: f64,
    pub(super) ms: f64,
}

impl NoiseModel {
    pub(super) fn of(&self, key: BootstrapKey) -> f64 {
        match key {
            BootstrapKey::Fast => self.pbs_fast,
            BootstrapKey::Accurate => self.pbs,
        }
    }
}

/// A hidden layer's plan: digits, the failure probability of each bootstrap, and the
/// variance of each requantized output.
pub(super) struct Plan {
    pub(super) digits: Vec<Digit>,
    pub(super) y_digits: Vec<Digit>,
    pub(super) fails: Vec<f64>,
    pub(super) out_variance: f64,
}

/// The keys a narrow plan reads its digits and its window with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys {
    pub(super) digit: BootstrapKey,
    pub(super) window: BootstrapKey,
}

/// The bootstraps of one hidden value with digits of `width` bits; `wide` reads `y` digit by digit.
#[allow(clippy::too_many_arguments)]
pub(super) fn plan_requant(
    n: &NoiseModel,
    acc_variance: f64,
    log_delta: u32,
    shift: u32,
    window_bits: u32,
    next_log_delta: u32,
    width: u32,
    wide: bool,
    keys: Keys,
) -> Option<Plan> {
    let mut fails = Vec::new();
    let mut v_ct = acc_variance;
    let digits = plan_digits(n, &mut v_ct, n.of(keys.digit), log_delta, 0, shift, width, &mut fails);
    if !wide {
        let margin = 2f64.powi(-(window_bits as i32) - 2);
        fails.push(noise::log2_tail(margin, v_ct + n.ks + n.ms));
        return Some(Plan { digits, y_digits: Vec::new(), fails, out_variance: n.of(keys.window) });
    }
    // y's digits come out as digit·2^(j + next − 1) and are subtracted scaled up by 2^a.
    let a = i64::from(log_delta) + i64::from(shift) - i64::from(next_log_delta) + 1;
    if a < 0 {
        return None;
    }
    let w = width.min(4);
    let y_digits = plan_digits(n, &mut v_ct, n.pbs * 2f64.powi(2 * a as i32), log_delta, shift, shift + window_bits - 1, w, &mut fails);
    fails.push(noise::log2_tail(0.125, v_ct + n.ks + n.ms));
    for d in &y_digits {
        let b = 64 - i64::from(d.width) - i64::from(d.start - shift) - i64::from(next_log_delta);
        if b < 0 {
            return None;
        }
        let margin = 2f64.powi(-(d.width as i32) - 2);
        fails.push(noise::log2_tail(margin, n.pbs * 2f64.powi(2 * b as i32) + n.pbs_fast + n.ks + n.ms));
    }
    let out_variance = 2.0 * y_digits.len() as f64 * n.pbs;
    Some(Plan { digits, y_digits, fails, out_variance })
}

/// The keys of a layer of node tests read feature by feature ([`feature_split`]) and the failure
/// probability of each of its bootstraps: the cheapest choice within the bound, the nodes' signs
/// read with `node_key`. `v_in` is the inputs' variance at `log_delta`.
pub(super) fn plan_split(n: &NoiseModel, pbs: &PbsParams, split: &FeatureSplit, v_in: f64, log_delta: u32, node_key: BootstrapKey) -> Option<(FeatureSplit, Vec<f64>)> {
    let d = split.digit.width;
    let mut best: Option<(u64, FeatureSplit, Vec<f64>)> = None;
    for digit_key in [BootstrapKey::Fast, BootstrapKey::Accurate] {
        for low_key in [BootstrapKey::Fast, BootstrapKey::Accurate] {
            // Each feature: its low digit's flag and read.
            let mut feature_fails = Vec::new();
            let mut v_ct = v_in;
            plan_digits(n, &mut v_ct, n.of(digit_key), log_delta, 0, d, d, &mut feature_fails);
            // A low test reads the digit scaled up to l·2^(63 − d): its noise grows by as much.
            let up = split.low_read_shift(log_delta) as i32;
            let low = noise::log2_tail(2f64.powi(-(d as i32) - 2), n.of(digit_key) * 2f64.powi(2 * up) + n.ks + n.ms);
            // A node reads v = h − a − 1 + [l > b]: the feature less its digit, plus a low test.
            let node = noise::log2_tail(2f64.powi(-(indicator::WINDOW_BITS as i32) - 2), v_ct + n.of(low_key) + n.ks + n.ms);
            let mut fails: Vec<f64> = split.features.iter().flat_map(|_| feature_fails.iter().copied()).collect();
            fails.extend(std::iter::repeat_n(low, split.low_tests.len()));
            fails.extend(std::iter::repeat_n(node, split.nodes.len()));
            if fails.iter().any(|&f| f > MAX_LOG2_P_FAIL_BOOTSTRAP) {
                continue;
            }
            let candidate = FeatureSplit { digit_key, low_key, ..split.clone() };
            let cost = bootstraps_cost(pbs, candidate.bootstraps(), candidate.fast_bootstraps(node_key));
            if best.as_ref().is_none_or(|(c, ..)| cost < *c) {
                best = Some((cost, candidate, fails));
            }
        }
    }
    best.map(|(_, s, f)| (s, f))
}

/// Relative cost of one bootstrap (keyswitch plus one FFT per decomposition level and GLWE
/// component, two inverse FFTs): what the planner minimises.
pub(super) fn bootstrap_cost(levels: usize) -> u64 {
    2 * levels as u64 + 3
}

/// How many of a hidden value's bootstraps use the fast key: every sign flag (one per digit of
/// the accumulator and of a wide `y`, and `y`'s own flag), and the digit and window reads `keys`
/// give it (a wide plan reads `y`'s digits and masks with the accurate key).
pub(super) fn fast_count(digits: usize, y_digits: usize, wide: bool, keys: Keys) -> u32 {
    let flags_and_reads = digits as u32 * (1 + u32::from(keys.digit == BootstrapKey::Fast));
    if wide {
        flags_and_reads + y_digits as u32 + 1
    } else {
        flags_and_reads + u32::from(keys.window == BootstrapKey::Fast)
    }
}

/// Relative cost of `bootstraps` bootstraps, `fast` of them with the fast key.
pub(super) fn bootstraps_cost(pbs: &PbsParams, bootstraps: u64, fast: u64) -> u64 {
    fast * bootstrap_cost(pbs.fast_pbs_level) + bootstraps.saturating_sub(fast) * bootstrap_cost(pbs.pbs_level)
}

pub(super) fn log2_sum(logs: impl IntoIterator<Item = f64>) -> f64 {
    let s: f64 = logs.into_iter().map(f64::exp2).sum();
    if s == 0.0 { f64::NEG_INFINITY } else { s.log2() }
}
