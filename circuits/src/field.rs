//! Signed integers in the BN254 scalar field.

pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::utils::fe_to_bigint;

/// A signed integer as a field element (negative values wrap to p − |x|).
pub fn fr_i64(x: i64) -> Fr {
    if x < 0 {
        -Fr::from(x.unsigned_abs())
    } else {
        Fr::from(x as u64)
    }
}

/// The signed integer a field element stands for (centred lift), if it fits in an i64.
pub fn i64_fr(f: &Fr) -> Option<i64> {
    i64::try_from(&fe_to_bigint(f)).ok()
}

/// `2^e` as a field element.
pub fn pow2(e: u32) -> Fr {
    Fr::from(2u64).pow_vartime([u64::from(e)])
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
        ] {
            assert_eq!(i64_fr(&fr_i64(x)), Some(x));
        }
        assert_eq!(pow2(10), Fr::from(1024u64));
    }
}
