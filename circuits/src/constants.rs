//! Circuit constants by a gate instead of copies, for one-column circuits.
//!
//! halo2-base pins a constant (a weight, a bias, a power of two) by copying
//! the advice cell that holds it from a fixed "constants" column: the
//! permutation argument then spans that column too, one more sigma commitment
//! and evaluation in every verifier (≈7k gas on-chain). When the circuit has a
//! single gate column, every constant cell lives in it, so a fixed column `k`
//! at the same row can pin it directly:
//!
//! ```text
//! k[r] · (advice[r] − k[r] − R) = 0        k[r] = c − R where advice[r] must be c, else 0
//! ```
//!
//! `R` is a fixed random-looking offset so that `k = 0` (no constraint) never
//! stands for a constant in use; a circuit that needs the constant `R` itself
//! is refused at synthesis. `k` takes no part in the permutation.

use crate::field::Fr;
use halo2_base::halo2_proofs::circuit::Region;
use halo2_base::halo2_proofs::plonk::{
    Advice, Any, Column, ConstraintSystem, Error, Expression, Fixed,
};
use halo2_base::halo2_proofs::poly::Rotation;
use halo2_base::utils::halo2::raw_assign_fixed;
use halo2_base::virtual_region::copy_constraints::SharedCopyConstraintManager;
use halo2_base::virtual_region::manager::VirtualRegionManager;

/// The offset `R`: an arbitrary fixed field element with no structure (not a
/// power of two or a small integer like the constants circuits use).
/// Soundness needs only that no constant in use equals it, which
/// [`ConstantGateConfig::assign_copies`] checks.
fn offset() -> Fr {
    let limbs = [
        0x5d1e_8a6f_2c3b_9e47,
        0xa4f0_13c8_7b62_d915,
        0x3e8c_55a1_0f7d_b2c6,
        0x0b27_c4e9_6d18_a3f0,
    ];
    Fr::from_raw(limbs)
}

/// The fixed column and gate pinning constants in the one gate column.
#[derive(Debug, Clone)]
pub struct ConstantGateConfig {
    k: Column<Fixed>,
    advice: Column<Advice>,
}

impl ConstantGateConfig {
    pub fn configure(meta: &mut ConstraintSystem<Fr>, advice: Column<Advice>) -> Self {
        let k = meta.fixed_column();
        meta.create_gate("constant", |meta| {
            let kv = meta.query_fixed(k, Rotation::cur());
            let a = meta.query_advice(advice, Rotation::cur());
            vec![kv.clone() * (a - kv - Expression::Constant(offset()))]
        });
        Self { k, advice }
    }

    /// Imposes halo2-base's copy constraints (after every cell is assigned):
    /// advice-to-advice ones by the permutation as usual, constants by this
    /// gate. Fails if a constant is not in the gate column or equals `R`.
    pub fn assign_copies(
        &self,
        manager: &SharedCopyConstraintManager<Fr>,
        region: &mut Region<Fr>,
    ) -> Result<(), Error> {
        let constants = {
            let mut m = manager.lock().map_err(|_| Error::Synthesis)?;
            std::mem::take(&mut m.constant_equalities)
        };
        // halo2-base's own pass with no constants: advice equalities only.
        manager.assign_raw(&Vec::new(), region);
        let mut m = manager.lock().map_err(|_| Error::Synthesis)?;
        let r = offset();
        let column: Column<Any> = self.advice.into();
        for (c, cell) in &constants {
            let at = m.assigned_advices.get(cell).ok_or(Error::Synthesis)?;
            if at.column != column || *c == r {
                return Err(Error::Synthesis);
            }
            raw_assign_fixed(region, self.k, at.row_offset, *c - r);
        }
        // keygen synthesizes twice: keep them for the next pass.
        m.constant_equalities = constants;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;

    #[test]
    fn the_offset_is_a_canonical_field_element() {
        let r = offset();
        assert_eq!(Fr::from_repr(r.to_repr()).unwrap(), r);
        assert_ne!(r, Fr::from(0u64));
    }
}
