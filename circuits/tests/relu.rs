//! The ReLU split: `y = max(x, 0)` for every `x` in range, and no witness for the
//! other split (`y = 0` for a positive `x`, `y = x` for a negative one).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_circuits::chips::activation;
use cipherproof_circuits::field::{Fr, fr_i64, i64_fr};
use common::{lay_out, ok, only_lookups_fail, set};
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;

const BITS: u32 = 16;

/// Lays out a range-checked `x` and its ReLU; returns the builder, `y` and the offsets of `x`'s split cells.
fn layout(x: i64) -> (BaseCircuitBuilder<Fr>, i64, Split) {
    let (b, y) = lay_out(|chip| {
        let cell = chip.ctx.load_witness(fr_i64(x));
        chip.range_signed(cell, BITS);
        activation::relu(chip, &vec![cell], BITS)[0]
    });
    let at = y.cell.unwrap().offset;
    // | l0 | l1 | 2^8 | w | z | −1 | y | z | −1 | x | y | z | x |
    let split = Split {
        z: vec![at - 2, at + 1, at + 5],
        y: vec![at, at + 4],
        w: vec![at - 3],
    };
    (b, i64_fr(y.value()).unwrap(), split)
}

struct Split {
    z: Vec<usize>,
    y: Vec<usize>,
    w: Vec<usize>,
}

#[test]
fn relu_of_every_kind_of_value_is_exact() {
    let lo = -(1i64 << (BITS - 1));
    for x in [lo, lo + 1, -300, -1, 0, 1, 300, (1 << (BITS - 1)) - 1] {
        let (b, y, _) = layout(x);
        assert_eq!(y, x.max(0), "relu({x})");
        assert!(ok(&b), "relu({x})");
    }
}

#[test]
fn the_other_split_has_no_witness() {
    // Positive x claimed as y = 0, z = −x, so w = −x, written as limbs (−x, 0): every gate and
    // copy holds, and only the limb lookup objects.
    let (mut b, _, s) = layout(300);
    set(&mut b, &s.y, 0);
    set(&mut b, &s.z, -300);
    set(&mut b, &s.w, -300);
    set(&mut b, &[s.w[0] - 3], -300);
    set(&mut b, &[s.w[0] - 2], 0);
    assert!(only_lookups_fail(&b));
    // Negative x claimed as y = x, z = 0 (so w = x).
    let (mut b, _, s) = layout(-300);
    set(&mut b, &s.y, -300);
    set(&mut b, &s.z, 0);
    set(&mut b, &s.w, -300);
    set(&mut b, &[s.w[0] - 3], -300);
    set(&mut b, &[s.w[0] - 2], 0);
    assert!(only_lookups_fail(&b));
    // The honest split written back passes (the offsets above are the right cells).
    let (mut b, _, s) = layout(300);
    set(&mut b, &s.y, 0);
    set(&mut b, &s.y, 300);
    set(&mut b, &s.z, 0);
    set(&mut b, &s.w, 300);
    assert!(ok(&b));
}

#[test]
fn a_nonzero_product_is_rejected() {
    // y and z both non-zero with x + z = y and w = y + z (limbs included): only y·z = 0 objects.
    let (mut b, _, s) = layout(5);
    set(&mut b, &s.y, 7);
    set(&mut b, &s.z, 2);
    set(&mut b, &s.w, 9);
    let l0 = s.w[0] - 3;
    set(&mut b, &[l0], 9);
    assert!(!ok(&b));
}
