//! Comparisons (ONNX Less, LessOrEqual, Greater, GreaterOrEqual, Equal): each
//! yields 1 where it holds and 0 elsewhere, in every engine.

use serde::{Deserialize, Serialize};

/// Which comparison a Compare op makes, as `a cmp b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
}

impl Comparison {
    /// The comparison named by an ONNX operator type.
    pub fn of_onnx(op_type: &str) -> Option<Self> {
        Some(match op_type {
            "Less" => Self::Less,
            "LessOrEqual" => Self::LessOrEqual,
            "Greater" => Self::Greater,
            "GreaterOrEqual" => Self::GreaterOrEqual,
            "Equal" => Self::Equal,
            _ => return None,
        })
    }

    /// The comparison with its operands swapped: `a < b` is `b > a`.
    pub fn swapped(self) -> Self {
        match self {
            Self::Less => Self::Greater,
            Self::LessOrEqual => Self::GreaterOrEqual,
            Self::Greater => Self::Less,
            Self::GreaterOrEqual => Self::LessOrEqual,
            Self::Equal => Self::Equal,
        }
    }

    /// Whether `a cmp b` holds.
    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Self::Less => a < b,
            Self::LessOrEqual => a <= b,
            Self::Greater => a > b,
            Self::GreaterOrEqual => a >= b,
            Self::Equal => a == b,
        }
    }

    /// 1 where `a cmp b` holds, else 0.
    pub fn indicator<T: PartialOrd>(self, a: T, b: T) -> i64 {
        i64::from(self.holds(a, b))
    }

    /// The integer `k` with `q cmp k ⇔ q cmp t` for every integer `q` (`t` real): the
    /// ceiling for `<` and `≥`, the floor for `≤` and `>`; for `=`, `t` itself when it
    /// is an integer and `None` (never equal) otherwise.
    pub fn integer_threshold(self, t: f64) -> Option<f64> {
        match self {
            Self::Less | Self::GreaterOrEqual => Some(t.ceil()),
            Self::LessOrEqual | Self::Greater => Some(t.floor()),
            Self::Equal => (t.fract() == 0.0).then_some(t),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Less => "Less",
            Self::LessOrEqual => "LessOrEqual",
            Self::Greater => "Greater",
            Self::GreaterOrEqual => "GreaterOrEqual",
            Self::Equal => "Equal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Comparison::{self, *};

    const ALL: [Comparison; 5] = [Less, LessOrEqual, Greater, GreaterOrEqual, Equal];

    #[test]
    fn integer_thresholds_agree_with_the_real_comparison() {
        for cmp in ALL {
            for t in [-2.5, -2.0, -0.25, 0.0, 0.75, 3.0, 3.5] {
                for q in -5i64..=5 {
                    let exact = cmp.holds(q as f64, t);
                    let via = cmp
                        .integer_threshold(t)
                        .is_some_and(|k| cmp.holds(q as f64, k));
                    assert_eq!(exact, via, "{cmp:?} q={q} t={t}");
                }
            }
        }
    }

    #[test]
    fn swapping_operands_keeps_the_result() {
        for cmp in ALL {
            for (a, b) in [(1, 2), (2, 2), (3, 2)] {
                assert_eq!(
                    cmp.holds(a, b),
                    cmp.swapped().holds(b, a),
                    "{cmp:?} {a} {b}"
                );
            }
        }
    }
}
