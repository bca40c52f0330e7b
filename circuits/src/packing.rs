//! Public outputs packed several to an instance word.
//!
//! An output of `bits` bits (signed) is offset by `2^(bits−1)` into
//! `[0, 2^bits)`, and [`per_word`]`(bits)` of them make one instance, lowest
//! first: `word = Σ_i (v_i + 2^(bits−1))·2^(bits·i)`, at most
//! [`WORD_BITS`] bits, below the field's modulus.
//!
//! Why: every instance costs an EVM verifier 32 calldata bytes and one
//! Lagrange term (≈400 gas; a negative value, sent as `p − |v|`, ≈800).
//! digits_mlp's ten logits fit one word.
//!
//! Sound because the circuit range-checks every output to `bits` bits before
//! packing, so a word has exactly one preimage; the native [`pack`] refuses a
//! value out of range for the same reason (an out-of-range claim could carry
//! into the next slot and collide with an honest word).

use crate::chips::Chip;
use crate::field::{Fr, pow2};
use halo2_base::AssignedValue;
use halo2_base::QuantumCell::Constant;
use halo2_base::gates::{GateInstructions, RangeInstructions};
use halo2_base::utils::fe_to_biguint;

/// Bits of one instance word that packing may use.
pub const WORD_BITS: u32 = 248;

/// Outputs of `bits` bits per instance word.
pub fn per_word(bits: u32) -> usize {
    (WORD_BITS / bits.clamp(1, WORD_BITS)) as usize
}

/// Instance words that `n` outputs of `bits` bits take.
pub fn words(n: usize, bits: u32) -> usize {
    n.div_ceil(per_word(bits))
}

/// The instance words of `values` (each of `bits` bits, `bits` ≤ 63); `None`
/// when a value is outside `[−2^(bits−1), 2^(bits−1))`.
pub fn pack(values: &[i64], bits: u32) -> Option<Vec<Fr>> {
    if !(1..=63).contains(&bits) {
        return None;
    }
    let half = 1i64 << (bits - 1);
    values
        .chunks(per_word(bits))
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .try_fold(Fr::from(0u64), |word, (i, &v)| {
                    let offset = u64::try_from(i128::from(v) + i128::from(half))
                        .ok()
                        .filter(|&o| o < 1u64 << bits)?;
                    Some(word + Fr::from(offset) * pow2(bits * i as u32))
                })
        })
        .collect()
}

/// The `n` outputs of `bits` bits that `words` hold; `None` if they are not a
/// packing of exactly `n` such values.
pub fn unpack(words: &[Fr], n: usize, bits: u32) -> Option<Vec<i64>> {
    if !(1..=63).contains(&bits) || words.len() != self::words(n, bits) {
        return None;
    }
    let per = per_word(bits);
    let mask = (1u64 << bits) - 1;
    let half = 1i64 << (bits - 1);
    let mut out = Vec::with_capacity(n);
    for (w, word) in words.iter().enumerate() {
        let mut big = fe_to_biguint(word);
        let count = per.min(n - w * per);
        for _ in 0..count {
            let digits = (&big & num_bigint::BigUint::from(mask)).to_u64_digits();
            let slot = digits.first().copied().unwrap_or(0);
            out.push(slot as i64 - half);
            big >>= bits;
        }
        if big != num_bigint::BigUint::from(0u8) {
            return None;
        }
    }
    Some(out)
}

/// Range-checks `outputs` to `bits` bits and packs them in the circuit (the
/// cells of [`pack`]'s words).
pub fn pack_cells(
    chip: &mut Chip,
    outputs: &[AssignedValue<Fr>],
    bits: u32,
) -> Vec<AssignedValue<Fr>> {
    let per = per_word(bits);
    outputs
        .chunks(per)
        .map(|chunk| {
            let shifted: Vec<_> = chunk
                .iter()
                .map(|&v| chip.range_signed_offset(v, bits))
                .collect();
            let scales = (0..shifted.len()).map(|i| Constant(pow2(bits * i as u32)));
            chip.range.gate().inner_product(chip.ctx, shifted, scales)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_refuses_out_of_range_values() {
        let values = [
            0, -1, 32767, -32768, 5, -7, 1, 2, 3, 4, -5, 6, -8, 9, 10, 11,
        ];
        let words = pack(&values, 16).unwrap();
        assert_eq!(words.len(), 2, "15 of 16 bits per word");
        assert_eq!(unpack(&words, values.len(), 16).unwrap(), values);
        assert!(pack(&[32768], 16).is_none());
        assert!(pack(&[-32769], 16).is_none());
        // A value carried into the next slot does not unpack to the claim.
        assert!(unpack(&words, values.len() - 1, 16).is_none());
        assert_eq!(pack(&[-1], 1).unwrap(), vec![Fr::zero()]);
    }
}
