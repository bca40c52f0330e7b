//! The fused rescale gadget: exact rounding, and no witness for a result out of
//! range or for any other (quotient, remainder) split.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_circuits::field::{Fr, fr_i64, i64_fr};
use common::{bump, lay_out, ok, only_lookups_fail};
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;

/// Lays out `rescale(v, d, out_bits)`; returns the builder, the output value and its cell offset.
fn layout(v: i64, d: u32, out_bits: u32) -> (BaseCircuitBuilder<Fr>, i64, usize) {
    let (b, out) = lay_out(|chip| {
        let x = chip.ctx.load_witness(fr_i64(v));
        chip.rescale(x, d, out_bits)
    });
    (b, i64_fr(out.value()).unwrap(), out.cell.unwrap().offset)
}

#[test]
fn rounds_half_up_like_the_reference() {
    for (v, d, want) in [
        (5, 1, 3),
        (-5, 1, -2),
        (6, 2, 2),
        (-6, 2, -1),
        (1000, 4, 63),
        (-1000, 4, -62),
        (7, 0, 7),
    ] {
        let (b, out, _) = layout(v, d, 16);
        assert_eq!(out, want, "round_shift({v}, {d})");
        assert_eq!(out, cipherproof_model::quant::fixed::round_shift(v, d));
        assert!(ok(&b), "round_shift({v}, {d})");
    }
}

#[test]
fn a_result_beyond_its_bits_has_no_witness() {
    // 2^20 >> 2 = 2^18 does not fit 16 signed bits.
    let (b, _, _) = layout(1 << 20, 2, 16);
    assert!(!ok(&b));
}

#[test]
fn another_quotient_remainder_split_is_rejected() {
    // Layout: | o0 | o1 | 2^8 | O | −2^15 | 1 | out | l0 | c0 | a1 | l1 | c1 | a2 | … |, with
    // O = out + 2^15 in limbs o0, o1 and R = (r + 2^(d−1))·2^e in limbs l0, l1, …;
    // a_i = out + Σ l_j·c_j (c_j = 2^(8j−d−e)). The split (out + 1, R − 2^(d+e)) keeps
    // every gate satisfied when O's low limb, O, out and the partial sums move by one
    // and R's top limb by −2^8: only R's limb lookup can object.
    // d = 4: R = (r + 8)·2^4 is one 8-bit limb, so a1 is unchanged.
    let (b0, out, _) = layout(1000, 4, 16);
    assert!(ok(&b0) && out == 63);
    let (mut b, _, at) = layout(1000, 4, 16);
    for cell in [at - 6, at - 3, at] {
        bump(&mut b, cell, 1);
    }
    bump(&mut b, at + 1, -256);
    assert!(only_lookups_fail(&b));
    // d = 12: R = (r + 2^11)·2^4 in two limbs; a1 moves by one, a2 not.
    let (b0, out, _) = layout(1_000_003, 12, 16);
    assert!(ok(&b0) && out == 244);
    let (mut b, _, at) = layout(1_000_003, 12, 16);
    for cell in [at - 6, at - 3, at, at + 3] {
        bump(&mut b, cell, 1);
    }
    bump(&mut b, at + 4, -256);
    assert!(only_lookups_fail(&b));
}

#[test]
fn remainders_at_both_ends_round_like_the_reference() {
    // r = −2^(d−1) and r = 2^(d−1) − 1, for shifts below, at and above one limb.
    for d in [3u32, 8, 11, 12, 16, 19] {
        for v in [
            -(1i64 << (d - 1)),
            (1i64 << (d - 1)) - 1,
            12345 << d,
            -(777 << d) - (1 << (d - 1)),
        ] {
            let (b, out, _) = layout(v, d, 16);
            assert_eq!(
                out,
                cipherproof_model::quant::fixed::round_shift(v, d),
                "round_shift({v}, {d})"
            );
            assert!(ok(&b), "round_shift({v}, {d})");
        }
    }
}

/// Lays out `rescale_offset_witness` of `v` (as the dot-product gate would sum it):
/// returns the builder, the output value and the output's cell offset.
fn offset_layout(v: i64, d: u32, out_bits: u32) -> (BaseCircuitBuilder<Fr>, i64, usize) {
    let (b, out) = lay_out(|chip| {
        let (e, c) = chip.offset_sum(d, out_bits, 1 << 40).unwrap();
        chip.rescale_offset_witness(fr_i64((v << e) + c), d, out_bits)
            .0
    });
    (b, i64_fr(out.value()).unwrap(), out.cell.unwrap().offset)
}

#[test]
fn the_offset_sum_rescale_rounds_like_the_reference() {
    for d in [1u32, 3, 4, 8, 11, 12, 16, 19] {
        for v in [
            0,
            -(1i64 << (d - 1)),
            (1i64 << (d - 1)) - 1,
            12345 << d,
            -(777 << d) - (1 << (d - 1)),
            -(1 << (15 + d)) - (1 << (d - 1)) + 1,
        ] {
            let (b, out, _) = offset_layout(v, d, 16);
            assert_eq!(
                out,
                cipherproof_model::quant::fixed::round_shift(v, d),
                "round_shift({v}, {d})"
            );
            assert!(ok(&b), "round_shift({v}, {d})");
        }
    }
    // Just beyond 16 signed bits, at both ends: no witness.
    for v in [(1i64 << 27) - (1 << 11), -(1i64 << 27) - (1 << 11) - 1] {
        let (b, out, _) = offset_layout(v, 12, 16);
        assert!(!(-(1 << 15)..(1 << 15)).contains(&out));
        assert!(!ok(&b), "round_shift({v}, 12) = {out} is out of range");
    }
    // The gate bounds the sum to 62 bits; a bound beyond that is refused.
    lay_out(|chip| {
        assert!(chip.offset_sum(12, 16, 1 << 57).is_none());
        assert!(chip.offset_sum(12, 16, 1 << 40).is_some());
        assert!(chip.offset_sum(0, 16, 1).is_none());
    });
}

#[test]
fn another_split_of_the_offset_sum_is_rejected() {
    // | r0 | r1 | 2^8 | R | X | 2^(d+e) | V | o0 | o1 | 2^8 | X' | −2^15 | 1 | out |, X = X'.
    // (X + 1, R − 2^(d+e)) keeps every gate and copy: R's top limb moves by −2^8, X, X',
    // out and X's low limb by one. Only R's limb lookup can object.
    // d = 12: R in two limbs; out sits 13 cells after r0.
    let (b0, out, _) = offset_layout(1_000_003, 12, 16);
    assert!(ok(&b0) && out == 244);
    let (mut b, _, at) = offset_layout(1_000_003, 12, 16);
    let first = at - 13;
    bump(&mut b, first + 1, -256);
    bump(&mut b, first + 3, -(1 << 16));
    for cell in [first + 4, first + 7, first + 10, at] {
        bump(&mut b, cell, 1);
    }
    assert!(only_lookups_fail(&b));
    // d = 4: R = r0 alone, `| r0 | X | 2^8 | V |`; out sits 10 cells after r0.
    let (b0, out, _) = offset_layout(1000, 4, 16);
    assert!(ok(&b0) && out == 63);
    let (mut b, _, at) = offset_layout(1000, 4, 16);
    let first = at - 10;
    bump(&mut b, first, -256);
    for cell in [first + 1, first + 4, first + 7, at] {
        bump(&mut b, cell, 1);
    }
    assert!(only_lookups_fail(&b));
}
