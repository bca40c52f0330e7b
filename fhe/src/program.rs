//! Which quantized models run encrypted, and how.
//!
//! Supported today: models whose integer form is one Dense layer (reshapes
//! around it are free), such as logistic and linear regression. The server
//! evaluates the accumulators `Σ w·x + b` on ciphertexts; the client decrypts
//! them and applies the layer's `round_shift` and range check, which gives
//! exactly the plaintext integer model's output. A second layer would need
//! the hidden activations requantized on ciphertexts (programmable
//! bootstrapping), which is refused with the node named.

use crate::error::{FheError, Result};
use crate::params::{Budget, LweParams, budget};
use cipherproof_model::quant::fixed::{round_shift, signed_range};
use cipherproof_model::quant::{QOp, QuantModel};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The encrypted part: one dense layer's accumulators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DotProducts {
    pub node: String,
    /// `[out, in]`, row-major.
    pub weights: Vec<i64>,
    pub inputs: usize,
    pub outputs: usize,
    pub bias: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FheProgram {
    /// Binds keys and ciphertexts to this exact quantized model.
    pub model_id: String,
    pub params: LweParams,
    pub layer: DotProducts,
    /// Bits of the quantized input (values must lie in its signed range).
    pub input_bits: u32,
    /// The client's cleartext step: `round_shift(acc, shift)`, then checked to `output_bits`.
    pub shift: u32,
    pub output_bits: u32,
    pub budget: Budget,
}

/// The FHE model id: SHA-256 of the quantized model's JSON.
pub fn model_id(model: &QuantModel) -> String {
    let json = serde_json::to_vec(model).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"cipherproof-fhe-model-v1");
    h.update(&json);
    hex::encode(h.finalize())
}

fn unsupported(node: &str, op: &str, reason: &str) -> FheError {
    FheError::Unsupported {
        node: node.into(),
        op: op.into(),
        reason: reason.into(),
    }
}

/// Plans the encrypted evaluation of `model` under `params`, with its noise budget.
pub fn compile(model: &QuantModel, params: LweParams) -> Result<FheProgram> {
    let mut dense = None;
    for node in &model.nodes {
        match (&node.op, &dense) {
            (QOp::Reshape, _) => {}
            (
                QOp::Dense {
                    weight,
                    weight_shape: [o, i],
                    bias,
                    shift,
                    ..
                },
                None,
            ) => dense = Some((node, weight, *o, *i, bias, *shift)),
            (QOp::Dense { .. }, Some(_)) => {
                return Err(unsupported(
                    &node.name,
                    "Dense",
                    "a second layer needs its input requantized on ciphertexts (programmable \
                     bootstrapping), which is not built yet: only single-layer linear models run encrypted",
                ));
            }
            (op, _) => {
                return Err(unsupported(
                    &node.name,
                    op.kind(),
                    "encrypted evaluation supports one Dense layer (and reshapes); this operator \
                     needs programmable bootstrapping, which is not built yet",
                ));
            }
        }
    }
    let (node, weights, outputs, inputs, bias, shift) = dense.ok_or_else(|| {
        unsupported("<model>", "-", "the model has no Dense layer to evaluate")
    })?;
    let input_bits = model.input().bits;
    let max_x = 1u128 << input_bits.saturating_sub(1);
    let max_acc = weights
        .chunks_exact(inputs)
        .zip(bias)
        .map(|(row, b)| {
            row.iter().map(|w| u128::from(w.unsigned_abs())).sum::<u128>() * max_x
                + u128::from(b.unsigned_abs())
        })
        .max()
        .unwrap_or(0);
    let budget = budget(&params, weights.chunks_exact(inputs), max_acc)?;
    Ok(FheProgram {
        model_id: model_id(model),
        params,
        layer: DotProducts {
            node: node.name.clone(),
            weights: weights.clone(),
            inputs,
            outputs,
            bias: bias.clone(),
        },
        input_bits,
        shift,
        output_bits: model.output_info().bits,
        budget,
    })
}

impl FheProgram {
    /// The client's cleartext requantization of decrypted accumulators: the model's own output.
    pub fn finish(&self, accumulators: &[i64]) -> Result<Vec<i64>> {
        let (lo, hi) = signed_range(self.output_bits);
        accumulators
            .iter()
            .map(|&a| {
                let v = round_shift(a, self.shift);
                if v < lo || v > hi {
                    Err(FheError::InvalidInput(format!(
                        "output {v} overflows {} bits (the plaintext model refuses this input too)",
                        self.output_bits
                    )))
                } else {
                    Ok(v)
                }
            })
            .collect()
    }
}
