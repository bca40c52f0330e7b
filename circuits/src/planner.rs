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

/// Inputs per row the planner tries for the dot-product gate.
pub const DOT_WIDTHS: std::ops::RangeInclusive<usize> = 2..=16;

/// A fixed column costs the prover about a quarter of an advice column (no
/// commitment or FFT, only its share of the quotient and the openings).
const FIXED_PER_ADVICE: u128 = 4;

/// One layout's counts, as the planner sizes it.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// halo2-base gate cells (and activation-table pairs).
    pub advice: usize,
    /// Range-check limb cells.
    pub lookup: usize,
    /// Inputs of each dot-product gate job (empty when the sums are on halo2-base's gate).
    pub dot_terms: &'a [usize],
    pub min_k: u32,
    pub max_k: u32,
    /// Budget of advice columns: halo2-base's and the dot-product gate's together.
    pub max_advice: usize,
}

/// What [`cheapest`] settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub k: u32,
    /// 0 when the sums stay on halo2-base's gate.
    pub dot_width: usize,
    pub cost: u128,
}

/// The cheapest `(k, dot width)` of `layout` by the cost model
/// (committed columns × 2^k, fixed columns at a quarter), with the dot-product
/// gate (every width of [`DOT_WIDTHS`]) when `dot`, else without.
pub fn cheapest(layout: &Layout, dot: bool) -> Result<Choice> {
    choices(layout, dot).into_iter().next().ok_or_else(|| {
        let needed = (layout.advice / layout.max_advice.max(1))
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        CircuitError::TooLarge {
            needed,
            max: layout.max_k,
        }
    })
}

/// The cheapest choice at each k that fits, cheapest first (what `compile
/// --tune` measures).
pub fn choices(layout: &Layout, dot: bool) -> Vec<Choice> {
    let max_advice = layout.max_advice.max(1);
    let widths: Vec<usize> = if dot { DOT_WIDTHS.collect() } else { vec![0] };
    let mut out: Vec<Choice> = Vec::new();
    for k in layout.min_k..=layout.max_k {
        let usable = (1usize << k).saturating_sub(RESERVED_ROWS).max(1);
        let base = layout.advice.div_ceil(usable);
        let lookup = layout.lookup.div_ceil(usable);
        if lookup > max_advice {
            continue;
        }
        let mut best: Option<Choice> = None;
        for &width in &widths {
            let sets = if width == 0 {
                0
            } else {
                match crate::dot::sets_needed(layout.dot_terms, width, usable) {
                    Some(sets) => sets,
                    None => continue,
                }
            };
            let dot_advice = sets * (width + 1);
            if base + dot_advice > max_advice {
                continue;
            }
            let quarters = FIXED_PER_ADVICE * (base + lookup + dot_advice) as u128
                + (sets * (width + 2)) as u128;
            let cost = (quarters << k) / FIXED_PER_ADVICE;
            if best.is_none_or(|b| cost < b.cost) {
                best = Some(Choice {
                    k,
                    dot_width: width,
                    cost,
                });
            }
        }
        out.extend(best);
    }
    out.sort_by_key(|c| (c.cost, c.k));
    out
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

    fn layout(advice: usize, dot_terms: &[usize], max_advice: usize) -> Layout<'_> {
        Layout {
            advice,
            lookup: advice / 4,
            dot_terms,
            min_k: 9,
            max_k: 20,
            max_advice,
        }
    }

    #[test]
    fn the_dot_gate_is_chosen_only_where_it_is_cheaper() {
        // 2,000 neurons of 100 inputs: 600k cells on halo2-base's gate, far fewer on the dot gate.
        let terms = vec![100; 2000];
        let without = cheapest(&layout(620_000, &[], 16), false).unwrap();
        let with = cheapest(&layout(20_000, &terms, 16), true).unwrap();
        assert_eq!(without.dot_width, 0);
        assert!(with.dot_width >= 2 && with.cost < without.cost);
        // A budget too small for any dot set leaves no choice.
        assert!(cheapest(&layout(20_000, &terms, 1), true).is_err());
        // Every k that fits has its cheapest width, cheapest first.
        let all = choices(&layout(20_000, &terms, 16), true);
        assert_eq!(all[0], with);
        assert!(all.windows(2).all(|w| w[0].cost <= w[1].cost));
        let mut ks: Vec<u32> = all.iter().map(|c| c.k).collect();
        ks.sort_unstable();
        ks.dedup();
        assert_eq!(ks.len(), all.len(), "one choice per k");
    }
}
