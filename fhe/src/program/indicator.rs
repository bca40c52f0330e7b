//! Comparisons on ciphertexts: a Dense layer followed by a comparison with constants (a
//! decision tree's node tests and leaf tests, in the GEMM form of Hummingbird and Concrete ML)
//! becomes one table lookup per value, returning 1 or 0 at the next layer's Δ.
//!
//! The integer model computes `[round_shift(acc, s) cmp c]`. Every comparison is folded into
//! the layer's bias so that the table reads a fixed question about the requantized value `y`:
//! * `<`, `≤`, `>`, `≥` become the sign of `acc − T` (`y < t ⇔ acc < t·2^s − 2^(s−1)`). The sign
//!   of a value does not depend on its scale, so the planner may requantize by any shift `s'`
//!   (its rounding constant folded into the bias as well) that brings the value into the window
//!   one bootstrap reads ([`sign_shift`]): a 6-bit feature against its threshold needs one digit
//!   cleared, then one bootstrap.
//! * `=` becomes `round_shift(acc − c·2^s, s) = 0`.
//!
//! A power of two common to every weight and bias is divided out first (exact: the sign and the
//! zero of a value do not change with its scale), so a feature selected by a weight of `2^8` is
//! compared as the feature itself.

use super::{Activation, DotProducts, bits_signed, unsupported};
use crate::error::{FheError, Result};
use cipherproof_model::graph::compare::Comparison;
use cipherproof_model::quant::fixed::round_shift;

/// The widest requantized value one bootstrap of a comparison table reads (N = 2048).
pub(super) const WINDOW_BITS: u32 = 4;

/// Folds `round_shift(acc, shift) cmp c` (one threshold, or one per output) into `dot`'s bias.
/// Returns the shift the layer keeps (0 for a sign test: [`sign_shift`] picks its own) and the
/// table's question.
pub(super) fn fold(dot: &mut DotProducts, shift: u32, cmp: Comparison, c: &[i64]) -> Result<(u32, Activation)> {
    if c.len() != 1 && c.len() != dot.outputs {
        return Err(unsupported(
            &dot.node,
            cmp.name(),
            &format!("{} thresholds for {} values: encrypted comparisons take one threshold, or one per value", c.len(), dot.outputs),
        ));
    }
    let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
    let activation = match cmp {
        Comparison::Less | Comparison::LessOrEqual => Activation::Negative,
        Comparison::Greater | Comparison::GreaterOrEqual => Activation::NonNegative,
        Comparison::Equal => Activation::Zero,
    };
    let mut bias = Vec::with_capacity(dot.outputs);
    for (o, &b) in dot.bias.iter().enumerate() {
        let c = i128::from(c[if c.len() == 1 { 0 } else { o }]);
        let offset = match cmp {
            // y < t ⇔ acc < t·2^s − 2^(s−1): the sign of acc − t·2^s + 2^(s−1).
            Comparison::Less | Comparison::GreaterOrEqual => (c << shift) - half,
            Comparison::LessOrEqual | Comparison::Greater => ((c + 1) << shift) - half,
            // y = c ⇔ round_shift(acc − c·2^s, s) = 0.
            Comparison::Equal => c << shift,
        };
        bias.push(fit(&dot.node, i128::from(b) - offset)?);
    }
    dot.bias = bias;
    let g = common_power_of_two(dot);
    if g > 0 {
        dot.weights.iter_mut().chain(dot.bias.iter_mut()).for_each(|v| *v >>= g);
    }
    let kept = match activation {
        Activation::Zero => shift.saturating_sub(g),
        _ => 0,
    };
    Ok((kept, activation))
}

/// The shift that brings a sign test's accumulators, `[lo, hi]` for every input in range, into
/// [`WINDOW_BITS`]; subtracts its rounding constant from the bias, so that
/// `round_shift(acc − 2^(s−1), s) < 0 ⇔ acc < 0`.
pub(super) fn sign_shift(dot: &mut DotProducts, lo: i64, hi: i64) -> Result<u32> {
    let half = |s: u32| if s == 0 { 0 } else { 1i64 << (s - 1) };
    let fits = |s: u32| match (lo.checked_sub(half(s)), hi.checked_sub(half(s))) {
        (Some(l), Some(h)) => bits_signed(round_shift(l, s), round_shift(h, s)) <= WINDOW_BITS,
        _ => false,
    };
    let s = (0..62)
        .find(|&s| fits(s))
        .ok_or_else(|| FheError::NoiseBudget(format!("layer {}: accumulators overflow 62 bits", dot.node)))?;
    for b in &mut dot.bias {
        *b = fit(&dot.node, i128::from(*b) - i128::from(half(s)))?;
    }
    Ok(s)
}

/// The values of a layer of leaf tests (`y = 0`) grouped so that at most one per group is 1:
/// the leaves of one tree. A leaf test whose row is `±w` on its path's nodes (`+w` where the path
/// turns left) with bias `−w·(left turns)` and no shift holds exactly when every decision on its
/// path matches; two such leaves that turn opposite ways at a common node never hold together. Leaves
/// sharing nodes form a group when every pair of them is exclusive; any other value is a group alone.
pub(super) fn exclusive_groups(dot: &DotProducts, shift: u32) -> Vec<Vec<usize>> {
    let rows: Vec<&[i64]> = dot.rows().collect();
    let path_test = |j: usize| {
        let Some(w) = rows[j].iter().find(|v| **v != 0).and_then(|v| v.checked_abs()) else { return false };
        let lefts = rows[j].iter().filter(|v| **v == w).count() as i64;
        shift == 0
            && rows[j].iter().all(|v| *v == 0 || *v == w || *v == -w)
            && w.checked_mul(lefts).is_some_and(|t| dot.bias[j] == -t)
    };
    let exclusive = |j: usize, k: usize| rows[j].iter().zip(rows[k]).any(|(a, b)| a.signum() * b.signum() < 0);
    // Components of "shares a node", by union-find over the leaves.
    let mut parent: Vec<usize> = (0..rows.len()).collect();
    fn root(parent: &mut [usize], mut j: usize) -> usize {
        while parent[j] != j {
            parent[j] = parent[parent[j]];
            j = parent[j];
        }
        j
    }
    for node in 0..dot.inputs {
        let mut first = None;
        for (j, row) in rows.iter().enumerate() {
            if row[node] != 0 {
                match first {
                    None => first = Some(j),
                    Some(f) => {
                        let (a, b) = (root(&mut parent, f), root(&mut parent, j));
                        parent[b] = a;
                    }
                }
            }
        }
    }
    let mut components: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for j in 0..rows.len() {
        components.entry(root(&mut parent, j)).or_default().push(j);
    }
    let mut groups = Vec::new();
    for members in components.into_values() {
        let proven = members.iter().all(|&j| path_test(j))
            && members.iter().enumerate().all(|(a, &j)| members[a + 1..].iter().all(|&k| exclusive(j, k)));
        if proven {
            groups.push(members);
        } else {
            groups.extend(members.into_iter().map(|j| vec![j]));
        }
    }
    groups
}

/// The largest accumulator magnitude of `dot` over inputs of 0 or 1 with at most one 1 per group.
pub(super) fn max_abs_acc_one_hot(dot: &DotProducts, groups: &[Vec<usize>]) -> u128 {
    dot.rows()
        .zip(&dot.bias)
        .map(|(row, &b)| {
            // Each group adds its most negative weight (or nothing) to the low end and its most
            // positive weight (or nothing) to the high end.
            let (mut lo, mut hi) = (i128::from(b), i128::from(b));
            for g in groups {
                let weights = || g.iter().map(|&j| i128::from(row[j]));
                lo += weights().min().unwrap_or(0).min(0);
                hi += weights().max().unwrap_or(0).max(0);
            }
            lo.unsigned_abs().max(hi.unsigned_abs())
        })
        .max()
        .unwrap_or(0)
}

/// The largest `g` with every weight and bias a multiple of `2^g` (0 when all are zero).
fn common_power_of_two(dot: &DotProducts) -> u32 {
    dot.weights
        .iter()
        .chain(&dot.bias)
        .filter(|v| **v != 0)
        .map(|v| v.trailing_zeros())
        .min()
        .unwrap_or(0)
}

fn fit(node: &str, v: i128) -> Result<i64> {
    i64::try_from(v).map_err(|_| FheError::NoiseBudget(format!("layer {node}: a comparison's threshold overflows 64 bits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(weights: Vec<i64>, bias: Vec<i64>) -> DotProducts {
        DotProducts {
            node: "d".into(),
            inputs: weights.len() / bias.len(),
            outputs: bias.len(),
            weights,
            bias,
        }
    }

    /// Every comparison, shift and threshold: the folded layer's question about its requantized
    /// value answers the integer model's comparison for every accumulator.
    #[test]
    fn folded_comparisons_equal_the_integer_model_for_every_accumulator() {
        use Comparison::*;
        for cmp in [Less, LessOrEqual, Greater, GreaterOrEqual, Equal] {
            for shift in 0..4u32 {
                for c in -5i64..=5 {
                    for weight in [1i64, 4, -8] {
                        for bias in [0i64, 3, -16] {
                            let mut d = dot(vec![weight], vec![bias]);
                            let (mut kept, act) = fold(&mut d, shift, cmp, &[c]).unwrap();
                            let range = |d: &DotProducts| {
                                let (a, b) = (d.bias[0] - 64 * d.weights[0].abs(), d.bias[0] + 64 * d.weights[0].abs());
                                (a.min(b), a.max(b))
                            };
                            if act != Activation::Zero {
                                let (a, b) = range(&d);
                                kept = sign_shift(&mut d, a, b).unwrap();
                            }
                            for x in -64i64..=64 {
                                let want = cmp.indicator(round_shift(weight * x + bias, shift), c);
                                let acc = d.weights[0] * x + d.bias[0];
                                assert_eq!(act.apply(round_shift(acc, kept)), want, "{cmp:?} shift {shift} c {c} w {weight} b {bias} x {x}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_leaves_of_each_tree_form_one_exclusive_group() {
        // Two stumps side by side (nodes 0 and 1), leaves left/right of each, after the Equal fold:
        // rows ±1 on their node, bias −(left turns).
        let d = dot(vec![1, 0, -1, 0, 0, 1, 0, -1], vec![-1, 0, -1, 0]);
        assert_eq!(exclusive_groups(&d, 0), vec![vec![0, 1], vec![2, 3]]);
        // With a shift the tests are not proven: every value alone.
        assert_eq!(exclusive_groups(&d, 1).len(), 4);
        // A fifth test on both nodes (left at each) joins the stumps, whose leaves 0 and 2 can
        // hold together: nothing is grouped.
        let d = dot(vec![1, 0, -1, 0, 0, 1, 0, -1, 1, 1], vec![-1, 0, -1, 0, -2]);
        assert_eq!(exclusive_groups(&d, 0).len(), 5);
        // Scores 3 and −5 on the left/right leaves: at most |−5| from each tree (+ the bias 1), where
        // the symmetric bound counts 3 + 5 for each.
        let scores = DotProducts { node: "e".into(), weights: vec![3, -5, 3, -5], inputs: 4, outputs: 1, bias: vec![1] };
        let groups = vec![vec![0, 1], vec![2, 3]];
        assert_eq!(max_abs_acc_one_hot(&scores, &groups), 9);
        assert_eq!(scores.max_abs_acc(1), 17);
    }

    #[test]
    fn a_common_power_of_two_is_divided_out_and_sign_tests_fit_the_window() {
        // A feature selected by 2^8 and compared at shift 8: the feature itself against 3.
        let mut d = dot(vec![256, 0], vec![0]);
        let (kept, act) = fold(&mut d, 8, Comparison::LessOrEqual, &[3]).unwrap();
        assert_eq!((kept, act, d.weights.clone(), d.bias.clone()), (0, Activation::Negative, vec![2, 0], vec![-7]));
        // 2x − 7 for 6-bit x spans [−69, 55]: 8 bits, shifted by 4 into the window.
        let s = sign_shift(&mut d, -69, 55).unwrap();
        assert_eq!(s, 4);
        assert!(bits_signed(round_shift(-69 - 8, 4), round_shift(55 - 8, 4)) <= WINDOW_BITS);
        // Accumulators too wide for any shift are an error, not an overflow.
        assert!(sign_shift(&mut d.clone(), i64::MIN + 1, i64::MAX).is_err());
        // Thresholds must be one, or one per value.
        let mut d = dot(vec![1, 1, 1], vec![0, 0, 0]);
        assert!(fold(&mut d, 0, Comparison::Equal, &[1, 2]).is_err());
    }
}
