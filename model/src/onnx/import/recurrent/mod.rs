//! ONNX's recurrent layers (LSTM, GRU, RNN), unrolled over their static sequence into the
//! IR's layers: per time step and gate a Dense over the step's input plus a Dense over the
//! previous hidden state, the gate's table activation, then the state updates as
//! elementwise Mul, Add and Sub. No recurrent op reaches the IR, so circuits, executors
//! and the GPU witness need nothing new, and every soundness test of those ops covers
//! the recurrence.
//!
//! A constant initial state (the usual zeros) folds into the biases, so the first step
//! costs no recurrent layer. Forward and reverse directions and both layouts are
//! supported, bidirectional layers too, with every output: `Y` joins the steps' hidden
//! states and a bidirectional layer's outputs join its two directions ([`Op::Concat`]).
//! `clip`, partial `sequence_lens` and activations other than Sigmoid, Tanh and Relu are
//! refused by name.

mod gru;
mod lstm;
mod rnn;

pub(crate) use gru::gru;
pub(crate) use lstm::lstm;
pub(crate) use rnn::rnn;

use super::concat::join;
use super::index_maps::slice_map;
use super::{Builder, Ctx, Missing, Operand};
use crate::error::Result;
use crate::graph::constant::{Const, Weights};
use crate::graph::{Op, ValueId};

/// A recurrent node's outputs in ONNX order; those it cannot give are [`Missing`].
pub(crate) type Outputs = Vec<std::result::Result<ValueId, Missing>>;

/// A `[batch, hidden]` state: known at import time, or computed.
#[derive(Debug, Clone)]
enum State {
    Const(Vec<f32>),
    Value(ValueId),
}

impl State {
    fn is_zero(&self) -> bool {
        matches!(self, State::Const(v) if v.iter().all(|&x| x == 0.0))
    }
}

/// What LSTM, GRU and RNN share: dimensions, direction, gate weights, biases and
/// activations, checked.
struct Recurrence {
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    layout: i64,
    reverse: bool,
    /// This direction, of `dirs` (2 for a bidirectional layer).
    dir: usize,
    dirs: usize,
    /// `[gates·hidden, input]`, in ONNX's gate order.
    w: Vec<f32>,
    /// `[gates·hidden, hidden]`.
    r: Vec<f32>,
    /// ONNX's `Wb` and `Rb`, `[gates·hidden]` each.
    wb: Vec<f32>,
    rb: Vec<f32>,
    acts: Vec<Op>,
}

impl Recurrence {
    /// Reads inputs X, W, R, B and sequence_lens and the shared attributes of a layer
    /// with `gates` gates whose default activations are `default_acts`: one [`Recurrence`]
    /// per direction (two for a bidirectional layer, the forward one first).
    fn directions(
        b: &Builder,
        ctx: &Ctx,
        ops: &[Option<Operand>],
        gates: usize,
        default_acts: &[Op],
    ) -> Result<Vec<Self>> {
        let x = ctx.value(ops, 0)?;
        let xs = b.shape(x).to_vec();
        let layout = ctx.attrs.int("layout", 0)?;
        let (seq, batch, input) = match (xs.as_slice(), layout) {
            (&[s, n, i], 0) => (s, n, i),
            (&[n, s, i], 1) => (s, n, i),
            (_, 0 | 1) => {
                return Err(ctx.invalid(format!("input X of shape {xs:?} is not 3-D")));
            }
            _ => return Err(ctx.invalid(format!("layout {layout} (must be 0 or 1)"))),
        };
        let reversed: &[bool] = match ctx.attrs.string("direction")?.as_deref() {
            None | Some("forward") => &[false],
            Some("reverse") => &[true],
            Some("bidirectional") => &[false, true],
            Some(d) => return Err(ctx.invalid(format!("direction '{d}'"))),
        };
        let dirs = reversed.len();
        if ctx.attrs.has("clip") {
            return Err(ctx.unsupported("cell clipping (attribute 'clip')"));
        }
        let w = ctx
            .constant(ops, 1)?
            .ok_or_else(|| ctx.invalid(format!("{} needs the weights W", ctx.op_type)))?;
        let r = ctx.constant(ops, 2)?.ok_or_else(|| {
            ctx.invalid(format!("{} needs the recurrence weights R", ctx.op_type))
        })?;
        let hidden = match w.shape.as_slice() {
            &[d, rows, i] if d == dirs && rows % gates == 0 && rows > 0 && i == input => {
                rows / gates
            }
            _ => {
                return Err(ctx.invalid(format!(
                    "W of shape {:?} (expected [{dirs}, {gates}·hidden, {input}])",
                    w.shape
                )));
            }
        };
        let hs = ctx.attrs.int("hidden_size", hidden as i64)?;
        if hs != hidden as i64 {
            return Err(ctx.invalid(format!(
                "hidden_size {hs} disagrees with W's {hidden} units per gate"
            )));
        }
        let rows = gates * hidden;
        if r.shape != [dirs, rows, hidden] {
            return Err(ctx.invalid(format!(
                "R of shape {:?} (expected [{dirs}, {rows}, {hidden}])",
                r.shape
            )));
        }
        let biases = match ctx.constant(ops, 3)? {
            None => vec![0.0; dirs * 2 * rows],
            Some(bc) if bc.shape == [dirs, 2 * rows] => bc.to_f32(),
            Some(bc) => {
                return Err(ctx.invalid(format!(
                    "B of shape {:?} (expected [{dirs}, {}])",
                    bc.shape,
                    2 * rows
                )));
            }
        };
        sequence_lengths(ctx, ops, seq, batch)?;
        if seq == 0 || batch == 0 {
            return Err(ctx.invalid(format!(
                "a {} of {seq} steps and batch {batch}",
                ctx.op_type
            )));
        }
        let acts = activations(ctx, default_acts, dirs)?;
        let (w, r) = (w.to_f32(), r.to_f32());
        let per_dir = |v: &[f32], dir: usize, n: usize| v[dir * n..(dir + 1) * n].to_vec();
        Ok((0..dirs)
            .map(|dir| {
                let bias = per_dir(&biases, dir, 2 * rows);
                Self {
                    seq,
                    batch,
                    input,
                    hidden,
                    layout,
                    reverse: reversed[dir],
                    dir,
                    dirs,
                    w: per_dir(&w, dir, rows * input),
                    r: per_dir(&r, dir, rows * hidden),
                    wb: bias[..rows].to_vec(),
                    rb: bias[rows..].to_vec(),
                    acts: acts[dir * default_acts.len()..(dir + 1) * default_acts.len()].to_vec(),
                }
            })
            .collect())
    }

    /// How this direction's nodes are labelled.
    fn label(&self, ctx: &Ctx) -> String {
        match (self.dirs, self.reverse) {
            (1, _) => ctx.label.to_string(),
            (_, false) => format!("{}/forward", ctx.label),
            (_, true) => format!("{}/reverse", ctx.label),
        }
    }

    /// The time steps in the order the layer reads them.
    fn steps(&self) -> Vec<usize> {
        if self.reverse {
            (0..self.seq).rev().collect()
        } else {
            (0..self.seq).collect()
        }
    }

    /// `[batch, hidden]`, the shape of every per-step value.
    fn shape(&self) -> Vec<usize> {
        vec![self.batch, self.hidden]
    }

    /// The shape of `Y_h`, `Y_c` and the initial states with `dirs` directions.
    fn state_shape(&self, dirs: usize) -> Vec<usize> {
        if self.layout == 0 {
            vec![dirs, self.batch, self.hidden]
        } else {
            vec![self.batch, dirs, self.hidden]
        }
    }

    /// The flat indices of the `[batch, width]` slice at `pos` of a 3-D tensor of `shape`
    /// whose other axis (steps, directions) comes first in layout 0, second in layout 1.
    fn slice_at(&self, shape: &[usize], pos: usize, label: &str) -> Result<Vec<usize>> {
        let (pos, axis) = (pos as i64, if self.layout == 0 { 0 } else { 1 });
        slice_map(shape, &[pos], &[pos + 1], Some(&[axis]), None, label).map(|(_, map)| map)
    }

    /// Gate `gate`'s rows of a `[gates·hidden, cols]` matrix.
    fn block(&self, m: &[f32], gate: usize, cols: usize) -> Weights {
        let n = self.hidden * cols;
        Weights::new(
            vec![self.hidden, cols],
            m[gate * n..(gate + 1) * n].to_vec(),
        )
    }

    /// Gate `gate`'s slice of a `[gates·hidden]` vector.
    fn part(&self, v: &[f32], gate: usize) -> Vec<f32> {
        v[gate * self.hidden..(gate + 1) * self.hidden].to_vec()
    }

    /// Gate `gate`'s `Wb + Rb`, the bias of a gate whose recurrent product is not reset.
    fn bias(&self, gate: usize) -> Vec<f32> {
        let (w, r) = (self.part(&self.wb, gate), self.part(&self.rb, gate));
        w.iter().zip(r).map(|(w, r)| w + r).collect()
    }

    /// `x·W_gᵀ + bias`, plus `h·R_gᵀ` when `h` is given: folded into the bias when `h`
    /// is a constant the same for every sequence of the batch, added as a constant when
    /// it differs, a second Dense when `h` is computed.
    fn linear(
        &self,
        b: &mut Builder,
        label: &str,
        xt: ValueId,
        h: Option<&State>,
        gate: usize,
        mut bias: Vec<f32>,
    ) -> ValueId {
        let shape = self.shape();
        let r = self.block(&self.r, gate, self.hidden);
        let (mut add_const, mut recurrent) = (None, None);
        match h {
            None => {}
            Some(State::Const(hv)) => {
                let term = matvec_rows(hv, &r, self.batch);
                match same_rows(&term, self.hidden) {
                    Some(row) => bias.iter_mut().zip(row).for_each(|(b, t)| *b += t),
                    None => add_const = Some(Weights::new(shape.clone(), term)),
                }
            }
            Some(State::Value(hv)) => {
                let op = Op::Dense {
                    weight: r,
                    bias: vec![0.0; self.hidden],
                };
                let label = format!("{label}/recurrent");
                recurrent = Some(b.push(&label, op, vec![*hv], shape.clone()));
            }
        }
        let weight = self.block(&self.w, gate, self.input);
        let op = Op::Dense { weight, bias };
        let wx = b.push(&format!("{label}/input"), op, vec![xt], shape.clone());
        match (add_const, recurrent) {
            (Some(c), _) => b.push(&format!("{label}/pre"), Op::AddConst { c }, vec![wx], shape),
            (_, Some(rec)) => b.push(&format!("{label}/pre"), Op::Add, vec![wx, rec], shape),
            _ => wx,
        }
    }

    /// `x ⊙ s` for a state `s`: None when `s` is zero.
    fn times_state(&self, b: &mut Builder, label: &str, x: ValueId, s: &State) -> Option<ValueId> {
        let shape = self.shape();
        match s {
            _ if s.is_zero() => None,
            State::Const(v) => {
                let c = Weights::new(shape.clone(), v.clone());
                Some(b.push(label, Op::MulConst { c }, vec![x], shape))
            }
            State::Value(v) => Some(b.push(label, Op::Mul, vec![x, *v], shape)),
        }
    }

    /// Step `t` of X as a `[batch, input]` value.
    fn step_input(&self, b: &mut Builder, label: &str, x: ValueId, t: usize) -> Result<ValueId> {
        let shape = vec![self.batch, self.input];
        let label = format!("{label}/x");
        if self.seq == 1 {
            return Ok(b.push(&label, Op::Reshape, vec![x], shape));
        }
        let map = self.slice_at(b.shape(x), t, &label)?;
        Ok(b.push(&label, Op::Pick { map }, vec![x], shape))
    }

    /// The initial state at input `index` (`name` in messages): zeros when absent.
    fn initial_state(
        &self,
        b: &mut Builder,
        ctx: &Ctx,
        ops: &[Option<Operand>],
        index: usize,
        name: &str,
    ) -> Result<State> {
        let want = self.state_shape(self.dirs);
        let check = |shape: &[usize]| {
            if shape == want {
                Ok(())
            } else {
                Err(ctx.invalid(format!("{name} of shape {shape:?} (expected {want:?})")))
            }
        };
        match ops.get(index) {
            None | Some(None) => Ok(State::Const(vec![0.0; self.batch * self.hidden])),
            Some(Some(Operand::Const(c))) => {
                check(&c.shape)?;
                let all = c.to_f32();
                let at = self.slice_at(&want, self.dir, ctx.label)?;
                Ok(State::Const(at.iter().map(|&i| all[i]).collect()))
            }
            Some(Some(Operand::Value(v))) => {
                check(b.shape(*v))?;
                let label = format!("{}/{name}", self.label(ctx));
                let op = if self.dirs == 1 {
                    Op::Reshape
                } else {
                    Op::Pick {
                        map: self.slice_at(&want, self.dir, ctx.label)?,
                    }
                };
                Ok(State::Value(b.push(&label, op, vec![*v], self.shape())))
            }
        }
    }

    /// The outputs `Y` (every step's hidden state, `(t, h)` in the order computed, joined
    /// in time order along the sequence axis) and `Y_h` (the last one computed).
    fn outputs(&self, b: &mut Builder, ctx: &Ctx, mut hidden: Vec<(usize, ValueId)>) -> Outputs {
        let Some(&(_, last_h)) = hidden.last() else {
            return vec![];
        };
        hidden.sort_by_key(|&(t, _)| t);
        let (step_shape, axis) = if self.layout == 0 {
            (vec![1, 1, self.batch, self.hidden], 0)
        } else {
            (vec![self.batch, 1, 1, self.hidden], 1)
        };
        let steps: Vec<ValueId> = hidden
            .iter()
            .map(|&(t, h)| {
                let label = format!("{}/Y{t}", self.label(ctx));
                b.push(&label, Op::Reshape, vec![h], step_shape.clone())
            })
            .collect();
        let y =
            join(b, &format!("{}/Y", self.label(ctx)), &steps, axis).map_err(|reason| Missing {
                op: ctx.op_type.to_string(),
                node: ctx.label.to_string(),
                reason,
            });
        vec![y, Ok(self.final_state(b, ctx, "Y_h", last_h))]
    }

    /// A last state as this direction's part of the output `name` (`Y_h`, `Y_c`).
    fn final_state(&self, b: &mut Builder, ctx: &Ctx, name: &str, v: ValueId) -> ValueId {
        let label = format!("{}/{name}", self.label(ctx));
        b.push(&label, Op::Reshape, vec![v], self.state_shape(1))
    }
}

/// The outputs of every direction (in order) joined: `Y` along its direction axis, the
/// states along theirs. One direction's outputs are returned as they are.
fn combine(b: &mut Builder, ctx: &Ctx, layout: i64, mut per_dir: Vec<Outputs>) -> Outputs {
    if per_dir.len() == 1 {
        return per_dir.swap_remove(0);
    }
    let count = per_dir.first().map_or(0, Vec::len);
    (0..count)
        .map(|k| {
            let parts = per_dir
                .iter()
                .map(|outs| outs[k].clone())
                .collect::<std::result::Result<Vec<ValueId>, Missing>>()?;
            // Y: [seq, dirs, batch, h] or [batch, seq, dirs, h]; Y_h, Y_c: [dirs, batch, h]
            // or [batch, dirs, h].
            let axis = match (k, layout) {
                (0, 0) => 1,
                (0, _) => 2,
                (_, 0) => 0,
                _ => 1,
            };
            let label = format!("{}/output{k}", ctx.label);
            join(b, &label, &parts, axis).map_err(|reason| Missing {
                op: ctx.op_type.to_string(),
                node: ctx.label.to_string(),
                reason,
            })
        })
        .collect()
}

/// `rows` rows of `v` (`[rows, k]`) times `mᵀ` (`m`: `[n, k]`): `[rows, n]`.
fn matvec_rows(v: &[f32], m: &Weights, rows: usize) -> Vec<f32> {
    let (n, k) = (m.shape[0], m.shape[1]);
    (0..rows)
        .flat_map(|r| {
            (0..n).map(move |o| {
                (0..k)
                    .map(|j| v[r * k + j] * m.data[o * k + j])
                    .sum::<f32>()
            })
        })
        .collect()
}

/// The one row every row of `m` (`[_, width]`) equals, if they are all equal.
fn same_rows(m: &[f32], width: usize) -> Option<&[f32]> {
    let first = &m[..width];
    m.chunks(width).all(|r| r == first).then_some(first)
}

/// `sequence_lens` (input 4) must be absent or say every sequence is full length.
fn sequence_lengths(ctx: &Ctx, ops: &[Option<Operand>], seq: usize, batch: usize) -> Result<()> {
    let Some(lens) = ctx.constant(ops, 4).map_err(|_| {
        ctx.unsupported("runtime sequence_lens (sequences must have the model's static length)")
    })?
    else {
        return Ok(());
    };
    let v: Vec<i64> = Const::to_i64(lens, ctx.label)?;
    if v.len() != batch || v.iter().any(|&l| l != seq as i64) {
        return Err(ctx.unsupported(format!(
            "sequence_lens {v:?} (every sequence must have the full length {seq})"
        )));
    }
    Ok(())
}

/// The layer's activations for `dirs` directions (`defaults` for each when the
/// attribute is absent).
fn activations(ctx: &Ctx, defaults: &[Op], dirs: usize) -> Result<Vec<Op>> {
    let Some(names) = ctx.attrs.strings("activations")? else {
        return Ok((0..dirs).flat_map(|_| defaults.iter().cloned()).collect());
    };
    if names.len() != dirs * defaults.len() {
        let kind = if dirs == 1 {
            "one-direction"
        } else {
            "bidirectional"
        };
        return Err(ctx.invalid(format!(
            "{} activations (a {kind} {} takes {})",
            names.len(),
            ctx.op_type,
            dirs * defaults.len()
        )));
    }
    names
        .iter()
        .map(|n| match n.to_ascii_lowercase().as_str() {
            "sigmoid" => Ok(Op::Sigmoid),
            "tanh" => Ok(Op::Tanh),
            "relu" => Ok(Op::Relu),
            _ => Err(ctx.unsupported(format!("activation '{n}' (only Sigmoid, Tanh and Relu)"))),
        })
        .collect()
}
