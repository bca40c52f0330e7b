//! A tree's node tests read feature by feature. Each node test compares one input feature `x`
//! with a threshold: `[x ≤ T]` or `[x > T]`. Read as it is, `x − T` spans one bit more than `x`,
//! so a 6-bit feature needs a digit cleared (two bootstraps) before its sign is read: three
//! bootstraps per node. Split instead, once per feature, into `x = 2^d·h + l` (`0 ≤ l < 2^d`, `h`
//! of 3 signed bits, `d` = the input's bits − 3), and write `T = 2^d·a + b` the same way:
//!
//! `x ≤ T  ⇔  h − a + [l > b] ≤ 0  ⇔  v = h − a − 1 + [l > b] < 0`, with `v` in `[−8, 7]`.
//!
//! (`h < a`: `v ≤ −1` whatever `[l > b]`; `h = a`: `x ≤ T ⇔ l ≤ b`; `h > a`: `v ≥ 0`.) Clearing
//! `l` costs two bootstraps per feature, each distinct `[l > b]` one bootstrap reading `l`, and
//! each node one bootstrap reading the sign of `v`: for 20 boosted trees of depth 3 on 6-bit
//! features, 2·22 + 45 + 140 = 229 bootstraps instead of 3·140 = 420.
//!
//! Thresholds outside the input's range are clamped to it (the answer is the same), which keeps
//! `a` within `h`'s range, or one below it where `b = 2^d − 1` (then `[l > b] = 0`): `v` always
//! fits the 4-bit window.

use super::{Activation, BootstrapKey, Digit, Stage};
use cipherproof_model::quant::fixed::signed_range;
use serde::{Deserialize, Serialize};

/// Bits of the high part `h`: `v = h − a − 1 + [l > b]` then spans exactly the 4-bit window.
pub const HIGH_BITS: u32 = 3;

/// A node-test layer read feature by feature (module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSplit {
    /// The low digit of each feature: bits `[0, d)`.
    pub digit: Digit,
    /// The layer input each split feature is.
    pub features: Vec<usize>,
    /// The distinct low tests `[l > b]`.
    pub low_tests: Vec<LowTest>,
    /// One per value of the layer.
    pub nodes: Vec<SplitNode>,
    /// The key reading the low digits (their sign flags use the fast key).
    pub digit_key: BootstrapKey,
    /// The key of the low tests.
    pub low_key: BootstrapKey,
}

/// `[l > above]` of feature `feature` (an index into [`FeatureSplit::features`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowTest {
    pub feature: usize,
    pub above: i64,
}

/// `[x ≤ T]` (or `[x > T]` when not `below`) for `T = 2^d·high + b`, where `low` is the index of
/// `[l > b]` in [`FeatureSplit::low_tests`] (`None` when `b = 2^d − 1`: it is always 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitNode {
    pub feature: usize,
    pub low: Option<usize>,
    pub high: i64,
    pub below: bool,
}

impl FeatureSplit {
    /// Bootstraps of the whole layer: two per feature, one per low test and one per node.
    pub fn bootstraps(&self) -> u64 {
        2 * self.features.len() as u64 + self.low_tests.len() as u64 + self.nodes.len() as u64
    }

    /// How many of [`Self::bootstraps`] use the fast key, the nodes' reads by `node_key`.
    pub fn fast_bootstraps(&self, node_key: BootstrapKey) -> u64 {
        let fast = |k: BootstrapKey, n: usize| if k == BootstrapKey::Fast { n as u64 } else { 0 };
        self.features.len() as u64 + fast(self.digit_key, self.features.len()) + fast(self.low_key, self.low_tests.len()) + fast(node_key, self.nodes.len())
    }

    /// log2 of the scale of `h` (and of `v`) for features at `2^log_delta`: `x − l = 2^d·h`.
    pub fn high_shift(&self, log_delta: u32) -> u32 {
        log_delta + self.digit.width
    }

    /// The power of two that takes the digit `l·2^log_delta` to the `d`-bit window's `l·2^(63 − d)`
    /// for a low test's read (its noise grows by as much).
    pub fn low_read_shift(&self, log_delta: u32) -> u32 {
        63 - self.digit.width - log_delta
    }

    /// The node tests of integer inputs `x`, computed the split way (what the ciphertexts compute).
    pub fn apply(&self, x: &[i64]) -> Vec<i64> {
        let d = self.digit.width;
        let low = |f: usize| x[self.features[f]].rem_euclid(1 << d);
        let high = |f: usize| x[self.features[f]].div_euclid(1 << d);
        self.nodes
            .iter()
            .map(|n| {
                let g = n.low.map_or(0, |t| i64::from(low(self.low_tests[t].feature) > self.low_tests[t].above));
                let v = high(n.feature) - n.high - 1 + g;
                i64::from((v < 0) == n.below)
            })
            .collect()
    }
}

/// The split form of `stage` (a sign test of one input per value, on inputs of `input_bits`
/// signed bits), when it has one: 4 to 7 input bits (3 or fewer need no digit; above 7 the low
/// digit is wider than one bootstrap reads), every row one nonzero weight.
pub(super) fn split(stage: &Stage, input_bits: u32) -> Option<FeatureSplit> {
    let below_when_negative = match stage.activation {
        Activation::Negative => true,
        Activation::NonNegative => false,
        _ => return None,
    };
    if stage.shift != 0 || !(HIGH_BITS + 1..=HIGH_BITS + 4).contains(&input_bits) {
        return None;
    }
    let d = input_bits - HIGH_BITS;
    let (lo, hi) = signed_range(input_bits);
    let mut features: Vec<usize> = Vec::new();
    let mut low_tests: Vec<LowTest> = Vec::new();
    let mut nodes = Vec::with_capacity(stage.dot.outputs);
    for (row, &bias) in stage.dot.rows().zip(&stage.dot.bias) {
        let mut nonzero = row.iter().enumerate().filter(|(_, w)| **w != 0);
        let (input, &w) = nonzero.next()?;
        if nonzero.next().is_some() {
            return None;
        }
        // w·x + bias < 0 ⇔ x ≤ T (w > 0) or x > T (w < 0).
        let (t, below) = if w > 0 {
            ((bias.checked_neg()?.checked_sub(1)?).div_euclid(w), below_when_negative)
        } else {
            (bias.div_euclid(w.checked_neg()?), !below_when_negative)
        };
        let t = t.clamp(lo - 1, hi);
        let (high, b) = (t.div_euclid(1 << d), t.rem_euclid(1 << d));
        let feature = features.iter().position(|&f| f == input).unwrap_or_else(|| {
            features.push(input);
            features.len() - 1
        });
        let low = (b < (1 << d) - 1).then(|| {
            let test = LowTest { feature, above: b };
            low_tests.iter().position(|l| *l == test).unwrap_or_else(|| {
                low_tests.push(test);
                low_tests.len() - 1
            })
        });
        nodes.push(SplitNode { feature, low, high, below });
    }
    Some(FeatureSplit {
        digit: Digit { start: 0, width: d },
        features,
        low_tests,
        nodes,
        digit_key: BootstrapKey::Fast,
        low_key: BootstrapKey::Fast,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::stage;
    use super::*;

    /// Every weight, bias and input of 4 to 7 bits: the split answers the sign test, and `v` fits
    /// the 4-bit window.
    #[test]
    fn the_split_form_equals_the_sign_test_for_every_input_and_threshold() {
        for bits in 4..=7u32 {
            let (lo, hi) = signed_range(bits);
            for activation in [Activation::Negative, Activation::NonNegative] {
                for w in [1i64, 2, 3, -1, -2, 5] {
                    let biases: Vec<i64> = (-2 * hi * 5 - 3..=2 * hi * 5 + 3).collect();
                    // One feature (input 1 of 2) against every threshold.
                    let weights = biases.iter().flat_map(|_| [0, w]).collect();
                    let s = stage(weights, biases.clone(), activation);
                    let split = split(&s, bits).unwrap();
                    assert_eq!((split.features.clone(), split.digit.width), (vec![1], bits - HIGH_BITS));
                    assert!(split.low_tests.len() < 1 << split.digit.width);
                    for x in lo..=hi {
                        let want: Vec<i64> = biases.iter().map(|b| activation.apply(w * x + b)).collect();
                        assert_eq!(split.apply(&[0, x]), want, "bits {bits} w {w} x {x} {activation:?}");
                        let d = split.digit.width;
                        for n in &split.nodes {
                            // v = h − a − 1 + g, g = 0 or (with a low test) 1.
                            let v = x.div_euclid(1 << d) - n.high - 1;
                            assert!((-8..=7).contains(&v) && (n.low.is_none() || v < 7), "{n:?} x {x}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn other_layers_have_no_split_form() {
        // Two inputs in one row, a leaf test, a shift, or inputs too narrow or too wide.
        assert!(split(&stage(vec![1, 1], vec![0], Activation::Negative), 6).is_none());
        assert!(split(&stage(vec![1, 0], vec![0], Activation::Zero), 6).is_none());
        let mut s = stage(vec![1, 0], vec![0], Activation::Negative);
        assert!(split(&s, 3).is_none() && split(&s, 8).is_none() && split(&s, 6).is_some());
        s.shift = 1;
        assert!(split(&s, 6).is_none());
        // Shared low tests: two nodes on the same feature and low digit.
        let s = stage(vec![1, 1, 1], vec![-3, -11, -5], Activation::Negative);
        let sp = split(&s, 6).unwrap();
        assert_eq!((sp.features.len(), sp.low_tests.len(), sp.bootstraps()), (1, 2, 2 + 2 + 3));
    }
}
