//! Table activations (sigmoid, tanh): `y = table[round_shift(x, in_shift) + offset]`,
//! with `(index, y)` looked up in the model's fixed tables ([`crate::lut`]).

use super::{Cells, Chip};
use crate::field::{fr_i64, i64_fr};
use crate::lut::LutLookup;

/// One table lookup per element of `x` (signed, `bits` wide) against table `tag`.
///
/// The lookup itself proves the rounded index lies in the table's key range, so
/// no range check is needed; out-of-table inputs have no valid witness.
#[allow(clippy::too_many_arguments)]
pub fn lookup(
    chip: &mut Chip,
    lookups: &mut Vec<LutLookup>,
    tag: u64,
    x: &Cells,
    in_shift: u32,
    offset: i64,
    table: &[i64],
    bits: u32,
) -> Cells {
    x.iter()
        .map(|&v| {
            let key = chip.round_shift(v, in_shift, bits);
            let index =
                i64_fr(key.value()).and_then(|k| usize::try_from(k.checked_add(offset)?).ok());
            let y = index.and_then(|i| table.get(i)).copied().unwrap_or(0);
            let y = chip.ctx.load_witness(fr_i64(y));
            lookups.push(LutLookup { tag, x: key, y });
            y
        })
        .collect()
}
