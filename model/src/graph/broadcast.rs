//! NumPy-style broadcasting and row-major index helpers shared by the executors.

/// The broadcast shape of `a` and `b`, or `None` if they are incompatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// For every element of a tensor of shape `out`, the flat index of the element of
/// `src` that broadcasting maps to it. `src` must broadcast to `out`.
pub fn broadcast_indices(src: &[usize], out: &[usize]) -> Vec<usize> {
    let rank = out.len();
    let offset = rank - src.len();
    // Row-major strides of `src`, with 0 for broadcast (size-1 or missing) dimensions.
    let mut strides = vec![0usize; rank];
    let mut acc = 1;
    for i in (0..src.len()).rev() {
        strides[i + offset] = if src[i] == 1 { 0 } else { acc };
        acc *= src[i];
    }
    map_coords(out, |coord| coord.iter().zip(&strides).map(|(c, s)| c * s).sum())
}

/// `f` of every coordinate of a tensor of `shape`, in row-major order.
pub fn map_coords(shape: &[usize], mut f: impl FnMut(&[usize]) -> usize) -> Vec<usize> {
    let numel: usize = shape.iter().product();
    let mut out = Vec::with_capacity(numel);
    let mut coord = vec![0usize; shape.len()];
    for _ in 0..numel {
        out.push(f(&coord));
        for d in (0..shape.len()).rev() {
            coord[d] += 1;
            if coord[d] < shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    out
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Permutes a row-major tensor: output dimension `i` is input dimension `perm[i]`.
pub fn transpose<T: Copy>(data: &[T], shape: &[usize], perm: &[usize]) -> Vec<T> {
    let in_strides = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let numel = data.len();
    let mut out = Vec::with_capacity(numel);
    let mut coord = vec![0usize; out_shape.len()];
    for _ in 0..numel {
        let src: usize = coord
            .iter()
            .zip(perm)
            .map(|(c, &p)| c * in_strides[p])
            .sum();
        out.push(data[src]);
        for d in (0..out_shape.len()).rev() {
            coord[d] += 1;
            if coord[d] < out_shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    out
}

/// For GatherElements along `axis`: per position of an index tensor of shape `index`
/// (row-major), the flat index into a data tensor of shape `data` with the axis coordinate
/// 0, and the data's stride along `axis`: the element for index value `i` is
/// `base + i · stride`. Both shapes have the same rank, `index[d] ≤ data[d]` off the axis.
pub fn element_bases(data: &[usize], index: &[usize], axis: usize) -> (Vec<usize>, usize) {
    let ds = strides(data);
    let bases = map_coords(index, |coord| {
        coord
            .iter()
            .zip(&ds)
            .enumerate()
            .filter(|&(d, _)| d != axis)
            .map(|(_, (c, s))| c * s)
            .sum()
    });
    (bases, ds.get(axis).copied().unwrap_or(1))
}

/// Where each value of the concatenation of tensors of `shapes` along `axis` comes from:
/// `(input, flat index in that input)`, in the output's row-major order. The shapes must
/// agree but for `axis`.
pub fn concat_sources(shapes: &[&[usize]], axis: usize) -> Vec<(usize, usize)> {
    let Some(first) = shapes.first() else {
        return Vec::new();
    };
    let outer: usize = first[..axis.min(first.len())].iter().product();
    let inner: Vec<usize> = shapes
        .iter()
        .map(|s| s[axis.min(s.len())..].iter().product())
        .collect();
    (0..outer)
        .flat_map(|o| {
            inner
                .iter()
                .enumerate()
                .flat_map(move |(i, &n)| (0..n).map(move |j| (i, o * n + j)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(broadcast_shape(&[1, 3], &[3]), Some(vec![1, 3]));
        assert_eq!(broadcast_shape(&[2, 1, 4], &[3, 1]), Some(vec![2, 3, 4]));
        assert_eq!(broadcast_shape(&[2, 3], &[4]), None);
    }

    #[test]
    fn broadcast_indices_repeat_rows_and_columns() {
        assert_eq!(broadcast_indices(&[3], &[2, 3]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_indices(&[2, 1], &[2, 3]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(broadcast_indices(&[], &[2]), vec![0, 0]);
    }

    #[test]
    fn transpose_swaps_axes() {
        let t = transpose(&[1, 2, 3, 4, 5, 6], &[2, 3], &[1, 0]);
        assert_eq!(t, vec![1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn concat_sources_interleave_along_an_inner_axis() {
        // [2, 1] and [2, 2] along axis 1: each row takes one value, then two.
        let got = concat_sources(&[&[2, 1], &[2, 2]], 1);
        assert_eq!(got, [(0, 0), (1, 0), (1, 1), (0, 1), (1, 2), (1, 3)]);
        assert_eq!(concat_sources(&[&[1], &[2]], 0), [(0, 0), (1, 0), (1, 1)]);
    }
}
