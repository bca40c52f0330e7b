//! What a GPU batch run is planned from, worked out on the host once per
//! model: which ReLUs fuse into the Dense or Conv before them, when each value
//! can be freed, how many device bytes a sample needs at the peak (so a batch
//! is split into chunks that fit the device's memory budget), and how the
//! batch's inputs are packed for the upload.

use crate::launch::{Packed, Range};
use cipherproof_model::quant::model::{QOp, QValue, QuantModel};

/// A model's run plan ([`Plan::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Per node: a Dense or Conv whose output only the next node, a ReLU, reads
    /// (and that is not the model's output): the ReLU runs in its kernel.
    pub fuses_relu: Vec<bool>,
    /// Per node: the values no longer needed once it has run, which the run
    /// frees then: the operands it is the last to read, and its own output
    /// when nothing reads it. The model's output is never among them.
    pub frees: Vec<Vec<usize>>,
    /// Device bytes one sample needs at the peak of a run: the values alive at
    /// once, freed as `frees` says, counted without fusion.
    pub peak_bytes_per_sample: u64,
}

impl Plan {
    pub fn of(model: &QuantModel) -> Self {
        let frees = frees(model);
        let peak_bytes_per_sample = peak_values(model, &frees) as u64 * 8;
        Self {
            fuses_relu: relu_fusions(model),
            frees,
            peak_bytes_per_sample,
        }
    }

    /// Samples per chunk for a run within `budget` device bytes: at least one
    /// (a sample that alone exceeds the budget still runs, and a failed
    /// allocation is then an error).
    pub fn chunk_samples(&self, budget: u64) -> usize {
        let per = self.peak_bytes_per_sample.max(1);
        usize::try_from(budget / per).unwrap_or(usize::MAX).max(1)
    }
}

fn numel(model: &QuantModel, v: usize) -> usize {
    model.values.get(v).map_or(0, QValue::numel)
}

/// Per node, the values to free once it has run ([`Plan::frees`]), each once.
fn frees(model: &QuantModel) -> Vec<Vec<usize>> {
    // The last node reading each value; the model's output has none (it is
    // read after the last node).
    let mut last = vec![None; model.values.len()];
    for (i, node) in model.nodes.iter().enumerate() {
        for &v in &node.inputs {
            if let Some(l) = last.get_mut(v) {
                *l = Some(i);
            }
        }
    }
    if let Some(l) = last.get_mut(model.output) {
        *l = None;
    }
    let last_read = |v: usize| last.get(v).copied().flatten();
    model
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let mut f: Vec<usize> = node.inputs.iter().copied().filter(|&v| last_read(v) == Some(i)).collect();
            if last_read(node.output).is_none() && node.output != model.output {
                f.push(node.output);
            }
            f.sort_unstable();
            f.dedup();
            f
        })
        .collect()
}

/// The most `i64`s per sample alive at once: the input (and its packed copy,
/// counted as a second input while it widens), then each node's output added
/// and the values it frees dropped.
fn peak_values(model: &QuantModel, frees: &[Vec<usize>]) -> usize {
    let mut live = 2 * numel(model, 0);
    let mut peak = live;
    for (i, (node, freed)) in model.nodes.iter().zip(frees).enumerate() {
        live += numel(model, node.output);
        peak = peak.max(live);
        if i == 0 {
            live -= numel(model, 0); // the packed copy
        }
        for &v in freed {
            live = live.saturating_sub(numel(model, v));
        }
    }
    peak
}

/// Which Dense and Conv nodes take the ReLU after them into their kernel: those
/// whose output nothing else reads, so it never needs storing.
fn relu_fusions(model: &QuantModel) -> Vec<bool> {
    let mut readers = vec![0usize; model.values.len()];
    for v in model.nodes.iter().flat_map(|n| &n.inputs).chain([&model.output]) {
        if let Some(r) = readers.get_mut(*v) {
            *r += 1;
        }
    }
    let numel = |v: usize| model.values.get(v).map(QValue::numel);
    model
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            matches!(node.op, QOp::Dense { .. } | QOp::Conv { .. })
                && readers.get(node.output) == Some(&1)
                && model.nodes.get(i + 1).is_some_and(|next| {
                    matches!(next.op, QOp::Relu)
                        && next.inputs == [node.output]
                        && numel(next.output) == numel(node.output)
                })
        })
        .collect()
}

/// The batch packed as narrowly as the input's `range` allows, or `None` when a
/// value lies outside it.
pub(crate) fn pack(inputs: &[Vec<i64>], (lo, hi): Range) -> Option<Packed> {
    fn narrow<T>(inputs: &[Vec<i64>], (lo, hi): Range, cast: impl Fn(i64) -> T) -> Option<Vec<T>> {
        let mut out = Vec::with_capacity(inputs.iter().map(Vec::len).sum());
        for x in inputs {
            // min/max over the sample vectorizes; a per-value branch does not.
            let (min, max) = x.iter().fold((i64::MAX, i64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            if !x.is_empty() && (min < lo || max > hi) {
                return None;
            }
            out.extend(x.iter().map(|&v| cast(v)));
        }
        Some(out)
    }
    let fits = |min: i64, max: i64| lo >= min && hi <= max;
    // The casts are exact: every value lies in [lo, hi], inside the target type.
    #[allow(clippy::cast_possible_truncation)]
    Some(if fits(i16::MIN.into(), i16::MAX.into()) {
        Packed::I16(narrow(inputs, (lo, hi), |v| v as i16)?)
    } else if fits(i32::MIN.into(), i32::MAX.into()) {
        Packed::I32(narrow(inputs, (lo, hi), |v| v as i32)?)
    } else {
        Packed::I64(narrow(inputs, (lo, hi), |v| v)?)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use cipherproof_model::quant::QuantConfig;
    use cipherproof_model::quant::fixed::signed_range;
    use cipherproof_model::quant::model::QNode;

    fn value(numel: usize) -> QValue {
        QValue {
            name: "v".into(),
            shape: vec![1, numel],
            scale: 8,
            bits: 16,
            calibrated_max: 1.0,
        }
    }

    fn node(op: QOp, inputs: Vec<usize>, output: usize) -> QNode {
        QNode {
            name: format!("n{output}"),
            op,
            inputs,
            output,
        }
    }

    fn dense(outs: usize, ins: usize) -> QOp {
        QOp::Dense {
            weight: vec![1; outs * ins],
            weight_shape: [outs, ins],
            bias: vec![0; outs],
            weight_scale: 0,
            shift: 0,
        }
    }

    /// x[4] -> Dense[3] -> ReLU -> Dense[2] -> ReLU (-> Add of both ReLU inputs when `shared`).
    pub(crate) fn chain(shared: bool) -> QuantModel {
        let mut nodes = vec![
            node(dense(3, 4), vec![0], 1),
            node(QOp::Relu, vec![1], 2),
            node(dense(2, 3), vec![2], 3),
            node(QOp::Relu, vec![3], 4),
        ];
        let mut sizes = vec![4, 3, 3, 2, 2];
        if shared {
            let add = QOp::Add {
                align: [0, 0],
                shift: 0,
            };
            nodes.push(node(add, vec![3, 4], 5));
            sizes.push(2);
        }
        QuantModel {
            config: QuantConfig::default(),
            values: sizes.into_iter().map(value).collect(),
            nodes,
            output: if shared { 5 } else { 4 },
            softmax_dropped: false,
        }
    }

    #[test]
    fn a_relu_is_fused_only_into_the_op_that_alone_feeds_it() {
        assert_eq!(Plan::of(&chain(false)).fuses_relu, [true, false, true, false]);
        // The second Dense's output is also read by the Add: it must be stored.
        assert_eq!(Plan::of(&chain(true)).fuses_relu, [true, false, false, false, false]);
        // A Dense that is the model's output keeps its value even when a ReLU follows.
        let mut m = chain(false);
        m.output = 3;
        assert_eq!(Plan::of(&m).fuses_relu, [true, false, false, false]);
    }

    #[test]
    fn values_are_freed_after_their_last_reader_and_the_output_never() {
        let p = Plan::of(&chain(true));
        // x after the first Dense, each ReLU input after its ReLU, the second
        // Dense's output (read by its ReLU and the Add) only after the Add, and
        // the output (5) never.
        let empty: Vec<usize> = Vec::new();
        assert_eq!(p.frees, [vec![0], vec![1], vec![2], empty, vec![3, 4]]);
        // The peak is at the first Dense: x, its packed copy and the Dense's
        // output, 4 + 4 + 3 = 11 values, 88 bytes.
        assert_eq!(p.peak_bytes_per_sample, 88);
        assert_eq!(p.chunk_samples(880), 10);
        assert_eq!(p.chunk_samples(10), 1, "one sample runs even past the budget");
    }

    #[test]
    fn an_operand_read_twice_is_freed_once_and_an_unread_value_at_once() {
        // The plan looks only at which values a node reads: the second Dense
        // reads the first ReLU's output twice, not side by side, and x.
        let mut m = chain(false);
        m.nodes[2].inputs = vec![2, 0, 2];
        let p = Plan::of(&m);
        let empty: Vec<usize> = Vec::new();
        assert_eq!(p.frees, [empty, vec![1], vec![0, 2], vec![3]]);
        // x now lives until the second Dense, but the first Dense's step is
        // still the largest: x, its packed copy and that Dense's output, 11 values.
        assert_eq!(p.peak_bytes_per_sample, 88);
        // A value nothing reads (the second Dense's, once its ReLU reads the
        // first ReLU's output instead) is freed as soon as it is made.
        let mut dead = chain(false);
        dead.nodes[3].inputs = vec![2];
        assert_eq!(Plan::of(&dead).frees, [vec![0], vec![1], vec![3], vec![2]]);
    }

    #[test]
    fn inputs_pack_into_the_narrowest_type_their_range_allows() {
        let inputs = vec![vec![-32768, 0, 32767], vec![1, 2, 3]];
        match pack(&inputs, signed_range(16)) {
            Some(Packed::I16(v)) => assert_eq!(v, [-32768, 0, 32767, 1, 2, 3]),
            _ => panic!("16-bit inputs pack into i16"),
        }
        match pack(&inputs, signed_range(17)) {
            Some(Packed::I32(v)) => assert_eq!(v, [-32768, 0, 32767, 1, 2, 3]),
            _ => panic!("17-bit inputs pack into i32"),
        }
        match pack(&[vec![1 << 40]], signed_range(48)) {
            Some(Packed::I64(v)) => assert_eq!(v, [1 << 40]),
            _ => panic!("48-bit inputs stay i64"),
        }
        // One value past the range, in the last sample, refuses the batch.
        assert!(pack(&[vec![0], vec![1, 128]], signed_range(8)).is_none());
        assert!(pack(&[vec![-129]], signed_range(8)).is_none());
    }
}
