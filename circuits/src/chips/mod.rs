//! Gadgets for the integer ops, one file per family, on halo2-base's vertical
//! gate and limb range checks (table activations add a lookup, `crate::lut`). Each gadget constrains exactly the
//! integer reference's semantics (`cipherproof_model::exec::integer`).

pub mod activation;
pub mod elementwise;
pub mod fixed_point;
pub mod linear;
pub mod pool;
pub mod select;
pub mod table;

use halo2_base::gates::RangeChip;
use halo2_base::{AssignedValue, Context};

use crate::dot::DotQueue;
use crate::field::Fr;

/// What every gadget works with: the thread's context, the range chip, and
/// (when the circuit has the dot-product gate) the queue of its jobs.
#[allow(missing_debug_implementations)]
pub struct Chip<'a> {
    pub ctx: &'a mut Context<Fr>,
    pub range: &'a RangeChip<Fr>,
    pub dots: Option<DotQueue<'a>>,
}

/// A laid-out tensor: one assigned cell per element, row-major.
pub type Cells = Vec<AssignedValue<Fr>>;
