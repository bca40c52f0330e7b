//! Signed integers on the 64-bit torus: `m` is encoded as `m·2^log_delta`
//! (two's complement, wrapping) and decoded by rounding to the nearest
//! multiple of `2^log_delta`, then sign-extending the `64 − log_delta` bits.

use tfhe::core_crypto::prelude::Plaintext;

pub fn encode(m: i64, log_delta: u32) -> Plaintext<u64> {
    Plaintext((m as u64).wrapping_shl(log_delta))
}

pub fn decode(p: Plaintext<u64>, log_delta: u32) -> i64 {
    let bits = 64 - log_delta;
    let rounded = p.0.wrapping_add(1u64 << (log_delta - 1)) >> log_delta;
    ((rounded << (64 - bits)) as i64) >> (64 - bits)
}

/// The signed distance of a decrypted plaintext from the encoding of `m` (the noise).
pub fn error_of(p: Plaintext<u64>, m: i64, log_delta: u32) -> i64 {
    p.0.wrapping_sub(encode(m, log_delta).0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_signed_values_with_noise() {
        for log_delta in [20, 32, 47] {
            let half = 1i64 << (log_delta - 1);
            for m in [0i64, 1, -1, 12345, -(1 << 15), (1 << (62 - log_delta)) - 1] {
                for noise in [0i64, half - 1, -(half - 1), 7, -7] {
                    let p = Plaintext(encode(m, log_delta).0.wrapping_add(noise as u64));
                    assert_eq!(decode(p, log_delta), m, "m {m} noise {noise} Δ 2^{log_delta}");
                }
            }
        }
    }
}
