//! GRU: gates z, r, h (ONNX's packing), activations f, g (default Sigmoid, Tanh):
//!
//! ```text
//! z = f(x·Wzᵀ + h·Rzᵀ + Wbz + Rbz)     r = f(x·Wrᵀ + h·Rrᵀ + Wbr + Rbr)
//! ĥ = g(x·Whᵀ + (r⊙h)·Rhᵀ + Rbh + Wbh)          (linear_before_reset = 0)
//! ĥ = g(x·Whᵀ + r⊙(h·Rhᵀ + Rbh) + Wbh)          (linear_before_reset ≠ 0)
//! h' = (1 − z)⊙ĥ + z⊙h = ĥ − z⊙ĥ + z⊙h
//! ```

use super::{Outputs, Recurrence, State, combine, matvec_rows};
use crate::error::Result;
use crate::graph::{Op, ValueId};
use crate::onnx::import::{Builder, Ctx, Operand};

const GATE_Z: usize = 0;
const GATE_R: usize = 1;
const GATE_H: usize = 2;

/// The outputs `Y`, `Y_h`.
pub(crate) fn gru(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<Outputs> {
    let linear_before_reset = ctx.attrs.int("linear_before_reset", 0)? != 0;
    let x = ctx.value(ops, 0)?;
    let mut per_dir = Vec::new();
    let recs = Recurrence::directions(b, ctx, ops, 3, &[Op::Sigmoid, Op::Tanh])?;
    let layout = recs.first().map_or(0, |r| r.layout);
    for rec in recs {
        let cell = Gru {
            linear_before_reset,
            rec,
        };
        let mut h = cell.rec.initial_state(b, ctx, ops, 5, "initial_h")?;
        let mut hidden = Vec::new();
        for t in cell.rec.steps() {
            let label = format!("{}/t{t}", cell.rec.label(ctx));
            let xt = cell.rec.step_input(b, &label, x, t)?;
            let hv = cell.step(b, &label, xt, &h);
            h = State::Value(hv);
            hidden.push((t, hv));
        }
        per_dir.push(cell.rec.outputs(b, ctx, hidden));
    }
    Ok(combine(b, ctx, layout, per_dir))
}

struct Gru {
    rec: Recurrence,
    linear_before_reset: bool,
}

impl Gru {
    /// One time step from the hidden state `h`: the new hidden state.
    fn step(&self, b: &mut Builder, label: &str, xt: ValueId, h: &State) -> ValueId {
        let rec = &self.rec;
        let shape = rec.shape();
        let (f_act, g_act) = (rec.acts[0].clone(), rec.acts[1].clone());
        let gate = |b: &mut Builder, name: &str, gate: usize| {
            let label = format!("{label}/{name}");
            let pre = rec.linear(b, &label, xt, Some(h), gate, rec.bias(gate));
            b.push(
                &format!("{label}/act"),
                f_act.clone(),
                vec![pre],
                rec.shape(),
            )
        };
        let z = gate(b, "z", GATE_Z);
        let r = gate(b, "r", GATE_R);
        let pre = self.candidate(b, &format!("{label}/h"), xt, h, r);
        let cand = b.push(&format!("{label}/h/act"), g_act, vec![pre], shape.clone());
        let zc = b.push(
            &format!("{label}/z*h~"),
            Op::Mul,
            vec![z, cand],
            shape.clone(),
        );
        let kept = b.push(
            &format!("{label}/(1-z)*h~"),
            Op::Sub,
            vec![cand, zc],
            shape.clone(),
        );
        match rec.times_state(b, &format!("{label}/z*h"), z, h) {
            None => kept,
            Some(zh) => b.push(&format!("{label}/hidden"), Op::Add, vec![kept, zh], shape),
        }
    }

    /// The candidate's pre-activation, the reset gate `r` applied before or after the
    /// recurrent product.
    fn candidate(
        &self,
        b: &mut Builder,
        label: &str,
        xt: ValueId,
        h: &State,
        r: ValueId,
    ) -> ValueId {
        let rec = &self.rec;
        let shape = rec.shape();
        let (wb, rb) = (rec.part(&rec.wb, GATE_H), rec.part(&rec.rb, GATE_H));
        let rh = rec.block(&rec.r, GATE_H, rec.hidden);
        if !self.linear_before_reset {
            let wx = rec.linear(b, label, xt, None, GATE_H, rec.bias(GATE_H));
            let Some(gated) = rec.times_state(b, &format!("{label}/r*h"), r, h) else {
                return wx;
            };
            let op = Op::Dense {
                weight: rh,
                bias: vec![0.0; rec.hidden],
            };
            let rec_term = b.push(
                &format!("{label}/recurrent"),
                op,
                vec![gated],
                shape.clone(),
            );
            return b.push(&format!("{label}/pre"), Op::Add, vec![wx, rec_term], shape);
        }
        let wx = rec.linear(b, label, xt, None, GATE_H, wb);
        // h·Rhᵀ + Rbh: a constant when h is, else a Dense.
        let inner = match h {
            State::Const(hv) => {
                let mut term = matvec_rows(hv, &rh, rec.batch);
                let n = rec.hidden;
                term.iter_mut()
                    .enumerate()
                    .for_each(|(k, t)| *t += rb[k % n]);
                State::Const(term)
            }
            State::Value(hv) => {
                let op = Op::Dense {
                    weight: rh,
                    bias: rb,
                };
                State::Value(b.push(&format!("{label}/recurrent"), op, vec![*hv], shape.clone()))
            }
        };
        match rec.times_state(b, &format!("{label}/r*recurrent"), r, &inner) {
            None => wx,
            Some(t) => b.push(&format!("{label}/pre"), Op::Add, vec![wx, t], shape),
        }
    }
}
