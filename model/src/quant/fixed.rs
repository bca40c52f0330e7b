//! Fixed-point primitives shared by the quantizer, the integer reference, the
//! circuits and the FHE engine. A quantized value `q` at scale `s` stands for
//! the real number `q · 2^-s`.
//!
//! Rounding rules (all exact integer arithmetic):
//! * float → integer: round half away from zero ([`quantize_scalar`]);
//! * rescale by `2^d`: `floor((v + 2^(d-1)) / 2^d)`, half up ([`round_shift`]);
//! * division by `n`: `floor((2v + n) / 2n)`, half up ([`round_div`]), which
//!   equals [`round_shift`] when `n = 2^d`.

/// `round(v / 2^d)` with halves rounded up; `d = 0` is the identity.
pub fn round_shift(v: i64, d: u32) -> i64 {
    if d == 0 {
        v
    } else {
        (v + (1i64 << (d - 1))) >> d
    }
}

/// `round(v / n)` with halves rounded up, for `n > 0`.
pub fn round_div(v: i64, n: i64) -> i64 {
    (2 * v + n).div_euclid(2 * n)
}

/// `round(x · 2^scale)` (half away from zero) as an integer.
pub fn quantize_scalar(x: f64, scale: i32) -> i64 {
    (x * 2f64.powi(scale)).round() as i64
}

/// `q · 2^-scale`.
pub fn dequantize(q: i64, scale: i32) -> f64 {
    q as f64 * 2f64.powi(-scale)
}

/// The signed range of a `bits`-wide two's-complement integer.
pub fn signed_range(bits: u32) -> (i64, i64) {
    let half = 1i64 << (bits - 1);
    (-half, half - 1)
}

/// The largest power-of-two scale at which `max_abs · 2^headroom` still fits in
/// `bits` signed bits (`None` when `max_abs` is 0: any scale fits).
pub fn fitting_scale(max_abs: f64, bits: u32, headroom_bits: u32) -> Option<i32> {
    if max_abs.is_nan() || max_abs <= 0.0 {
        return None;
    }
    let limit = ((1i64 << (bits - 1)) - 1) as f64;
    let scale = (limit / (max_abs * 2f64.powi(headroom_bits as i32)))
        .log2()
        .floor();
    // A subnormal or huge `max_abs` would give ±inf (as i32: i32::MAX/MIN, which
    // overflows every sum of scales); no fixed-point value needs beyond ±MAX_SCALE.
    Some(scale.clamp(-f64::from(MAX_SCALE), f64::from(MAX_SCALE)) as i32)
}

/// The finest and the coarsest power-of-two scale a value is given: `2^±126`.
pub const MAX_SCALE: i32 = 126;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_shift_rounds_half_up() {
        assert_eq!(round_shift(5, 1), 3); // 2.5 -> 3
        assert_eq!(round_shift(-5, 1), -2); // -2.5 -> -2
        assert_eq!(round_shift(-6, 2), -1); // -1.5 -> -1
        assert_eq!(round_shift(7, 0), 7);
    }

    #[test]
    fn round_div_matches_round_shift_for_powers_of_two() {
        for v in -100..100 {
            assert_eq!(round_div(v, 4), round_shift(v, 2));
        }
        assert_eq!(round_div(13, 9), 1);
        assert_eq!(round_div(14, 9), 2);
    }

    #[test]
    fn fitting_scale_leaves_headroom() {
        // 1.0 with one bit of headroom in 16 bits: 2 * 2^13 = 16384 <= 32767.
        assert_eq!(fitting_scale(1.0, 16, 1), Some(13));
        assert_eq!(fitting_scale(0.0, 16, 1), None);
    }
}
