//! RNN (Elman): one gate, activation f (default Tanh): `h' = f(x·Wᵀ + h·Rᵀ + Wb + Rb)`.

use super::{Outputs, Recurrence, State, combine};
use crate::error::Result;
use crate::graph::Op;
use crate::onnx::import::{Builder, Ctx, Operand};

/// The outputs `Y`, `Y_h`.
pub(crate) fn rnn(b: &mut Builder, ctx: &Ctx, ops: &[Option<Operand>]) -> Result<Outputs> {
    let x = ctx.value(ops, 0)?;
    let mut per_dir = Vec::new();
    let recs = Recurrence::directions(b, ctx, ops, 1, &[Op::Tanh])?;
    let layout = recs.first().map_or(0, |r| r.layout);
    for rec in recs {
        let mut h = rec.initial_state(b, ctx, ops, 5, "initial_h")?;
        let mut hidden = Vec::new();
        for t in rec.steps() {
            let label = format!("{}/t{t}", rec.label(ctx));
            let xt = rec.step_input(b, &label, x, t)?;
            let pre = rec.linear(b, &label, xt, Some(&h), 0, rec.bias(0));
            let act = rec.acts[0].clone();
            let hv = b.push(&format!("{label}/hidden"), act, vec![pre], rec.shape());
            h = State::Value(hv);
            hidden.push((t, hv));
        }
        per_dir.push(rec.outputs(b, ctx, hidden));
    }
    Ok(combine(b, ctx, layout, per_dir))
}
