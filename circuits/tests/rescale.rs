//! The fused rescale gadget: exact rounding, and no witness for a result out of
//! range or for any other (quotient, remainder) split.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_circuits::chips::Chip;
use cipherproof_circuits::field::{Fr, fr_i64, i64_fr};
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::halo2_proofs::plonk::Assigned;

const K: u32 = 10;

/// Lays out `rescale(v, d, out_bits)`; returns the builder, the output value and its cell offset.
fn layout(v: i64, d: u32, out_bits: u32) -> (BaseCircuitBuilder<Fr>, i64, usize) {
    let mut b = BaseCircuitBuilder::from_stage(CircuitBuilderStage::Mock)
        .use_k(K as usize)
        .use_lookup_bits(8)
        .use_instance_columns(1);
    let range = b.range_chip();
    let ctx = b.main(0);
    let x = ctx.load_witness(fr_i64(v));
    let mut chip = Chip {
        ctx,
        range: &range,
        dots: None,
    };
    let out = chip.rescale(x, d, out_bits);
    let offset = out.cell.unwrap().offset;
    let value = i64_fr(out.value()).unwrap();
    b.calculate_params(Some(9));
    (b, value, offset)
}

fn ok(b: &BaseCircuitBuilder<Fr>) -> bool {
    MockProver::run(K, b, vec![vec![]])
        .unwrap()
        .verify()
        .is_ok()
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
    // (out + 1, r − 2^d) satisfies the gate equation but not the remainder's range.
    let (mut b, _, at) = layout(1000, 4, 16);
    let ctx = b.main(0);
    ctx.advice[at] += Assigned::Trivial(Fr::from(1u64));
    ctx.advice[at - 1] -= Assigned::Trivial(Fr::from(16u64));
    assert!(!ok(&b));
}
