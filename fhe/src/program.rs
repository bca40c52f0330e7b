//! Which quantized models run encrypted, and how.
//!
//! Supported: chains of Dense layers with ReLU, a comparison with constants
//! ([`indicator`]) or nothing between them, reshapes anywhere (they are free):
//! logistic and linear regression, MLPs, and decision trees in GEMM form.
//!
//! * Every layer's accumulators `Σ w·x + b` are LWE dot products with
//!   cleartext weights (no bootstrapping).
//! * Between layers, the hidden accumulators are requantized exactly on
//!   ciphertexts by programmable bootstrapping ([`crate::bootstrap`]): the low
//!   `shift` bits are cleared digit by digit (two bootstraps per digit), then
//!   one bootstrap reads the remaining `window_bits`-bit value and applies the
//!   activation, re-encoded at the next layer's Δ.
//! * The last layer's accumulators are decrypted by the client, which applies
//!   the layer's `round_shift` (and a final ReLU) in clear.
//! * A tree's leaf tests are read a few leaves at a time, by tables of their
//!   values ([`leaf_tables`]), and its node tests feature by feature
//!   ([`feature_split`]).
//!
//! The plan is exact for every input in the model's input range: the window
//! must hold every value the requantized accumulator can take (worst case
//! through the weights), else the model is refused with the layer named.

use crate::error::{FheError, Result};
use crate::params::{Budget, LweParams, MAX_LOG2_P_FAIL, PBS_PARAMS, PbsParams, budget, noise};
use cipherproof_model::quant::fixed::{round_shift, signed_range};
use cipherproof_model::quant::{QOp, QuantModel};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod bootstraps;
mod feature_split;
mod indicator;
mod leaf_tables;

use bootstraps::{Keys, NoiseModel, Plan, bootstraps_cost, fast_count, log2_sum, plan_requant, plan_split};

pub use feature_split::{FeatureSplit, LowTest, SplitNode};
pub use leaf_tables::ValueTable;

/// One dense layer's dot products.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DotProducts {
    pub node: String,
    /// `[out, in]`, row-major.
    pub weights: Vec<i64>,
    pub inputs: usize,
    pub outputs: usize,
    pub bias: Vec<i64>,
}

impl DotProducts {
    pub fn rows(&self) -> std::slice::ChunksExact<'_, i64> {
        self.weights.chunks_exact(self.inputs)
    }

    /// The largest |accumulator| over inputs with |x| ≤ `max_x`.
    fn max_abs_acc(&self, max_x: u128) -> u128 {
        self.rows()
            .zip(&self.bias)
            .map(|(row, b)| row.iter().map(|w| u128::from(w.unsigned_abs())).sum::<u128>() * max_x + u128::from(b.unsigned_abs()))
            .max()
            .unwrap_or(0)
    }

    /// The smallest and largest accumulator over inputs in `[lo, hi]`.
    fn acc_range(&self, range: (i128, i128)) -> (i128, i128) {
        self.acc_range_each(|_| range)
    }

    /// The smallest and largest accumulator over inputs each in its own interval, `range(i)`.
    fn acc_range_each(&self, range: impl Fn(usize) -> (i128, i128)) -> (i128, i128) {
        self.rows()
            .zip(&self.bias)
            .map(|(row, &b)| {
                row.iter().enumerate().fold((i128::from(b), i128::from(b)), |(l, h), (i, &w)| {
                    let (lo, hi) = range(i);
                    let (a, c) = (i128::from(w) * lo, i128::from(w) * hi);
                    (l + a.min(c), h + a.max(c))
                })
            })
            .fold((i128::MAX, i128::MIN), |(l, h), (a, c)| (l.min(a), h.max(c)))
    }
}

/// The activation applied to a requantized hidden value: a ReLU (or none), or one of the
/// questions a folded comparison asks of it ([`indicator`]), answered 1 or 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Activation {
    Identity,
    Relu,
    /// `y < 0`.
    Negative,
    /// `y ≥ 0`.
    NonNegative,
    /// `y = 0`.
    Zero,
    /// Each value its own table ([`Requant::tables`]): a tree's leaves read by their nodes' code.
    Lookup,
}

impl Activation {
    /// The activation of `y`; a [`Activation::Lookup`] value's table is [`Requant::apply`]'s.
    pub fn apply(self, y: i64) -> i64 {
        match self {
            Activation::Identity | Activation::Lookup => y,
            Activation::Relu => y.max(0),
            Activation::Negative => i64::from(y < 0),
            Activation::NonNegative => i64::from(y >= 0),
            Activation::Zero => i64::from(y == 0),
        }
    }

    /// Whether the values are the 0 or 1 of a comparison.
    pub fn is_indicator(self) -> bool {
        !matches!(self, Activation::Identity | Activation::Relu | Activation::Lookup)
    }

    /// Whether the window holds exactly the values inputs in range give (not a symmetric bound).
    fn exact_window(self) -> bool {
        self.is_indicator() || self == Activation::Lookup
    }
}

/// Which bootstrapping key evaluates a table: the fast one (1 level, noisier) where the noise
/// budget allows, else the accurate one (its decomposition chosen per model, [`ACCURATE_DECOMPOSITIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BootstrapKey {
    Fast,
    #[default]
    Accurate,
}

/// Bits `[start, start + width)` of a hidden accumulator, cleared by one pair of bootstraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digit {
    pub start: u32,
    pub width: u32,
}

/// The exact requantization of a hidden layer's accumulators on ciphertexts:
/// `activation(round_shift(acc, shift))`, re-encoded at `next_log_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requant {
    pub shift: u32,
    pub digits: Vec<Digit>,
    /// `round_shift(acc, shift)` lies in `[-2^(w-1), 2^(w-1))` for every input in range.
    pub window_bits: u32,
    /// Wide windows (ReLU only): the digits of `y` below its sign bit, each also masked by the
    /// sign (three bootstraps per digit, one for the sign). Empty when one bootstrap reads the window.
    pub y_digits: Vec<Digit>,
    pub wide: bool,
    pub activation: Activation,
    pub next_log_delta: u32,
    /// Bootstraps per hidden value (two per digit, one for the window).
    pub bootstraps: u32,
    /// The key that reads the accumulator's digits (their sign flags always use the fast key).
    #[serde(default)]
    pub digit_key: BootstrapKey,
    /// The key that reads the window (narrow plans; wide ones read `y` with the accurate key).
    #[serde(default)]
    pub window_key: BootstrapKey,
    /// log2 of the largest failure probability of any one of these bootstraps.
    pub log2_p_fail_per_bootstrap: f64,
    /// [`Activation::Lookup`]: one table per value, by requantized value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<ValueTable>,
    /// Node tests read feature by feature: `bootstraps` is then each node's own read, and the
    /// features' digits and low tests are shared ([`Requant::layer_bootstraps`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<FeatureSplit>,
}

impl Requant {
    /// Value `j`'s output for the requantized value `y`.
    pub fn apply(&self, j: usize, y: i64) -> i64 {
        match (self.activation, self.tables.get(j)) {
            (Activation::Lookup, Some(t)) => t.at(y),
            (Activation::Lookup, None) => 0,
            (a, _) => a.apply(y),
        }
    }

    /// Bootstraps of the whole layer of `values` values.
    pub fn layer_bootstraps(&self, values: usize) -> u64 {
        match &self.split {
            Some(split) => split.bootstraps(),
            None => u64::from(self.bootstraps) * values as u64,
        }
    }

    /// How many of [`Self::layer_bootstraps`] use the fast key.
    pub fn layer_fast_bootstraps(&self, values: usize) -> u64 {
        match &self.split {
            Some(split) => split.fast_bootstraps(self.window_key),
            None => u64::from(self.fast_bootstraps()) * values as u64,
        }
    }

    /// How many of `bootstraps` use the fast key.
    pub fn fast_bootstraps(&self) -> u32 {
        if self.split.is_some() {
            return u32::from(self.window_key == BootstrapKey::Fast);
        }
        let keys = Keys {
            digit: self.digit_key,
            window: self.window_key,
        };
        fast_count(self.digits.len(), self.y_digits.len(), self.wide, keys)
    }
}

/// A layer of the encrypted evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncLayer {
    pub dot: DotProducts,
    /// Accumulators are encoded as `acc·2^log_delta`.
    pub log_delta: u32,
    /// Present on hidden layers: done by the server with bootstraps.
    pub requant: Option<Requant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FheProgram {
    /// Binds keys and ciphertexts to this exact quantized model.
    pub model_id: String,
    pub params: LweParams,
    /// The bootstrapping parameters, when some layer needs them.
    pub pbs: Option<PbsParams>,
    pub layers: Vec<EncLayer>,
    /// Bits of the quantized input (values must lie in its signed range).
    pub input_bits: u32,
    /// The client's cleartext step: `round_shift(acc, shift)`, then checked to `output_bits`.
    pub shift: u32,
    pub output_bits: u32,
    /// A ReLU after the last layer, applied by the client.
    pub final_relu: bool,
    /// How safely the last layer's accumulators decode.
    pub budget: Budget,
    /// log2 of the probability that any bootstrap of one sample fails (union bound); −∞ without any.
    pub log2_p_fail_bootstraps: f64,
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

/// A bootstrap's failure probability may not exceed this (Concrete ML's default is 2^-40 too).
pub const MAX_LOG2_P_FAIL_BOOTSTRAP: f64 = -40.0;
/// The bootstraps of one sample together may not fail more often than this (union bound).
pub const MAX_LOG2_P_FAIL_SAMPLE: f64 = -40.0;
/// The widest digit one pair of bootstraps clears.
const MAX_DIGIT_BITS: u32 = 5;

/// One dense layer of the chain, with its shift and the activation after it.
#[derive(Debug, Clone, PartialEq)]
struct Stage {
    dot: DotProducts,
    shift: u32,
    activation: Activation,
    /// [`Activation::Lookup`]: each value's table.
    tables: Vec<ValueTable>,
}

/// The model as a chain: dense layers, each with the activation after it.
fn chain(model: &QuantModel) -> Result<Vec<Stage>> {
    let mut layers: Vec<Stage> = Vec::new();
    for node in &model.nodes {
        match &node.op {
            QOp::Reshape => {}
            QOp::Dense {
                weight,
                weight_shape: [o, i],
                bias,
                shift,
                ..
            } => layers.push(Stage {
                dot: DotProducts {
                    node: node.name.clone(),
                    weights: weight.clone(),
                    inputs: *i,
                    outputs: *o,
                    bias: bias.clone(),
                },
                shift: *shift,
                activation: Activation::Identity,
                tables: Vec::new(),
            }),
            QOp::Relu => match layers.last_mut() {
                Some(last) if last.activation == Activation::Identity => last.activation = Activation::Relu,
                _ => return Err(unsupported(&node.name, "Relu", "encrypted evaluation supports a ReLU only right after a Dense layer")),
            },
            QOp::CompareConst { cmp, c, .. } => match layers.last_mut() {
                Some(l) if l.activation == Activation::Identity => (l.shift, l.activation) = indicator::fold(&mut l.dot, l.shift, *cmp, c)?,
                _ => {
                    return Err(unsupported(
                        &node.name,
                        cmp.name(),
                        "encrypted evaluation supports a comparison with constants only right after a Dense layer",
                    ));
                }
            },
            op => {
                return Err(unsupported(
                    &node.name,
                    op.kind(),
                    "encrypted evaluation supports Dense layers with ReLU or a comparison with constants between them \
                     (and reshapes); this operator has no encrypted form yet",
                ));
            }
        }
    }
    if layers.is_empty() {
        return Err(unsupported("<model>", "-", "the model has no Dense layer to evaluate"));
    }
    Ok(layers)
}

fn bits_signed(lo: i64, hi: i64) -> u32 {
    (1..63).find(|&b| {
        let (l, h) = signed_range(b);
        l <= lo && hi <= h
    })
    .unwrap_or(63)
}

/// Decompositions (base log, levels) of the accurate bootstrapping key, cheapest first. Neither
/// changes security (the keys and their noise are tfhe's), only output noise (σ ≈ 2^-22 and
/// 2^-25) and speed: a model takes the cheapest its noise budget allows.
pub const ACCURATE_DECOMPOSITIONS: [(usize, usize); 2] = [(15, 2), (11, 3)];

/// Plans the encrypted evaluation of `model` under `params`, with its noise budget: of the
/// accurate-key decompositions and key choices that keep every bootstrap, each sample and the
/// outputs within their failure bounds, the cheapest.
pub fn compile(model: &QuantModel, params: LweParams) -> Result<FheProgram> {
    compile_with(model, params, &ACCURATE_DECOMPOSITIONS)
}

/// Plans `model` for an existing server key: with that key's accurate decomposition when the
/// planner offers it (keys made before the decomposition was chosen per model all have 3 levels
/// of 2^11, and still serve), else as [`compile`]. The client's side of a program (encodings,
/// the last layer's Δ) does not depend on the decomposition.
pub fn compile_for_key(model: &QuantModel, params: LweParams, key: &crate::wire::ServerKeyFile) -> Result<FheProgram> {
    if let Some(eval) = &key.eval {
        let d = (eval.bsk.decomposition_base_log().0, eval.bsk.decomposition_level_count().0);
        if ACCURATE_DECOMPOSITIONS.contains(&d) {
            return compile_with(model, params, &[d]);
        }
    }
    compile(model, params)
}

fn compile_with(model: &QuantModel, params: LweParams, decompositions: &[(usize, usize)]) -> Result<FheProgram> {
    let mut best: Option<(u64, FheProgram)> = None;
    let mut refusal = None;
    for &(base_log, levels) in decompositions {
        let pbs = PbsParams {
            pbs_base_log: base_log,
            pbs_level: levels,
            ..PBS_PARAMS
        };
        // The last hidden layer's outputs feed the decrypted scores, whose noise budget may need the
        // accurate key where earlier layers' windows (a tree's node tests) can take the fast one.
        for (fast_early, fast_last) in [(true, true), (true, false), (false, true), (false, false)] {
            let window_key = |fast| if fast { BootstrapKey::Fast } else { BootstrapKey::Accurate };
            let windows = WindowKeys {
                early: window_key(fast_early),
                last: window_key(fast_last),
            };
            match plan(model, params, pbs, windows) {
                Ok(p) => {
                    let cost = p.cost();
                    if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                        best = Some((cost, p));
                    }
                }
                Err(e) => refusal = Some(e),
            }
        }
    }
    match (best, refusal) {
        (Some((_, p)), _) => Ok(p),
        (None, Some(e)) => Err(e),
        (None, None) => Err(FheError::NoiseBudget("no bootstrapping key decomposition to plan with".into())),
    }
}

/// The keys that read the windows of narrow plans: the last hidden layer's, and every other's.
#[derive(Debug, Clone, Copy)]
struct WindowKeys {
    early: BootstrapKey,
    last: BootstrapKey,
}

/// One plan: `pbs` as the accurate key; windows read by the keys `windows` gives.
fn plan(model: &QuantModel, params: LweParams, pbs: PbsParams, windows: WindowKeys) -> Result<FheProgram> {
    let mut chain = chain(model)?;
    if chain.last().is_some_and(|l| l.activation.is_indicator()) {
        let node = &chain[chain.len() - 1].dot.node;
        return Err(unsupported(node, "comparison", "encrypted evaluation needs a Dense layer after a comparison (the client decrypts a Dense layer's accumulators)"));
    }
    let input_bits = model.input().bits;
    let (in_lo, in_hi) = signed_range(input_bits);
    let mut max_x = u128::from(in_lo.unsigned_abs().max(in_hi.unsigned_abs()));
    // The interval of a layer's inputs: exact for comparisons' 0 and 1, symmetric otherwise.
    let mut x_range = (i128::from(in_lo), i128::from(in_hi));
    // Forward: bounds, windows and encodings of the hidden layers.
    struct Shape {
        log_delta: u32,
        shift: u32,
        window_bits: u32,
        span: (i64, i64),
    }
    let mut shapes = Vec::new();
    let hidden = chain.len() - 1;
    // A tree's leaf tests after its node tests: read by tables, a few leaves each, where that is cheaper.
    if hidden >= 2 && chain[hidden - 2].activation.is_indicator() && chain[hidden - 1].activation == Activation::Zero {
        let (head, tail) = chain.split_at_mut(hidden);
        leaf_tables::rewrite(&mut head[hidden - 1], &mut tail[0]);
    }
    // A tree's node tests on the inputs: read feature by feature where that saves bootstraps (on
    // inputs this wide a node otherwise takes at least three). Decided by the structure alone, so
    // that client and server plan the same encodings whatever the server's key.
    let split = match chain.first() {
        Some(first) if hidden >= 1 => feature_split::split(first, input_bits).filter(|s| s.bootstraps() < 3 * first.dot.outputs as u64),
        _ => None,
    };
    for (i, Stage { dot, shift, activation, tables }) in chain[..hidden].iter_mut().enumerate() {
        if let (0, Some(sp)) = (i, &split) {
            let w = indicator::WINDOW_BITS;
            shapes.push(Shape {
                log_delta: 63 - w - sp.digit.width,
                shift: sp.digit.width,
                window_bits: w,
                span: (-(1 << (w - 1)), (1 << (w - 1)) - 1),
            });
            (max_x, x_range) = (1, (0, 1));
            continue;
        }
        let overflow = |dot: &DotProducts| FheError::NoiseBudget(format!("layer {}: accumulators overflow 64 bits", dot.node));
        let (ylo, yhi) = if activation.exact_window() {
            // Exact bounds: a leaf test's path sums (and a table's codes) must fit the window as they are.
            let exact = |dot: &DotProducts| {
                let (lo, hi) = dot.acc_range(x_range);
                Ok::<_, FheError>((i64::try_from(lo).map_err(|_| overflow(dot))?, i64::try_from(hi).map_err(|_| overflow(dot))?))
            };
            if activation.is_indicator() && *activation != Activation::Zero {
                let (lo, hi) = exact(dot)?;
                *shift = indicator::sign_shift(dot, lo, hi)?;
            }
            let (lo, hi) = exact(dot)?;
            (round_shift(lo, *shift), round_shift(hi, *shift))
        } else {
            let a = i64::try_from(dot.max_abs_acc(max_x)).map_err(|_| overflow(dot))?;
            (round_shift(-a, *shift), round_shift(a, *shift))
        };
        let window_bits = bits_signed(ylo, yhi);
        let log_delta = 63i64 - i64::from(*shift) - i64::from(window_bits);
        if log_delta < 1 {
            return Err(FheError::NoiseBudget(format!(
                "layer {}: accumulators need {} bits; at most 62 fit the torus",
                dot.node,
                *shift + window_bits
            )));
        }
        shapes.push(Shape {
            log_delta: log_delta as u32,
            shift: *shift,
            window_bits,
            span: (ylo, yhi),
        });
        if activation.is_indicator() {
            (max_x, x_range) = (1, (0, 1));
        } else if *activation == Activation::Lookup {
            let (lo, hi) = tables.iter().map(ValueTable::range).fold((0, 0), |(l, h), (a, b)| (a.min(l), b.max(h)));
            max_x = u128::from(lo.unsigned_abs().max(hi.unsigned_abs()));
            x_range = (i128::from(lo), i128::from(hi));
        } else {
            let h_hi = activation.apply(yhi).max(activation.apply(ylo).abs());
            max_x = u128::from(h_hi.unsigned_abs());
            x_range = (-i128::from(h_hi), i128::from(h_hi));
        }
    }
    let Stage { dot: last, shift, activation: last_act, .. } = &chain[chain.len() - 1];
    let max_acc = match hidden.checked_sub(1).map(|i| &chain[i]) {
        // Leaf tests: at most one leaf of each tree is reached.
        Some(leaves) if leaves.activation == Activation::Zero => {
            indicator::max_abs_acc_one_hot(last, &indicator::exclusive_groups(&leaves.dot, leaves.shift))
        }
        // Tables: each input within its own table's values.
        Some(leaves) if leaves.activation == Activation::Lookup => {
            let (lo, hi) = last.acc_range_each(|i| leaves.tables.get(i).map_or((0, 0), |t| (i128::from(t.range().0), i128::from(t.range().1))));
            lo.unsigned_abs().max(hi.unsigned_abs())
        }
        _ => last.max_abs_acc(max_x),
    };
    // The last layer's Δ: as large as its accumulators allow, and no larger than a wide
    // hidden layer's digits can be re-encoded to (see `plan_requant`).
    let last_log_delta = shapes
        .last()
        .map(|h| (h.log_delta + h.shift + 1).min(crate::params::log_delta_for(max_acc)));
    // Noise, forward, with each hidden layer's next Δ known.
    let nm = NoiseModel {
        pbs: noise::bootstrap(&pbs),
        pbs_fast: noise::bootstrap_fast(&pbs),
        ks: noise::keyswitch(&pbs, params.dimension),
        ms: noise::modulus_switch(&pbs),
    };
    let cost = |p: &Plan, wide: bool, keys: Keys| bootstraps_cost(&pbs, p.fails.len() as u64, u64::from(fast_count(p.digits.len(), p.y_digits.len(), wide, keys)));
    let mut v_in = noise::fresh(&params);
    let mut layers = Vec::new();
    let mut all_fails = Vec::new();
    for (i, (Stage { dot, activation, tables, .. }, h)) in chain.iter().zip(&shapes).enumerate() {
        let next_log_delta = shapes.get(i + 1).map(|n| n.log_delta).or(last_log_delta).unwrap_or(1);
        if let (0, Some(sp)) = (i, &split) {
            let node_key = if i + 1 == shapes.len() { windows.last } else { windows.early };
            let (sp, fails) = plan_split(&nm, &pbs, sp, v_in, h.log_delta, node_key).ok_or_else(|| {
                FheError::NoiseBudget(format!(
                    "layer {}: no key reads its features' digits, low tests and node tests within 2^{MAX_LOG2_P_FAIL_BOOTSTRAP}",
                    dot.node
                ))
            })?;
            all_fails.extend(fails.iter().copied());
            v_in = nm.of(node_key);
            layers.push(EncLayer {
                dot: dot.clone(),
                log_delta: h.log_delta,
                requant: Some(Requant {
                    shift: h.shift,
                    digits: vec![sp.digit],
                    window_bits: h.window_bits,
                    y_digits: Vec::new(),
                    wide: false,
                    activation: *activation,
                    next_log_delta,
                    bootstraps: 1,
                    digit_key: sp.digit_key,
                    window_key: node_key,
                    log2_p_fail_per_bootstrap: fails.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    tables: Vec::new(),
                    split: Some(sp),
                }),
            });
            continue;
        }
        let acc_variance = dot.rows().map(|r| r.iter().map(|w| (*w as f64).powi(2)).sum::<f64>()).fold(0.0, f64::max) * v_in;
        let window_keys = [if i + 1 == shapes.len() { windows.last } else { windows.early }];
        let mut best: Option<(Plan, bool, Keys)> = None;
        for wide in [false, true] {
            if wide && *activation != Activation::Relu {
                break;
            }
            for width in 1..=MAX_DIGIT_BITS {
                for digit in [BootstrapKey::Fast, BootstrapKey::Accurate] {
                    for window in window_keys {
                        let keys = Keys { digit, window };
                        let Some(plan) = plan_requant(&nm, acc_variance, h.log_delta, h.shift, h.window_bits, next_log_delta, width, wide, keys) else {
                            continue;
                        };
                        if plan.fails.iter().all(|&f| f <= MAX_LOG2_P_FAIL_BOOTSTRAP)
                            && best.as_ref().is_none_or(|(b, bw, bk)| cost(&plan, wide, keys) < cost(b, *bw, *bk))
                        {
                            best = Some((plan, wide, keys));
                        }
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        let (ylo, yhi, window_bits) = (h.span.0, h.span.1, h.window_bits);
        let (plan, wide, keys) = best.ok_or_else(|| {
            let why = if *activation == Activation::Zero {
                "an equality test reads its value whole (a tree this deep has path sums too wide for one bootstrap)"
            } else {
                "no digit-by-digit plan fits (it needs a ReLU after the layer and room in the next layer's encoding)"
            };
            unsupported(
                &dot.node,
                "Dense",
                &format!(
                    "its requantized values span [{ylo}, {yhi}] for inputs in range ({window_bits} signed bits): more than \
                     one bootstrap reads exactly (4 bits at N = 2048, failure ≤ 2^{MAX_LOG2_P_FAIL_BOOTSTRAP}), and {why}"
                ),
            )
        })?;
        let per_value = log2_sum(plan.fails.iter().copied());
        all_fails.extend(std::iter::repeat_n(per_value, dot.outputs));
        v_in = plan.out_variance;
        layers.push(EncLayer {
            dot: dot.clone(),
            log_delta: h.log_delta,
            requant: Some(Requant {
                shift: h.shift,
                window_bits,
                wide,
                activation: *activation,
                next_log_delta,
                bootstraps: plan.fails.len() as u32,
                digit_key: keys.digit,
                window_key: if wide { BootstrapKey::Accurate } else { keys.window },
                log2_p_fail_per_bootstrap: plan.fails.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                digits: plan.digits,
                y_digits: plan.y_digits,
                tables: tables.clone(),
                split: None,
            }),
        });
    }
    let budget = match last_log_delta {
        None => budget(&params, last.rows(), max_acc)?,
        Some(log_delta) => crate::params::budget_gaussian(last.rows(), max_acc, v_in, log_delta)?,
    };
    layers.push(EncLayer {
        dot: last.clone(),
        log_delta: budget.log_delta,
        requant: None,
    });
    if budget.log2_p_fail > MAX_LOG2_P_FAIL {
        return Err(FheError::NoiseBudget(format!("the outputs would decode wrongly with probability 2^{:.1}", budget.log2_p_fail)));
    }
    let log2_p_fail_bootstraps = log2_sum(all_fails);
    if log2_p_fail_bootstraps > MAX_LOG2_P_FAIL_SAMPLE {
        return Err(FheError::NoiseBudget(format!(
            "some bootstrap of a sample would fail with probability 2^{log2_p_fail_bootstraps:.1} (at most 2^{MAX_LOG2_P_FAIL_SAMPLE})"
        )));
    }
    Ok(FheProgram {
        model_id: model_id(model),
        params,
        pbs: (!shapes.is_empty()).then_some(pbs),
        layers,
        input_bits,
        shift: *shift,
        output_bits: model.output_info().bits,
        final_relu: *last_act == Activation::Relu,
        budget,
        log2_p_fail_bootstraps,
    })
}

impl FheProgram {
    /// Input values per sample.
    pub fn inputs(&self) -> usize {
        self.layers[0].dot.inputs
    }

    /// Output values per sample (the last layer's).
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].dot.outputs
    }

    /// Relative cost of one sample's bootstraps ([`bootstrap_cost`]); 0 without any.
    pub fn cost(&self) -> u64 {
        let Some(pbs) = &self.pbs else { return 0 };
        self.layers
            .iter()
            .filter_map(|l| l.requant.as_ref().map(|r| (r, l.dot.outputs)))
            .map(|(r, n)| bootstraps_cost(pbs, r.layer_bootstraps(n), r.layer_fast_bootstraps(n)))
            .sum()
    }

    /// Bootstraps per sample.
    pub fn bootstraps(&self) -> u64 {
        self.layers
            .iter()
            .filter_map(|l| l.requant.as_ref().map(|r| r.layer_bootstraps(l.dot.outputs)))
            .sum()
    }

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
                } else if self.final_relu {
                    Ok(v.max(0))
                } else {
                    Ok(v)
                }
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::bootstraps::bootstrap_cost;
    use super::*;
    use cipherproof_model::quant::{QNode, QValue, QuantConfig};

    fn value(name: &str, n: usize, bits: u32) -> QValue {
        QValue {
            name: name.into(),
            shape: vec![1, n],
            scale: 0,
            bits,
            calibrated_max: 1.0,
        }
    }

    /// A chain stage of `bias.len()` values (no shift).
    pub(in crate::program) fn stage(weights: Vec<i64>, bias: Vec<i64>, activation: Activation) -> Stage {
        Stage {
            dot: DotProducts {
                node: "d".into(),
                inputs: weights.len() / bias.len(),
                outputs: bias.len(),
                weights,
                bias,
            },
            shift: 0,
            activation,
            tables: Vec::new(),
        }
    }

    /// x (6 bits) → Dense [w] (shift 3) → ReLU → Dense [1] (shift 0).
    pub(crate) fn tiny(w: i64, b: i64) -> QuantModel {
        let dense = |name: &str, weight: i64, bias: i64, shift: u32, input: usize, output: usize| QNode {
            name: name.into(),
            op: QOp::Dense {
                weight: vec![weight],
                weight_shape: [1, 1],
                bias: vec![bias],
                weight_scale: 0,
                shift,
            },
            inputs: vec![input],
            output,
        };
        QuantModel {
            config: QuantConfig::default(),
            values: vec![value("x", 1, 6), value("h", 1, 8), value("hr", 1, 8), value("y", 1, 8)],
            nodes: vec![
                dense("fc1", w, b, 3, 0, 1),
                QNode {
                    name: "relu".into(),
                    op: QOp::Relu,
                    inputs: vec![1],
                    output: 2,
                },
                dense("fc2", 1, 0, 0, 2, 3),
            ],
            output: 3,
            softmax_dropped: false,
        }
    }

    #[test]
    fn hidden_layers_get_windows_digits_and_a_stated_failure_probability() {
        let p = compile(&tiny(1, 0), crate::params::DEFAULT_PARAMS).unwrap();
        let rq = p.layers[0].requant.as_ref().unwrap();
        // x in [-32, 31] → round_shift(x, 3) in [-4, 4]: 4 signed bits.
        assert_eq!((rq.shift, rq.window_bits), (3, 4));
        assert_eq!(rq.digits.iter().map(|d| d.width).sum::<u32>(), 3);
        assert!(p.log2_p_fail_bootstraps < MAX_LOG2_P_FAIL_BOOTSTRAP, "{p:?}");
        assert!(p.pbs.is_some() && p.layers[1].requant.is_none());
        assert!(!rq.wide && rq.y_digits.is_empty());
        // Accumulators of a few bits and one small output weight: the fast key reads everything.
        assert_eq!((rq.digit_key, rq.window_key, rq.fast_bootstraps()), (BootstrapKey::Fast, BootstrapKey::Fast, rq.bootstraps), "{rq:?}");
        assert_eq!(p.cost(), u64::from(rq.bootstraps) * bootstrap_cost(1));
        // A window too wide for one bootstrap is read digit by digit under the ReLU.
        let p = compile(&tiny(64, 0), crate::params::DEFAULT_PARAMS).unwrap();
        let rq = p.layers[0].requant.as_ref().unwrap();
        assert!(rq.wide && rq.window_bits > 4, "{rq:?}");
        assert_eq!(rq.y_digits.iter().map(|d| d.width).sum::<u32>(), rq.window_bits - 1);
    }

    /// x (6 bits) → Dense [1; n] → `cmp c_j` on each value → Dense [1, 2, 4, …]: a tree's node tests
    /// on one feature, their answers summed as a bit pattern.
    pub(crate) fn thresholds(cmp: cipherproof_model::graph::compare::Comparison, c: Vec<i64>) -> QuantModel {
        let n = c.len();
        let mut m = tiny(1, 0);
        m.values = vec![value("x", 1, 6), value("h", n, 8), value("hr", n, 8), value("y", 1, 16)];
        m.nodes[0].op = QOp::Dense { weight: vec![1; n], weight_shape: [n, 1], bias: vec![0; n], weight_scale: 0, shift: 0 };
        m.nodes[1].op = QOp::CompareConst { cmp, c, c_shape: vec![n] };
        m.nodes[2].op = QOp::Dense { weight: (0..n).map(|j| 1 << j).collect(), weight_shape: [1, n], bias: vec![0], weight_scale: 0, shift: 0 };
        m
    }

    /// x (6 bits) → Dense [1] → `cmp c` → Dense [1], or without the last Dense.
    fn compared(cmp: cipherproof_model::graph::compare::Comparison, c: i64, last_dense: bool) -> QuantModel {
        let mut m = tiny(1, 0);
        m.nodes[0].op = QOp::Dense { weight: vec![1], weight_shape: [1, 1], bias: vec![0], weight_scale: 0, shift: 0 };
        m.nodes[1].op = QOp::CompareConst { cmp, c: vec![c], c_shape: vec![1] };
        if !last_dense {
            m.nodes.truncate(2);
            m.output = 2;
        }
        m
    }

    #[test]
    fn comparisons_become_table_lookups_and_unreadable_ones_are_refused() {
        use cipherproof_model::graph::compare::Comparison;
        // x < 3 over 6-bit x: x − 3 spans 7 bits, one digit is cleared before the sign is read.
        let p = compile(&compared(Comparison::Less, 3, true), crate::params::DEFAULT_PARAMS).unwrap();
        let rq = p.layers[0].requant.as_ref().unwrap();
        assert_eq!((rq.activation, rq.window_bits, rq.shift, rq.bootstraps), (Activation::Negative, 4, 3, 3), "{rq:?}");
        // x = 3 needs the whole 7-bit value in one window: refused, naming the layer and why.
        let e = compile(&compared(Comparison::Equal, 3, true), crate::params::DEFAULT_PARAMS).unwrap_err().to_string();
        assert!(e.contains("fc1") && e.contains("equality test"), "{e}");
        // A comparison must be followed by a Dense layer, whose accumulators the client decrypts.
        let e = compile(&compared(Comparison::Less, 3, false), crate::params::DEFAULT_PARAMS).unwrap_err().to_string();
        assert!(e.contains("needs a Dense layer after a comparison"), "{e}");
    }

    #[test]
    fn scores_swamped_by_bootstrap_noise_are_refused_naming_the_flag_that_fits() {
        // Every input of the last layer is a bootstrap's output, whose noise its weight multiplies.
        let mut m = tiny(1, 0);
        if let QOp::Dense { weight, .. } = &mut m.nodes[2].op {
            weight[0] = 1 << 20;
        }
        let e = compile(&m, crate::params::DEFAULT_PARAMS).unwrap_err();
        assert!(matches!(e, FheError::NoiseBudget(_)) && e.to_string().contains("--weight-bits"), "{e}");
    }

    #[test]
    fn an_existing_server_key_is_planned_for_with_its_own_decomposition() {
        // Wide windows need the accurate key; a key made with 3 levels (as before the choice
        // was per model) still serves, planned for its own decomposition.
        let m = tiny(9, -5);
        let old = compile_with(&m, crate::params::DEFAULT_PARAMS, &[(11, 3)]).unwrap();
        let (_, sk) = crate::keys::keygen(&old);
        let p = compile_for_key(&m, crate::params::DEFAULT_PARAMS, &sk).unwrap();
        assert_eq!(p, old);
        sk.check(&p).unwrap();
        // The per-sample bound holds for every accepted plan.
        assert!(p.log2_p_fail_bootstraps <= MAX_LOG2_P_FAIL_SAMPLE);
    }
}
