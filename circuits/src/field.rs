//! Signed integers in the BN254 scalar field.

pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use std::sync::LazyLock;

/// A signed integer as a field element (negative values wrap to p − |x|).
pub fn fr_i64(x: i64) -> Fr {
    if x < 0 {
        -Fr::from(x.unsigned_abs())
    } else {
        Fr::from(x as u64)
    }
}

/// A signed 128-bit integer as a field element (negative values wrap).
pub fn fr_i128(x: i128) -> Fr {
    let m = x.unsigned_abs();
    let v = Fr::from((m >> 64) as u64) * pow2(64) + Fr::from(m as u64);
    if x < 0 { -v } else { v }
}

/// The signed integer a field element stands for (centred lift), if it fits in an i64.
/// Read straight off the canonical bytes: a circuit's witness converts every
/// rescaled value this way, and a big-integer lift was a tenth of its time.
pub fn i64_fr(f: &Fr) -> Option<i64> {
    if let Some(v) = small(f) {
        return i64::try_from(v).ok();
    }
    // −f small: f is p − v, the negative −v (down to i64::MIN = −2^63).
    let v = small(&-*f)?;
    0i64.checked_sub_unsigned(v)
}

/// `f` as a u64 when it is one (its canonical value below 2^64).
fn small(f: &Fr) -> Option<u64> {
    let bytes = f.to_repr();
    let (low, high) = bytes.as_ref().split_at(8);
    if high.iter().any(|&b| b != 0) {
        return None;
    }
    Some(u64::from_le_bytes(low.try_into().ok()?))
}

/// Powers of two with exponents below this come from a table.
const TABLE: usize = 256;

/// `2^e` for `e < 256`, and `2^-e`.
static POWERS: LazyLock<(Vec<Fr>, Vec<Fr>)> = LazyLock::new(|| {
    let half = Fr::from(2u64).invert().unwrap_or(Fr::ZERO);
    let up = std::iter::successors(Some(Fr::ONE), |x| Some(x.double()));
    let down = std::iter::successors(Some(Fr::ONE), |x| Some(*x * half));
    (up.take(TABLE).collect(), down.take(TABLE).collect())
});

/// `2^e` as a field element.
pub fn pow2(e: u32) -> Fr {
    match POWERS.0.get(e as usize) {
        Some(x) => *x,
        None => Fr::from(2u64).pow_vartime([u64::from(e)]),
    }
}

/// `2^-e`, the inverse of [`pow2`]`(e)` (which is never zero: p is odd).
pub fn inv_pow2(e: u32) -> Fr {
    match POWERS.1.get(e as usize) {
        Some(x) => *x,
        None => pow2(e).invert().unwrap_or(Fr::ZERO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_round_trip() {
        for x in [
            0i64,
            1,
            -1,
            32767,
            -32768,
            1 << 40,
            -(1 << 40),
            i64::MAX,
            -i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(i64_fr(&fr_i64(x)), Some(x));
        }
        // Past an i64 either way: none.
        let two64 = Fr::from(u64::MAX) + Fr::ONE;
        for f in [Fr::from(1u64 << 63), -Fr::from(1u64 << 63) - Fr::ONE, two64, -two64, Fr::from(u64::MAX)] {
            assert_eq!(i64_fr(&f), None, "{f:?}");
        }
    }

    #[test]
    fn wide_integers() {
        for x in [0i128, 5, -5, i128::from(i64::MIN), 1 << 100, -(1 << 100) - 7, i128::MAX, i128::MIN] {
            let m = x.unsigned_abs();
            let direct = Fr::from_u128(m);
            assert_eq!(fr_i128(x), if x < 0 { -direct } else { direct }, "{x}");
        }
        assert_eq!(fr_i128(-3), fr_i64(-3));
    }

    /// The tables equal the powers and inverses they stand for, past their end too.
    #[test]
    fn powers_of_two() {
        assert_eq!(pow2(10), Fr::from(1024u64));
        for e in [0, 1, 17, 63, 64, 200, 255, 256, 300] {
            let direct = Fr::from(2u64).pow_vartime([u64::from(e)]);
            assert_eq!(pow2(e), direct, "2^{e}");
            assert_eq!(inv_pow2(e), direct.invert().unwrap(), "2^-{e}");
            assert_eq!(pow2(e) * inv_pow2(e), Fr::ONE);
        }
    }
}
