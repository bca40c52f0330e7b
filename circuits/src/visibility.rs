//! What the proof reveals about the input: nothing (private), the quantized input
//! itself (public instances), or a Poseidon commitment to it (hashed).

use crate::chips::{Cells, Chip};
use crate::field::Fr;
use halo2_base::AssignedValue;
use halo2_base::gates::RangeInstructions;
use halo2_base::poseidon::hasher::PoseidonHasher;
use halo2_base::poseidon::hasher::spec::OptimizedPoseidonSpec;
use serde::{Deserialize, Serialize};

/// Visibility of the model input in the proof (the output is always public).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputVisibility {
    #[default]
    Private,
    Public,
    Hashed,
}

/// Poseidon over BN254 with width 3 (rate 2), 8 full and 57 partial rounds.
const T: usize = 3;
const RATE: usize = 2;
const R_F: usize = 8;
const R_P: usize = 57;

/// The instance cells the input contributes, in order, before the outputs.
pub fn input_instances(
    chip: &mut Chip,
    input: &Cells,
    visibility: InputVisibility,
) -> Vec<AssignedValue<Fr>> {
    match visibility {
        InputVisibility::Private => Vec::new(),
        InputVisibility::Public => input.clone(),
        InputVisibility::Hashed => {
            let gate = chip.range.gate();
            let mut hasher =
                PoseidonHasher::<Fr, T, RATE>::new(OptimizedPoseidonSpec::new::<R_F, R_P, 0>());
            hasher.initialize_consts(chip.ctx, gate);
            vec![hasher.hash_fix_len_array(chip.ctx, gate, input)]
        }
    }
}
