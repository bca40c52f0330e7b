//! ONNX LSTM, unrolled over its (static) sequence into the IR's layers. Per time step
//! and gate, a Dense over the step's input (bias: ONNX's `Wb + Rb`) plus a Dense over
//! the previous hidden state, the gate's activation, then the cell and hidden updates
//! as elementwise Mul and Add:
//!
//! ```text
//! i = f(x·Wiᵀ + h·Riᵀ + Pi⊙c + bi)    o = f(x·Woᵀ + h·Roᵀ + Po⊙c' + bo)
//! f = f(x·Wfᵀ + h·Rfᵀ + Pf⊙c + bf)    c' = f⊙c + i⊙g(x·Wcᵀ + h·Rcᵀ + bc)
//! h' = o⊙h(c')
//! ```
//!
//! A constant initial state (the usual zeros) folds into the biases, so the first step
//! costs no recurrent layer. Forward and reverse directions are supported; `Y_h` and
//! `Y_c` for any sequence length, `Y` (every step's hidden state) for one step, since
//! more would concatenate runtime tensors. Bidirectional LSTMs, cell clipping,
//! `input_forget` and activations other than Sigmoid, Tanh and Relu are refused by name.

use super::{Builder, Ctx, Missing, Operand};
use crate::error::Result;
use crate::graph::constant::{Const, Weights};
use crate::graph::{Op, ValueId};

/// Gate blocks in ONNX's packing of `W`, `R` and `B`: input, output, forget, cell.
const GATE_I: usize = 0;
const GATE_O: usize = 1;
const GATE_F: usize = 2;
const GATE_C: usize = 3;

/// Peephole blocks of `P`: input, output, forget.
const PEEP_I: usize = 0;
const PEEP_O: usize = 1;
const PEEP_F: usize = 2;

/// A `[batch, hidden]` state: known at import time, or computed.
#[derive(Debug, Clone)]
enum State {
    Const(Vec<f32>),
    Value(ValueId),
}

/// The LSTM's dimensions and constants, checked.
struct Cell {
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    layout: i64,
    reverse: bool,
    /// `[4·hidden, input]`, gates i, o, f, c.
    w: Vec<f32>,
    /// `[4·hidden, hidden]`.
    r: Vec<f32>,
    /// `Wb + Rb`, `[4·hidden]`.
    bias: Vec<f32>,
    /// `[3·hidden]` (i, o, f), if any is non-zero.
    peephole: Option<Vec<f32>>,
    /// The activations f, g, h.
    acts: [Op; 3],
}

/// Builds the LSTM's outputs `Y`, `Y_h`, `Y_c` (in that order).
pub(crate) fn lstm(
    b: &mut Builder,
    ctx: &Ctx,
    ops: &[Option<Operand>],
) -> Result<Vec<std::result::Result<ValueId, Missing>>> {
    let x = ctx.value(ops, 0)?;
    let cell = Cell::of(b, ctx, ops, x)?;
    let state_shape = cell.state_shape();
    let mut h = initial_state(b, ctx, ops, 5, &cell)?;
    let mut c = initial_state(b, ctx, ops, 6, &cell)?;
    let steps: Vec<usize> = if cell.reverse {
        (0..cell.seq).rev().collect()
    } else {
        (0..cell.seq).collect()
    };
    let mut last_h = None;
    for t in steps {
        let label = format!("{}/t{t}", ctx.label);
        let xt = step_input(b, &label, x, &cell, t);
        let (hv, cv) = cell.step(b, &label, xt, &h, &c);
        h = State::Value(hv);
        c = State::Value(cv);
        last_h = Some(hv);
    }
    let (Some(hv), State::Value(cv)) = (last_h, c) else {
        return Err(ctx.invalid("the LSTM's sequence is empty"));
    };
    let y = if cell.seq == 1 {
        let shape = if cell.layout == 0 {
            vec![1, 1, cell.batch, cell.hidden]
        } else {
            vec![cell.batch, 1, 1, cell.hidden]
        };
        Ok(b.push(&format!("{}/Y", ctx.label), Op::Reshape, vec![hv], shape))
    } else {
        Err(Missing {
            op: ctx.op_type.to_string(),
            node: ctx.label.to_string(),
            reason: format!(
                "output Y of a {}-step sequence (it concatenates every step's hidden state; \
                 read Y_h, the last one, instead)",
                cell.seq
            ),
        })
    };
    let y_h = b.push(
        &format!("{}/Y_h", ctx.label),
        Op::Reshape,
        vec![hv],
        state_shape.clone(),
    );
    let y_c = b.push(
        &format!("{}/Y_c", ctx.label),
        Op::Reshape,
        vec![cv],
        state_shape,
    );
    Ok(vec![y, Ok(y_h), Ok(y_c)])
}

impl Cell {
    fn of(b: &Builder, ctx: &Ctx, ops: &[Option<Operand>], x: ValueId) -> Result<Self> {
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
        let reverse = match ctx.attrs.string("direction")?.as_deref() {
            None | Some("forward") => false,
            Some("reverse") => true,
            Some("bidirectional") => {
                return Err(ctx
                    .unsupported("a bidirectional LSTM (its outputs concatenate two directions)"));
            }
            Some(d) => return Err(ctx.invalid(format!("direction '{d}'"))),
        };
        if ctx.attrs.has("clip") {
            return Err(ctx.unsupported("cell clipping (attribute 'clip')"));
        }
        if ctx.attrs.int("input_forget", 0)? != 0 {
            return Err(ctx.unsupported("input_forget=1 (coupled input and forget gates)"));
        }
        let w = ctx
            .constant(ops, 1)?
            .ok_or_else(|| ctx.invalid("LSTM needs the weights W"))?;
        let r = ctx
            .constant(ops, 2)?
            .ok_or_else(|| ctx.invalid("LSTM needs the recurrence weights R"))?;
        let hidden = match w.shape.as_slice() {
            &[1, rows, i] if rows % 4 == 0 && rows > 0 && i == input => rows / 4,
            _ => {
                return Err(ctx.invalid(format!(
                    "W of shape {:?} (expected [1, 4·hidden, {input}])",
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
        if r.shape != [1, 4 * hidden, hidden] {
            return Err(ctx.invalid(format!(
                "R of shape {:?} (expected [1, {}, {hidden}])",
                r.shape,
                4 * hidden
            )));
        }
        let bias = match ctx.constant(ops, 3)? {
            None => vec![0.0; 4 * hidden],
            Some(bc) if bc.shape == [1, 8 * hidden] => {
                let v = bc.to_f32();
                (0..4 * hidden).map(|k| v[k] + v[4 * hidden + k]).collect()
            }
            Some(bc) => {
                return Err(ctx.invalid(format!(
                    "B of shape {:?} (expected [1, {}])",
                    bc.shape,
                    8 * hidden
                )));
            }
        };
        sequence_lengths(ctx, ops, seq, batch)?;
        let peephole = match ctx.constant(ops, 7)? {
            None => None,
            Some(p) if p.shape == [1, 3 * hidden] => {
                Some(p.to_f32()).filter(|v| v.iter().any(|&x| x != 0.0))
            }
            Some(p) => {
                return Err(ctx.invalid(format!(
                    "P of shape {:?} (expected [1, {}])",
                    p.shape,
                    3 * hidden
                )));
            }
        };
        if seq == 0 || batch == 0 || hidden == 0 {
            return Err(ctx.invalid(format!(
                "an LSTM of {seq} steps, batch {batch} and {hidden} units"
            )));
        }
        Ok(Self {
            seq,
            batch,
            input,
            hidden,
            layout,
            reverse,
            w: w.to_f32(),
            r: r.to_f32(),
            bias,
            peephole,
            acts: activations(ctx)?,
        })
    }

    /// The shape of `Y_h`, `Y_c` and the initial states.
    fn state_shape(&self) -> Vec<usize> {
        if self.layout == 0 {
            vec![1, self.batch, self.hidden]
        } else {
            vec![self.batch, 1, self.hidden]
        }
    }

    /// Rows `[gate·hidden, (gate+1)·hidden)` of a `[4·hidden, cols]` matrix.
    fn block(&self, m: &[f32], gate: usize, cols: usize) -> Weights {
        let n = self.hidden * cols;
        Weights::new(
            vec![self.hidden, cols],
            m[gate * n..(gate + 1) * n].to_vec(),
        )
    }

    fn peep(&self, block: usize) -> Option<Vec<f32>> {
        let h = self.hidden;
        self.peephole
            .as_ref()
            .map(|p| p[block * h..(block + 1) * h].to_vec())
    }

    /// One time step from states `h`, `c`: the new hidden and cell states.
    fn step(
        &self,
        b: &mut Builder,
        label: &str,
        xt: ValueId,
        h: &State,
        c: &State,
    ) -> (ValueId, ValueId) {
        let [f_act, g_act, h_act] = self.acts.clone();
        let i = self.gate(b, &format!("{label}/i"), xt, h, GATE_I);
        let i = self.activate(
            b,
            &format!("{label}/i"),
            i,
            Some((PEEP_I, c)),
            f_act.clone(),
        );
        let f = self.gate(b, &format!("{label}/f"), xt, h, GATE_F);
        let f = self.activate(
            b,
            &format!("{label}/f"),
            f,
            Some((PEEP_F, c)),
            f_act.clone(),
        );
        let g = self.gate(b, &format!("{label}/c"), xt, h, GATE_C);
        let g = self.activate(b, &format!("{label}/c"), g, None, g_act);
        let shape = vec![self.batch, self.hidden];
        let ig = b.push(&format!("{label}/i*c"), Op::Mul, vec![i, g], shape.clone());
        let c_new = match c {
            State::Const(v) if v.iter().all(|&x| x == 0.0) => ig,
            State::Const(v) => {
                let fc = b.push(
                    &format!("{label}/f*c"),
                    Op::MulConst {
                        c: Weights::new(shape.clone(), v.clone()),
                    },
                    vec![f],
                    shape.clone(),
                );
                b.push(
                    &format!("{label}/cell"),
                    Op::Add,
                    vec![fc, ig],
                    shape.clone(),
                )
            }
            State::Value(cv) => {
                let fc = b.push(
                    &format!("{label}/f*c"),
                    Op::Mul,
                    vec![f, *cv],
                    shape.clone(),
                );
                b.push(
                    &format!("{label}/cell"),
                    Op::Add,
                    vec![fc, ig],
                    shape.clone(),
                )
            }
        };
        let o = self.gate(b, &format!("{label}/o"), xt, h, GATE_O);
        let c_state = State::Value(c_new);
        let o = self.activate(b, &format!("{label}/o"), o, Some((PEEP_O, &c_state)), f_act);
        let hc = b.push(
            &format!("{label}/h(cell)"),
            h_act,
            vec![c_new],
            shape.clone(),
        );
        let h_new = b.push(&format!("{label}/hidden"), Op::Mul, vec![o, hc], shape);
        (h_new, c_new)
    }

    /// A gate's pre-activation without its peephole: `x·Wᵀ + h·Rᵀ + b`.
    fn gate(&self, b: &mut Builder, label: &str, xt: ValueId, h: &State, gate: usize) -> ValueId {
        let shape = vec![self.batch, self.hidden];
        let r = self.block(&self.r, gate, self.hidden);
        let mut bias = self.bias[gate * self.hidden..(gate + 1) * self.hidden].to_vec();
        // The recurrent term: folded into the bias, a constant to add, or a layer.
        let (mut add_const, mut recurrent) = (None, None);
        match h {
            State::Const(hv) => {
                let term = matvec_rows(hv, &r, self.batch);
                match same_rows(&term, self.hidden) {
                    Some(row) => bias.iter_mut().zip(row).for_each(|(b, t)| *b += t),
                    None => add_const = Some(Weights::new(shape.clone(), term)),
                }
            }
            State::Value(hv) => {
                let op = Op::Dense {
                    weight: r,
                    bias: vec![0.0; self.hidden],
                };
                recurrent =
                    Some(b.push(&format!("{label}/recurrent"), op, vec![*hv], shape.clone()));
            }
        }
        let weight = self.block(&self.w, gate, self.input);
        let wx = b.push(
            &format!("{label}/input"),
            Op::Dense { weight, bias },
            vec![xt],
            shape.clone(),
        );
        match (add_const, recurrent) {
            (Some(c), _) => b.push(&format!("{label}/pre"), Op::AddConst { c }, vec![wx], shape),
            (_, Some(rec)) => b.push(&format!("{label}/pre"), Op::Add, vec![wx, rec], shape),
            _ => wx,
        }
    }

    /// Adds the peephole term `P⊙c` (block `peep.0` of P, state `peep.1`) if the LSTM
    /// has one, then applies `act`.
    fn activate(
        &self,
        b: &mut Builder,
        label: &str,
        pre: ValueId,
        peep: Option<(usize, &State)>,
        act: Op,
    ) -> ValueId {
        let shape = vec![self.batch, self.hidden];
        let pre = match peep.and_then(|(block, c)| Some((self.peep(block)?, c))) {
            None => pre,
            Some((p, State::Const(cv))) => {
                let term: Vec<f32> = cv
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| x * p[k % self.hidden])
                    .collect();
                if term.iter().all(|&t| t == 0.0) {
                    pre
                } else {
                    let c = Weights::new(shape.clone(), term);
                    let op = Op::AddConst { c };
                    b.push(&format!("{label}/peephole"), op, vec![pre], shape.clone())
                }
            }
            Some((p, State::Value(cv))) => {
                let op = Op::MulConst {
                    c: Weights::new(vec![self.hidden], p),
                };
                let pc = b.push(&format!("{label}/peephole"), op, vec![*cv], shape.clone());
                let sum = format!("{label}/pre+peephole");
                b.push(&sum, Op::Add, vec![pre, pc], shape.clone())
            }
        };
        b.push(&format!("{label}/act"), act, vec![pre], shape)
    }
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

/// Step `t` of X as a `[batch, input]` value.
fn step_input(b: &mut Builder, label: &str, x: ValueId, cell: &Cell, t: usize) -> ValueId {
    let (n, i, s) = (cell.batch, cell.input, cell.seq);
    let shape = vec![n, i];
    if s == 1 {
        return b.push(&format!("{label}/x"), Op::Reshape, vec![x], shape);
    }
    let map: Vec<usize> = (0..n)
        .flat_map(|row| {
            (0..i).map(move |k| {
                if cell.layout == 0 {
                    (t * n + row) * i + k
                } else {
                    (row * s + t) * i + k
                }
            })
        })
        .collect();
    b.push(&format!("{label}/x"), Op::Pick { map }, vec![x], shape)
}

/// Initial state `initial_h` (input 5) or `initial_c` (input 6): zeros when absent.
fn initial_state(
    b: &mut Builder,
    ctx: &Ctx,
    ops: &[Option<Operand>],
    index: usize,
    cell: &Cell,
) -> Result<State> {
    let want = cell.state_shape();
    let flat = vec![cell.batch, cell.hidden];
    match ops.get(index) {
        None | Some(None) => Ok(State::Const(vec![0.0; cell.batch * cell.hidden])),
        Some(Some(Operand::Const(c))) => {
            check_state(ctx, index, &c.shape, &want).map(|()| State::Const(c.to_f32()))
        }
        Some(Some(Operand::Value(v))) => {
            check_state(ctx, index, b.shape(*v), &want)?;
            let label = format!("{}/initial{index}", ctx.label);
            Ok(State::Value(b.push(&label, Op::Reshape, vec![*v], flat)))
        }
    }
}

fn check_state(ctx: &Ctx, index: usize, shape: &[usize], want: &[usize]) -> Result<()> {
    if shape == want {
        Ok(())
    } else {
        let name = if index == 5 { "initial_h" } else { "initial_c" };
        Err(ctx.invalid(format!("{name} of shape {shape:?} (expected {want:?})")))
    }
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

/// The activations f, g, h (default Sigmoid, Tanh, Tanh).
fn activations(ctx: &Ctx) -> Result<[Op; 3]> {
    let Some(names) = ctx.attrs.strings("activations")? else {
        return Ok([Op::Sigmoid, Op::Tanh, Op::Tanh]);
    };
    let ops = names
        .iter()
        .map(|n| match n.to_ascii_lowercase().as_str() {
            "sigmoid" => Ok(Op::Sigmoid),
            "tanh" => Ok(Op::Tanh),
            "relu" => Ok(Op::Relu),
            _ => Err(ctx.unsupported(format!("activation '{n}' (only Sigmoid, Tanh and Relu)"))),
        })
        .collect::<Result<Vec<Op>>>()?;
    <[Op; 3]>::try_from(ops).map_err(|v| {
        ctx.invalid(format!(
            "{} activations (a one-direction LSTM takes 3)",
            v.len()
        ))
    })
}
