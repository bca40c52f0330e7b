//! A tree's leaves read a few at a time: instead of one equality test per leaf (its path sum
//! against its left-turn count, [`super::indicator`]) and the leaf values summed by the last
//! layer, the node tests of up to [`WINDOW_BITS`] nodes are packed into one small integer
//! `code = Σ 2^k·n_k`, and one bootstrap's table returns the value of whichever of the leaves on
//! those nodes the code reaches (0 when none is). A tree of depth 3 has 8 leaves on 7 nodes; each
//! half's 4 leaves hang on 4 nodes (the root and the half's three), so its 8 leaf tests become 2
//! table lookups.
//!
//! The rewrite is exact for node values of 0 or 1: a leaf test whose row is `±w` on its path
//! (`+w` where the path turns left, i.e. where its node test must read 1) with bias
//! `−w·(left turns)` and no shift holds exactly when every node on its path reads as its turn
//! says, and the table evaluates that same condition on the code's bits. A table's value is
//! a multiple `α` of a vector `u` of the last layer (every leaf of the group must share it, e.g.
//! `(−v, v)` for a binary classifier's two logits); groups whose leaves' value vectors are not
//! proportional take one table per output. The rewrite applies only when every leaf test has
//! that form and it saves bootstraps; otherwise the layer stays as it was.

use super::indicator::WINDOW_BITS;
use super::{DotProducts, Stage};
use serde::{Deserialize, Serialize};

/// A hidden value's own table: `values[y − first]` for a requantized value `y` (0 outside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueTable {
    pub first: i64,
    pub values: Vec<i64>,
}

impl ValueTable {
    pub fn at(&self, y: i64) -> i64 {
        y.checked_sub(self.first)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.values.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// The smallest and largest value.
    pub fn range(&self) -> (i64, i64) {
        let lo = self.values.iter().copied().min().unwrap_or(0);
        let hi = self.values.iter().copied().max().unwrap_or(0);
        (lo, hi)
    }
}

/// A leaf test's path: its nodes and whether each must read 1 (a left turn).
fn path(row: &[i64], bias: i64) -> Option<Vec<(usize, bool)>> {
    let w = row.iter().find(|v| **v != 0)?.checked_abs()?;
    let mut turns = Vec::new();
    for (node, &v) in row.iter().enumerate() {
        match v {
            0 => {}
            v if v == w => turns.push((node, true)),
            v if v == -w => turns.push((node, false)),
            _ => return None,
        }
    }
    let lefts = turns.iter().filter(|t| t.1).count() as i64;
    (w.checked_mul(lefts)? == bias.checked_neg()?).then_some(turns)
}

/// The vector every leaf value of `columns` is an integer multiple of, with the multiples; `None`
/// when they are not proportional. All-zero columns give an empty vector.
fn common_direction(columns: &[Vec<i64>]) -> Option<(Vec<i64>, Vec<i64>)> {
    let Some(first) = columns.iter().find(|c| c.iter().any(|v| *v != 0)) else {
        return Some((Vec::new(), vec![0; columns.len()]));
    };
    let g = first.iter().try_fold(0i64, |g, &v| Some(gcd(g, v.checked_abs()?)))?;
    let lead = first.iter().position(|v| *v != 0)?;
    let sign = first[lead].signum();
    let u: Vec<i64> = first.iter().map(|v| v / g * sign).collect();
    let mut alphas = Vec::with_capacity(columns.len());
    for c in columns {
        let alpha = c[lead] / u[lead];
        if c.iter().zip(&u).any(|(v, u)| u.checked_mul(alpha) != Some(*v)) {
            return None;
        }
        alphas.push(alpha);
    }
    Some((u, alphas))
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Leaves on at most [`WINDOW_BITS`] nodes together, first fit in order. With `directions` (each
/// leaf's value vector's primitive direction, empty when zero), a leaf joins only a group whose
/// values point its way, so that each group takes one table (a boosted model's trees per class).
fn pack(paths: &[Vec<(usize, bool)>], directions: Option<&[Vec<i64>]>) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut groups: Vec<(Vec<usize>, Vec<usize>, Vec<i64>)> = Vec::new();
    let none = Vec::new();
    for (leaf, p) in paths.iter().enumerate() {
        let dir = directions.map_or(&none, |d| &d[leaf]);
        let fits = |nodes: &Vec<usize>, group_dir: &Vec<i64>| {
            let extra = p.iter().filter(|(n, _)| !nodes.contains(n)).count();
            nodes.len() + extra <= WINDOW_BITS as usize && (dir.is_empty() || group_dir.is_empty() || dir == group_dir)
        };
        let i = match groups.iter().position(|(nodes, _, d)| fits(nodes, d)) {
            Some(i) => i,
            None => {
                groups.push((Vec::new(), Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        let (nodes, leaves, group_dir) = &mut groups[i];
        nodes.extend(p.iter().map(|(n, _)| *n).filter(|n| !nodes.contains(n)).collect::<Vec<_>>());
        leaves.push(leaf);
        if group_dir.is_empty() {
            group_dir.clone_from(dir);
        }
    }
    groups.into_iter().map(|(nodes, leaves, _)| (nodes, leaves)).collect()
}

/// A table's nodes, its values by code, and its column of the new last layer.
type Table = (Vec<usize>, Vec<i64>, Vec<i64>);

/// The tables of `groups`: one per group whose leaf values point one way, else one per output they
/// use; `None` when a table's values overflow.
fn tables_of(groups: &[(Vec<usize>, Vec<usize>)], paths: &[Vec<(usize, bool)>], column: &dyn Fn(usize) -> Vec<i64>, outputs: usize) -> Option<Vec<Table>> {
    let mut tables: Vec<Table> = Vec::new();
    for (nodes, members) in groups {
        let codes = 1usize << nodes.len();
        let reached = |leaf: usize, code: usize| {
            paths[leaf]
                .iter()
                .all(|(n, left)| nodes.iter().position(|m| m == n).is_some_and(|k| ((code >> k) & 1 == 1) == *left))
        };
        // By code: the sum of the values (by position in `members`) of the leaves it reaches.
        let table = |value: &dyn Fn(usize) -> i64| -> Option<Vec<i64>> {
            (0..codes)
                .map(|code| {
                    members.iter().enumerate().filter(|(_, l)| reached(**l, code)).try_fold(0i64, |s, (i, _)| s.checked_add(value(i)))
                })
                .collect()
        };
        let columns: Vec<Vec<i64>> = members.iter().map(|&l| column(l)).collect();
        match common_direction(&columns) {
            Some((u, _)) if u.is_empty() => {}
            Some((u, alphas)) => tables.push((nodes.clone(), table(&|i| alphas[i])?, u)),
            None => {
                for o in 0..outputs {
                    if columns.iter().all(|c| c[o] == 0) {
                        continue;
                    }
                    let mut u = vec![0; outputs];
                    u[o] = 1;
                    tables.push((nodes.clone(), table(&|i| columns[i][o])?, u));
                }
            }
        }
    }
    Some(tables)
}

/// Rewrites `leaves` (equality tests of path sums, after the node tests) and `scores` (the last
/// layer) into code-and-table lookups and the scores of the tables' values, when every leaf test is
/// a path test and the tables are fewer than the leaves. Returns whether it did.
pub(super) fn rewrite(leaves: &mut Stage, scores: &mut Stage) -> bool {
    let (dot, e) = (&leaves.dot, &scores.dot);
    if leaves.shift != 0 || e.inputs != dot.outputs {
        return false;
    }
    let Some(paths) = dot.rows().zip(&dot.bias).map(|(row, &b)| path(row, b)).collect::<Option<Vec<_>>>() else {
        return false;
    };
    if paths.iter().any(|p| p.len() > WINDOW_BITS as usize) {
        return false;
    }
    let column = |j: usize| (0..e.outputs).map(|o| e.weights[o * e.inputs + j]).collect::<Vec<i64>>();
    // Packed by nodes alone, and with each group's leaves pointing one way: the fewer tables.
    let directions: Vec<Vec<i64>> = (0..dot.outputs).map(|j| common_direction(&[column(j)]).map(|(u, _)| u).unwrap_or_default()).collect();
    let Some(tables) = [None, Some(directions.as_slice())]
        .into_iter()
        .map(|d| tables_of(&pack(&paths, d), &paths, &column, e.outputs))
        .collect::<Option<Vec<_>>>()
        .and_then(|all| all.into_iter().min_by_key(Vec::len))
    else {
        return false;
    };
    if tables.len() >= dot.outputs {
        return false;
    }
    // code − 2^(k−1) lies in the signed window of k bits.
    let half = |k: usize| if k == 0 { 0 } else { 1i64 << (k - 1) };
    let mut weights = vec![0i64; tables.len() * dot.inputs];
    let mut bias = Vec::with_capacity(tables.len());
    let mut value_tables = Vec::with_capacity(tables.len());
    let mut new_scores = vec![0i64; e.outputs * tables.len()];
    for (t, (nodes, values, u)) in tables.iter().enumerate() {
        for (k, &n) in nodes.iter().enumerate() {
            weights[t * dot.inputs + n] = 1 << k;
        }
        bias.push(-half(nodes.len()));
        value_tables.push(ValueTable {
            first: -half(nodes.len()),
            values: values.clone(),
        });
        for (o, &v) in u.iter().enumerate() {
            new_scores[o * tables.len() + t] = v;
        }
    }
    leaves.dot = DotProducts {
        node: dot.node.clone(),
        weights,
        inputs: dot.inputs,
        outputs: tables.len(),
        bias,
    };
    leaves.activation = super::Activation::Lookup;
    leaves.tables = value_tables;
    scores.dot = DotProducts {
        node: e.node.clone(),
        weights: new_scores,
        inputs: tables.len(),
        outputs: e.outputs,
        bias: e.bias.clone(),
    };
    true
}

#[cfg(test)]
mod tests {
    use super::super::Activation;
    use super::super::tests::stage;
    use super::*;

    /// The integer model from the node tests' values on: leaf stage, then the scores' accumulators.
    fn scores(leaves: &Stage, last: &Stage, nodes: &[i64]) -> Vec<i64> {
        let dense = |d: &DotProducts, x: &[i64]| d.rows().zip(&d.bias).map(|(r, b)| r.iter().zip(x).map(|(w, x)| w * x).sum::<i64>() + b).collect::<Vec<_>>();
        let hidden: Vec<i64> = dense(&leaves.dot, nodes)
            .into_iter()
            .enumerate()
            .map(|(j, y)| match leaves.activation {
                Activation::Lookup => leaves.tables[j].at(y),
                a => a.apply(y),
            })
            .collect();
        dense(&last.dot, &hidden)
    }

    /// A depth-3 tree on nodes `base..base + 7` (preorder: root, left, left-left, left-right,
    /// right, right-left, right-right): its 8 leaf tests' rows and biases.
    fn depth3(nodes: usize, base: usize) -> (Vec<Vec<i64>>, Vec<i64>) {
        let paths: [&[(usize, bool)]; 8] = [
            &[(0, true), (1, true), (2, true)],
            &[(0, true), (1, true), (2, false)],
            &[(0, true), (1, false), (3, true)],
            &[(0, true), (1, false), (3, false)],
            &[(0, false), (4, true), (5, true)],
            &[(0, false), (4, true), (5, false)],
            &[(0, false), (4, false), (6, true)],
            &[(0, false), (4, false), (6, false)],
        ];
        let mut rows = Vec::new();
        let mut bias = Vec::new();
        for p in paths {
            let mut row = vec![0; nodes];
            for &(n, left) in p {
                row[base + n] = if left { 1 } else { -1 };
            }
            rows.push(row);
            bias.push(-(p.iter().filter(|t| t.1).count() as i64));
        }
        (rows, bias)
    }

    /// Two depth-3 trees and a stump (15 nodes, 18 leaves) with the given leaf value vectors.
    fn forest(values: impl Fn(usize) -> Vec<i64>) -> (Stage, Stage) {
        let nodes = 15;
        let (mut rows, mut bias) = depth3(nodes, 0);
        let (r2, b2) = depth3(nodes, 7);
        rows.extend(r2);
        bias.extend(b2);
        for left in [true, false] {
            let mut row = vec![0; nodes];
            row[14] = if left { 1 } else { -1 };
            rows.push(row);
            bias.push(if left { -1 } else { 0 });
        }
        let leaves = stage(rows.concat(), bias, Activation::Zero);
        let cols: Vec<Vec<i64>> = (0..18).map(&values).collect();
        let outputs = cols[0].len();
        let weights = (0..outputs).flat_map(|o| cols.iter().map(move |c| c[o])).collect();
        let last = stage(weights, (0..outputs as i64).collect(), Activation::Identity);
        (leaves, last)
    }

    fn assert_rewrite_exact(values: impl Fn(usize) -> Vec<i64>, tables: usize) {
        let (leaves, last) = forest(values);
        let (mut l2, mut s2) = (leaves.clone(), last.clone());
        assert!(rewrite(&mut l2, &mut s2));
        assert_eq!((l2.dot.outputs, l2.activation, s2.dot.inputs), (tables, Activation::Lookup, tables));
        // Every code is a 4-bit window, [−8, 7].
        for (row, b) in l2.dot.rows().zip(&l2.dot.bias) {
            let (lo, hi) = (b + row.iter().filter(|w| **w < 0).sum::<i64>(), b + row.iter().filter(|w| **w > 0).sum::<i64>());
            assert!(-8 <= lo && hi <= 7, "{row:?} {b}");
        }
        // Every assignment of the 15 node tests: the same scores.
        for bits in 0..1u32 << 15 {
            let nodes: Vec<i64> = (0..15).map(|k| i64::from((bits >> k) & 1)).collect();
            assert_eq!(scores(&leaves, &last, &nodes), scores(&l2, &s2, &nodes), "nodes {nodes:?}");
        }
    }

    #[test]
    fn binary_logits_take_one_table_per_half_tree_and_equal_the_leaf_tests() {
        // (−v, v) per leaf, as a binary classifier's two logits: 2 tables per depth-3 tree, 1 for the stump.
        assert_rewrite_exact(|j| vec![-(j as i64 * 3 - 20), j as i64 * 3 - 20], 5);
    }

    #[test]
    fn unrelated_outputs_take_one_table_each() {
        // Three outputs with unrelated values: one table per output and group that has a nonzero one.
        assert_rewrite_exact(|j| vec![j as i64 % 5 - 2, (j as i64 * 7) % 3, 1 - (j as i64 % 2)], 15);
    }

    #[test]
    fn trees_of_one_class_share_tables_and_other_classes_do_not_join_them() {
        // Three trees of two nodes (root, its left child; 3 leaves each) on nodes 0-1, 2-3, 4-5, for
        // classes 0, 1, 0: the first and the third share a table; the second takes its own.
        let paths: [&[(usize, bool)]; 3] = [&[(0, true), (1, true)], &[(0, true), (1, false)], &[(0, false)]];
        let (mut rows, mut bias, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (t, class) in [(0usize, 0usize), (1, 1), (2, 0)] {
            for (k, p) in paths.iter().enumerate() {
                let mut row = vec![0i64; 6];
                for &(n, left) in *p {
                    row[2 * t + n] = if left { 1 } else { -1 };
                }
                rows.push(row);
                bias.push(-(p.iter().filter(|x| x.1).count() as i64));
                let mut v = vec![0i64; 2];
                v[class] = 3 * t as i64 + k as i64 + 1;
                values.push(v);
            }
        }
        let leaves = stage(rows.concat(), bias, Activation::Zero);
        let last = stage((0..2).flat_map(|o| values.iter().map(move |v| v[o])).collect(), vec![0, 0], Activation::Identity);
        let (mut l2, mut s2) = (leaves.clone(), last.clone());
        assert!(rewrite(&mut l2, &mut s2));
        assert_eq!(l2.dot.outputs, 2);
        for bits in 0..1u32 << 6 {
            let nodes: Vec<i64> = (0..6).map(|k| i64::from((bits >> k) & 1)).collect();
            assert_eq!(scores(&leaves, &last, &nodes), scores(&l2, &s2, &nodes), "nodes {nodes:?}");
        }
    }

    #[test]
    fn deep_paths_and_other_rows_are_left_alone() {
        // A path on five nodes does not fit one table.
        let mut leaves = stage(vec![1, 1, 1, 1, 1], vec![-5], Activation::Zero);
        let mut last = stage(vec![3], vec![0], Activation::Identity);
        assert!(!rewrite(&mut leaves, &mut last));
        // A row that is not a path test (bias not the left-turn count), or a shift: untouched.
        let (mut leaves, mut last) = forest(|j| vec![j as i64]);
        leaves.dot.bias[0] -= 1;
        let before = leaves.clone();
        assert!(!rewrite(&mut leaves, &mut last));
        assert_eq!(leaves, before);
        let (mut leaves, mut last) = forest(|j| vec![j as i64]);
        leaves.shift = 1;
        assert!(!rewrite(&mut leaves, &mut last));
        // Not cheaper: two leaves with unrelated two-output values, one table per output.
        let mut leaves = stage(vec![1, -1], vec![-1, 0], Activation::Zero);
        let mut last = stage(vec![1, 2, 3, 5], vec![0, 0], Activation::Identity);
        assert!(!rewrite(&mut leaves, &mut last));
    }
}
