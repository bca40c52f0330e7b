//! Picks the circuit size: the smallest `k` at which the layout needs at most
//! [`MAX_ADVICE`] advice columns, with lookup limbs of `k − 1` bits.

use crate::error::{CircuitError, Result};

/// Advice columns beyond which a larger k is preferred (proving cost grows with
/// columns × rows either way; few columns keep the verifier and vk small).
pub const MAX_ADVICE: usize = 4;

/// The smallest k (≥ `min_k`) whose `2^k − reserved` usable rows hold `cells`
/// advice cells in at most `MAX_ADVICE` columns, and `lookup_cells` in one lookup column.
pub fn choose_k(cells: usize, lookup_cells: usize, min_k: u32, max_k: u32) -> Result<u32> {
    const RESERVED_ROWS: usize = 16;
    for k in min_k..=max_k {
        let usable = (1usize << k).saturating_sub(RESERVED_ROWS);
        if cells.div_ceil(usable) <= MAX_ADVICE && lookup_cells.div_ceil(usable) <= MAX_ADVICE {
            return Ok(k);
        }
    }
    let needed = (cells / MAX_ADVICE)
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
        assert_eq!(choose_k(100, 10, 9, 20).unwrap(), 9);
        assert_eq!(choose_k(10_000, 100, 9, 20).unwrap(), 12);
        assert!(matches!(
            choose_k(1 << 30, 0, 9, 20),
            Err(CircuitError::TooLarge { .. })
        ));
    }
}
