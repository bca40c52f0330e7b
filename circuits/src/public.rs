//! Public instances bound by a gate instead of the permutation.
//!
//! halo2-base exposes instances by copy constraints, which puts the instance
//! column in the permutation argument: one more sigma commitment and, past two
//! equality columns, one more permutation product — two elliptic-curve
//! multiplications and their evaluations in every verifier, on-chain included.
//! Here the instance column takes no part in the permutation. The values to
//! expose are copied (advice-to-advice copy constraints) into the first rows of
//! halo2-base's first gate column, by a thread laid out before every other,
//! and a gate ties each of those rows to the same row of the instance column:
//!
//! ```text
//! q_public · (advice[r] − instance[r]) = 0      for r < number of instances
//! ```
//!
//! `q_public` is a simple selector that never shares a row with the gate
//! column's own selector, so with selector compression (keygen) both live in
//! one fixed column.

use crate::error::{CircuitError, Result};
use crate::field::Fr;
use halo2_base::AssignedValue;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::circuit::Region;
use halo2_base::halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Instance, Selector};
use halo2_base::halo2_proofs::poly::Rotation;

/// halo2-base's phase-0 thread that holds the instance copies; created first,
/// so its cells are the first rows of the first gate column.
pub const PUBLIC_THREAD: usize = 0;

/// The instance column and the gate binding it to the first gate column.
#[derive(Debug, Clone)]
pub struct PublicConfig {
    pub instance: Column<Instance>,
    q: Selector,
}

impl PublicConfig {
    /// `advice` must be the column where halo2-base lays out its first thread.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, advice: Column<Advice>) -> Self {
        let instance = meta.instance_column();
        let q = meta.selector();
        meta.create_gate("public instance", |meta| {
            let q = meta.query_selector(q);
            let a = meta.query_advice(advice, Rotation::cur());
            let i = meta.query_instance(instance, Rotation::cur());
            vec![q * (a - i)]
        });
        Self { instance, q }
    }

    /// Turns the gate on for the first `n` rows (the instance copies).
    pub fn assign(&self, region: &mut Region<Fr>, n: usize) {
        for row in 0..n {
            // Enabling a selector inside the region's own rows cannot fail.
            let _ = self.q.enable(region, row);
        }
    }
}

/// Reserves [`PUBLIC_THREAD`]; fails unless the builder is fresh (the copies
/// must be its first cells).
pub fn reserve(builder: &mut BaseCircuitBuilder<Fr>) -> Result<()> {
    let pool = builder.pool(0);
    if pool.threads.iter().any(|t| !t.advice.is_empty()) {
        return Err(CircuitError::BuilderInUse);
    }
    pool.threads.clear();
    pool.new_thread();
    Ok(())
}

/// Copies `cells` into the public thread, in order, each copy-constrained to
/// its original; returns the copies (the instances, row by row).
pub fn expose(
    builder: &mut BaseCircuitBuilder<Fr>,
    cells: &[AssignedValue<Fr>],
) -> Vec<AssignedValue<Fr>> {
    let ctx = &mut builder.pool(0).threads[PUBLIC_THREAD];
    cells
        .iter()
        .map(|cell| {
            let copy = ctx.load_witness(*cell.value());
            ctx.constrain_equal(&copy, cell);
            copy
        })
        .collect()
}
