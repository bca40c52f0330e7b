//! Shared by the gadget tests: a mock builder (one thread, 8-bit limbs) and its verdicts.

#![allow(dead_code, clippy::unwrap_used)]

use cipherproof_circuits::chips::Chip;
use cipherproof_circuits::field::{Fr, fr_i64};
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::halo2_proofs::plonk::Assigned;

pub const K: u32 = 10;

/// A mock builder at `K` with 8-bit range limbs.
pub fn builder() -> BaseCircuitBuilder<Fr> {
    BaseCircuitBuilder::from_stage(CircuitBuilderStage::Mock)
        .use_k(K as usize)
        .use_lookup_bits(8)
        .use_instance_columns(1)
}

/// Runs `lay` with a gadget chip on a fresh [`builder`]'s one thread (no
/// dot-product gate), then sizes the builder ([`finish`]).
pub fn lay_out<T>(lay: impl FnOnce(&mut Chip) -> T) -> (BaseCircuitBuilder<Fr>, T) {
    let mut b = builder();
    let range = b.range_chip();
    let out = lay(&mut Chip {
        ctx: b.main(0),
        range: &range,
        dots: None,
    });
    finish(&mut b);
    (b, out)
}

/// Sizes the builder's columns once its cells are laid out.
pub fn finish(b: &mut BaseCircuitBuilder<Fr>) {
    b.calculate_params(Some(9));
}

pub fn ok(b: &BaseCircuitBuilder<Fr>) -> bool {
    MockProver::run(K, b, vec![vec![]])
        .unwrap()
        .verify()
        .is_ok()
}

/// Verification fails, and only lookups (range checks) object: every gate and copy holds.
pub fn only_lookups_fail(b: &BaseCircuitBuilder<Fr>) -> bool {
    match MockProver::run(K, b, vec![vec![]]).unwrap().verify() {
        Ok(()) => false,
        Err(failures) => failures
            .iter()
            .all(|f| format!("{f:?}").starts_with("Lookup")),
    }
}

/// Sets advice cells of the main thread to `v`.
pub fn set(b: &mut BaseCircuitBuilder<Fr>, cells: &[usize], v: i64) {
    for &c in cells {
        b.main(0).advice[c] = Assigned::Trivial(fr_i64(v));
    }
}

/// Adds `by` to advice cell `at` of the main thread.
pub fn bump(b: &mut BaseCircuitBuilder<Fr>, at: usize, by: i64) {
    b.main(0).advice[at] += Assigned::Trivial(fr_i64(by));
}

/// halo2-base's `is_zero(a)` lays out `[is_zero, a, inv, 1 | 0, a, is_zero, 0]` with gates
/// `is_zero + a·inv = 1` and `a·is_zero = 0`: when `a = 0` the inverse `inv` is a free hint
/// (any value satisfies both gates) and the output is still forced to 1. Whether advice cell
/// `i` of the main thread is such a hint, which may be tampered without changing anything
/// the proof asserts.
pub fn is_zero_hint_of_zero(b: &mut BaseCircuitBuilder<Fr>, i: usize) -> bool {
    let ctx = b.main(0);
    let (adv, sel) = (&ctx.advice, &ctx.selector);
    let v = |j: usize| adv.get(j).map(|a| a.evaluate());
    let one = Some(Fr::from(1u64));
    let zero = Some(Fr::from(0u64));
    i >= 2
        && sel.get(i - 2) == Some(&true)
        && sel.get(i + 2) == Some(&true)
        && v(i - 2) == one
        && v(i - 1) == zero
        && v(i + 1) == one
        && v(i + 3) == zero
        && v(i + 4) == one
}
