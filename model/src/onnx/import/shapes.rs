//! ONNX shape semantics (Reshape, Flatten, Squeeze, Unsqueeze, Transpose) shared by
//! constant folding and runtime import.

use crate::error::{ModelError, Result};

/// Resolves a Reshape target (with `0` = copy and `-1` = infer) against `input`.
pub fn reshape_target(
    input: &[usize],
    spec: &[i64],
    allowzero: bool,
    node: &str,
) -> Result<Vec<usize>> {
    let numel: usize = input.iter().product();
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| {
                ModelError::invalid(
                    node,
                    format!("Reshape copies dimension {i} that the input {input:?} lacks"),
                )
            })?),
            d if d >= 0 => out.push(d as usize),
            _ => {
                return Err(ModelError::invalid(
                    node,
                    format!("invalid Reshape target {spec:?}"),
                ));
            }
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(ModelError::invalid(
                node,
                format!("cannot reshape {input:?} to {spec:?}"),
            ));
        }
        out[i] = numel / known;
    }
    if out.iter().product::<usize>() != numel {
        return Err(ModelError::invalid(
            node,
            format!("cannot reshape {input:?} ({numel} values) to {out:?}"),
        ));
    }
    Ok(out)
}

/// Normalises a possibly negative axis against `rank` (`rank_extra` allows one past the end).
pub fn normalize_axis(axis: i64, rank: usize, node: &str) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r.max(1)).contains(&a) || (r == 0 && a == 0) {
        Ok(a as usize)
    } else {
        Err(ModelError::invalid(
            node,
            format!("axis {axis} out of range for rank {rank}"),
        ))
    }
}

pub fn flatten_shape(input: &[usize], axis: i64, node: &str) -> Result<Vec<usize>> {
    let r = input.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if !(0..=r).contains(&a) {
        return Err(ModelError::invalid(
            node,
            format!("Flatten axis {axis} out of range for rank {r}"),
        ));
    }
    let a = a as usize;
    Ok(vec![
        input[..a].iter().product(),
        input[a..].iter().product(),
    ])
}

pub fn squeeze_shape(input: &[usize], axes: Option<&[i64]>, node: &str) -> Result<Vec<usize>> {
    match axes {
        None => Ok(input.iter().copied().filter(|&d| d != 1).collect()),
        Some(axes) => {
            let axes = axes
                .iter()
                .map(|&a| normalize_axis(a, input.len(), node))
                .collect::<Result<Vec<_>>>()?;
            if let Some(&a) = axes.iter().find(|&&a| input.get(a) != Some(&1)) {
                return Err(ModelError::invalid(
                    node,
                    format!("Squeeze axis {a} of shape {input:?} is not of size 1"),
                ));
            }
            Ok(input
                .iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect())
        }
    }
}

pub fn unsqueeze_shape(input: &[usize], axes: &[i64], node: &str) -> Result<Vec<usize>> {
    let rank = input.len() + axes.len();
    let mut axes = axes
        .iter()
        .map(|&a| normalize_axis(a, rank, node))
        .collect::<Result<Vec<_>>>()?;
    axes.sort_unstable();
    let mut out = Vec::with_capacity(rank);
    let mut src = input.iter();
    for i in 0..rank {
        if axes.contains(&i) {
            out.push(1);
        } else {
            out.push(
                *src.next()
                    .ok_or_else(|| ModelError::invalid(node, "Unsqueeze axes repeat"))?,
            );
        }
    }
    Ok(out)
}

/// Validates a Transpose permutation (default: reversed axes).
pub fn transpose_perm(rank: usize, perm: Option<Vec<i64>>, node: &str) -> Result<Vec<usize>> {
    let perm: Vec<usize> = match perm {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&a| normalize_axis(a, rank, node))
            .collect::<Result<_>>()?,
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
        return Err(ModelError::invalid(
            node,
            format!("Transpose perm {perm:?} is not a permutation of rank {rank}"),
        ));
    }
    Ok(perm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_infers_and_copies() {
        assert_eq!(
            reshape_target(&[1, 4, 4, 4], &[-1, 64], false, "n").unwrap(),
            vec![1, 64]
        );
        assert_eq!(
            reshape_target(&[1, 64], &[0, 1, 8, 8], false, "n").unwrap(),
            vec![1, 1, 8, 8]
        );
        assert!(reshape_target(&[1, 64], &[3, -1], false, "n").is_err());
    }

    #[test]
    fn squeeze_and_unsqueeze_invert() {
        let s = unsqueeze_shape(&[3, 4], &[0, 3], "n").unwrap();
        assert_eq!(s, vec![1, 3, 4, 1]);
        assert_eq!(squeeze_shape(&s, Some(&[0, -1]), "n").unwrap(), vec![3, 4]);
        assert!(squeeze_shape(&s, Some(&[1]), "n").is_err());
    }
}
