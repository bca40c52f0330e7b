//! LSTM: gates i, o, f, c (ONNX's packing), activations f, g, h (default Sigmoid, Tanh,
//! Tanh), optional peepholes P (i, o, f):
//!
//! ```text
//! i = f(x·Wiᵀ + h·Riᵀ + Pi⊙c + bi)    o = f(x·Woᵀ + h·Roᵀ + Po⊙c' + bo)
//! f = f(x·Wfᵀ + h·Rfᵀ + Pf⊙c + bf)    c' = f⊙c + i⊙g(x·Wcᵀ + h·Rcᵀ + bc)
//! h' = o⊙h(c')                        (b = Wb + Rb)
//! ```
//!
//! `input_forget` (coupled gates) is refused by name.

use super::{Outputs, Recurrence, State, combine};
use crate::error::Result;
use crate::graph::constant::Weights;
use crate::graph::{Op, ValueId};
use crate::onnx::import::{Builder, Ctx, Operand};

const GATE_I: usize = 0;
const GATE_O: usize = 1;
const GATE_F: usize = 2;
const GATE_C: usize = 3;

/// Peephole blocks of `P`: input, output, forget.
const PEEP_I: usize = 0;
const PEEP_O: usize = 1;
const PEEP_F: usize = 2;

/// The outputs `Y`, `Y_h`, `Y_c`.
pub(crate) fn lstm(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<Outputs> {
    let recs = Recurrence::directions(b, ctx, ops, 4, &[Op::Sigmoid, Op::Tanh, Op::Tanh])?;
    if ctx.attrs.int("input_forget", 0)? != 0 {
        return Err(ctx.unsupported("input_forget=1 (coupled input and forget gates)"));
    }
    let (dirs, hidden) = (recs.len(), recs.first().map_or(0, |r| r.hidden));
    let layout = recs.first().map_or(0, |r| r.layout);
    let peepholes = match ctx.constant(ops, 7)? {
        None => vec![0.0; dirs * 3 * hidden],
        Some(p) if p.shape == [dirs, 3 * hidden] => p.to_f32(),
        Some(p) => {
            return Err(ctx.invalid(format!(
                "P of shape {:?} (expected [{dirs}, {}])",
                p.shape,
                3 * hidden
            )));
        }
    };
    let x = ctx.value(ops, 0)?;
    let mut per_dir = Vec::new();
    for rec in recs {
        let p = &peepholes[rec.dir * 3 * hidden..(rec.dir + 1) * 3 * hidden];
        let peephole = Some(p.to_vec()).filter(|v| v.iter().any(|&x| x != 0.0));
        let cell = Lstm { rec, peephole };
        let mut h = cell.rec.initial_state(b, ctx, ops, 5, "initial_h")?;
        let mut c = cell.rec.initial_state(b, ctx, ops, 6, "initial_c")?;
        let (mut hidden, mut last_c) = (Vec::new(), None);
        for t in cell.rec.steps() {
            let label = format!("{}/t{t}", cell.rec.label(ctx));
            let xt = cell.rec.step_input(b, &label, x, t)?;
            let (hv, cv) = cell.step(b, &label, xt, &h, &c);
            (h, c) = (State::Value(hv), State::Value(cv));
            hidden.push((t, hv));
            last_c = Some(cv);
        }
        let Some(cv) = last_c else {
            return Err(ctx.invalid("the LSTM's sequence is empty"));
        };
        let mut outs = cell.rec.outputs(b, ctx, hidden);
        outs.push(Ok(cell.rec.final_state(b, ctx, "Y_c", cv)));
        per_dir.push(outs);
    }
    Ok(combine(b, ctx, layout, per_dir))
}

struct Lstm {
    rec: Recurrence,
    /// `[3·hidden]` (i, o, f), if any is non-zero.
    peephole: Option<Vec<f32>>,
}

impl Lstm {
    /// One time step from states `h`, `c`: the new hidden and cell states.
    fn step(
        &self,
        b: &mut Builder,
        label: &str,
        xt: ValueId,
        h: &State,
        c: &State,
    ) -> (ValueId, ValueId) {
        let rec = &self.rec;
        let [f_act, g_act, h_act] = [0, 1, 2].map(|k| rec.acts[k].clone());
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
        let shape = rec.shape();
        let ig = b.push(&format!("{label}/i*c"), Op::Mul, vec![i, g], shape.clone());
        let c_new = match rec.times_state(b, &format!("{label}/f*c"), f, c) {
            None => ig,
            Some(fc) => b.push(
                &format!("{label}/cell"),
                Op::Add,
                vec![fc, ig],
                shape.clone(),
            ),
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

    /// A gate's pre-activation without its peephole: `x·Wᵀ + h·Rᵀ + Wb + Rb`.
    fn gate(&self, b: &mut Builder, label: &str, xt: ValueId, h: &State, gate: usize) -> ValueId {
        self.rec
            .linear(b, label, xt, Some(h), gate, self.rec.bias(gate))
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
        let rec = &self.rec;
        let shape = rec.shape();
        let h = rec.hidden;
        let p = |block: usize| {
            self.peephole
                .as_ref()
                .map(|p| p[block * h..(block + 1) * h].to_vec())
        };
        let pre = match peep.and_then(|(block, c)| Some((p(block)?, c))) {
            None => pre,
            Some((p, State::Const(cv))) => {
                let term: Vec<f32> = cv.iter().enumerate().map(|(k, &x)| x * p[k % h]).collect();
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
                    c: Weights::new(vec![h], p),
                };
                let pc = b.push(&format!("{label}/peephole"), op, vec![*cv], shape.clone());
                let sum = format!("{label}/pre+peephole");
                b.push(&sum, Op::Add, vec![pre, pc], shape.clone())
            }
        };
        b.push(&format!("{label}/act"), act, vec![pre], shape)
    }
}
