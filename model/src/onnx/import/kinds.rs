//! What the importer knows of a runtime value's numbers: real, integer or
//! boolean. ONNX types say this; the IR keeps only numbers, so the importer
//! tracks it to accept integer-only operations (a cast to an integer type, a
//! Gather's runtime indices, And) exactly where they are exact, and to refuse
//! them on real values, whose cast would truncate.

use super::Builder;
use crate::graph::{Op, ValueId};

/// The kind of numbers a value holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Real,
    Integer,
    /// 0 or 1.
    Boolean,
}

fn integral(v: &[f32]) -> bool {
    v.iter().all(|x| x.fract() == 0.0)
}

impl Builder {
    /// The kind of value `v`. Value `i ≥ 1` is the output of node `i − 1`; kinds are
    /// cached forward, except the last node's, which a later fold may still change.
    pub(crate) fn kind(&mut self, v: ValueId) -> Kind {
        let last = self.graph.nodes.last().map_or(1, |n| n.output);
        self.kinds.truncate(last.max(1));
        while self.kinds.len() <= v.min(self.graph.values.len() - 1) {
            let next = self.kinds.len();
            let k = if next == 0 {
                Kind::Real
            } else {
                self.node_kind(next - 1)
            };
            self.kinds.push(k);
        }
        self.kinds.get(v).copied().unwrap_or(Kind::Real)
    }

    fn node_kind(&self, node: usize) -> Kind {
        let n = &self.graph.nodes[node];
        let of = |i: usize| {
            n.inputs
                .get(i)
                .and_then(|&v| self.kinds.get(v).copied())
                .unwrap_or(Kind::Real)
        };
        let all = || (0..n.inputs.len()).map(of).min().unwrap_or(Kind::Real);
        let integer_if = |ok: bool, k: Kind| {
            if ok && k >= Kind::Integer {
                Kind::Integer
            } else {
                Kind::Real
            }
        };
        match &n.op {
            Op::Compare { .. } | Op::CompareConst { .. } => Kind::Boolean,
            Op::ArgMax => Kind::Integer,
            Op::GatherConst { table } => integer_if(integral(&table.data), Kind::Integer),
            Op::Pick { .. }
            | Op::GatherElements { .. }
            | Op::Reshape
            | Op::Transpose { .. }
            | Op::Relu
            | Op::MaxPool { .. } => of(0),
            Op::Mul | Op::Concat { .. } => all(),
            Op::Add | Op::Sub => integer_if(true, all()),
            Op::AddConst { c } | Op::MulConst { c } => integer_if(integral(&c.data), of(0)),
            Op::Dense { weight, bias } => {
                integer_if(integral(&weight.data) && integral(bias), of(0))
            }
            _ => Kind::Real,
        }
    }
}
