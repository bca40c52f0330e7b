//! Integer selection ops: argmax over the last axis, rows of a constant table
//! picked by a runtime index, and fixed picks of input values.

use super::OpInput;
use crate::error::{ModelError, Result};
use crate::graph::broadcast::element_bases;
use crate::quant::fixed::round_shift;

/// The index of the first maximum of each run of `last` values.
pub(super) fn argmax(x: &[i64], last: usize, name: &str) -> Result<Vec<i64>> {
    if last == 0 {
        return Err(ModelError::IntegerExecution {
            node: name.to_string(),
            reason: "ArgMax over an empty axis".into(),
        });
    }
    Ok(x.chunks(last).map(|row| first_max(row) as i64).collect())
}

/// The position of the first maximum of a non-empty slice.
pub fn first_max<T: PartialOrd + Copy>(row: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// `table[x[i] >> index_shift]` row by row (`rows` rows); refuses an index that is not an
/// exact multiple of `2^index_shift` or lies outside the table.
pub(super) fn gather_const(
    x: &[i64],
    table: &[i64],
    rows: usize,
    index_shift: u32,
    scale: i32,
    name: &str,
) -> Result<Vec<i64>> {
    let width = table.len() / rows.max(1);
    let mut out = Vec::with_capacity(x.len() * width);
    for &q in x {
        let row = index_of(q, index_shift, rows, scale, name, || {
            format!("a row of the {rows}-row table")
        })?;
        out.extend_from_slice(&table[row * width..(row + 1) * width]);
    }
    Ok(out)
}

/// The row `q` stands for: `q / 2^shift` when that is exact and within `0..rows`.
pub fn row_index(q: i64, shift: u32, rows: usize) -> Option<usize> {
    let unit = 1i64.checked_shl(shift)?;
    if q < 0 || q % unit != 0 {
        return None;
    }
    usize::try_from(q >> shift).ok().filter(|&r| r < rows)
}

/// [`row_index`], or an error naming the node, the index and `what` it is not.
fn index_of(
    q: i64,
    shift: u32,
    n: usize,
    scale: i32,
    name: &str,
    what: impl Fn() -> String,
) -> Result<usize> {
    row_index(q, shift, n).ok_or_else(|| ModelError::IntegerExecution {
        node: name.to_string(),
        reason: format!(
            "index {} (integer {q} at scale 2^{scale}) is not {}",
            q as f64 * 2f64.powi(-scale),
            what()
        ),
    })
}

/// `x[map[i]]`.
pub(super) fn pick(x: &[i64], map: &[usize], name: &str) -> Result<Vec<i64>> {
    map.iter()
        .map(|&i| {
            x.get(i)
                .copied()
                .ok_or_else(|| ModelError::IntegerExecution {
                    node: name.to_string(),
                    reason: format!("picks value {i} of an input of {}", x.len()),
                })
        })
        .collect()
}

/// The inputs joined along `axis`, input `i` rounded by `shifts[i]` bits first.
pub(super) fn concat(
    inputs: &[OpInput],
    axis: usize,
    shifts: &[i32],
    name: &str,
) -> Result<Vec<i64>> {
    let fail = |reason: String| ModelError::IntegerExecution {
        node: name.to_string(),
        reason,
    };
    if shifts.len() != inputs.len() || shifts.iter().any(|&d| d.unsigned_abs() > 62) {
        return Err(fail(format!(
            "{} shifts (each at most 62) for {} inputs",
            shifts.len(),
            inputs.len()
        )));
    }
    let shapes: Vec<&[usize]> = inputs.iter().map(|x| x.shape).collect();
    crate::graph::broadcast::concat_sources(&shapes, axis)
        .into_iter()
        .map(|(i, j)| {
            let v = inputs[i].data.get(j).copied();
            let v = v.ok_or_else(|| fail(format!("value {j} of input {i} is missing")))?;
            match u32::try_from(shifts[i]) {
                Ok(d) => Ok(round_shift(v, d)),
                Err(_) => v.checked_mul(1i64 << shifts[i].unsigned_abs()).ok_or_else(|| {
                    fail(format!("value {j} of input {i} overflows when scaled up"))
                }),
            }
        })
        .collect()
}

/// GatherElements: `x` at each index's position with the axis coordinate `idx >> shift`.
pub(super) fn gather_elements(
    x: &OpInput,
    idx: &OpInput,
    axis: usize,
    shift: u32,
    name: &str,
) -> Result<Vec<i64>> {
    let dim = x.shape.get(axis).copied().unwrap_or(0);
    let (bases, stride) = element_bases(x.shape, idx.shape, axis);
    bases
        .iter()
        .zip(idx.data)
        .map(|(&base, &q)| {
            let i = index_of(q, shift, dim, idx.scale, name, || {
                format!("within the axis of {dim}")
            })?;
            x.data
                .get(base + i * stride)
                .copied()
                .ok_or_else(|| ModelError::IntegerExecution {
                    node: name.to_string(),
                    reason: "an index position outside the data".into(),
                })
        })
        .collect()
}
