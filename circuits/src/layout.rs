//! Lays a whole quantized model out in a `BaseCircuitBuilder` (plus the
//! activation-table lookups it queues for [`crate::circuit::ModelCircuit`]).

use crate::chips::elementwise::{Broadcast, add_sub, mul, with_constant};
use crate::chips::{Cells, Chip, activation, linear, pool, select, table};
use crate::dot::DotQueue;
use crate::error::{CircuitError, Result};
use crate::field::{Fr, fr_i64, i64_fr};
use crate::lut::{LutLookup, LutTables, gathers_by_lookup, table_columns};
use crate::visibility::{InputVisibility, input_instances};
use crate::{packing, public};
use cipherproof_model::graph::broadcast::transpose;
use cipherproof_model::quant::{QNode, QOp, QuantModel};
use halo2_base::AssignedValue;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;

/// The model's outputs as laid out: cells and their integers, and the public
/// instances (input's, then outputs') as copies in the public thread.
#[derive(Debug, Clone)]
pub struct ModelWitness {
    pub outputs: Vec<AssignedValue<Fr>>,
    /// The instance copies, row by row (see [`crate::public`]).
    pub public: Vec<AssignedValue<Fr>>,
    pub output_values: Vec<i64>,
    /// The instances the input contributes (before the outputs): none, the input, or its commitment.
    pub input_instances: Vec<Fr>,
}

/// The two operands of a binary node, with their shapes and the output shape.
fn operands<'c>(model: &'c QuantModel, node: &QNode, x: &'c Cells, y: &'c Cells) -> Broadcast<'c> {
    Broadcast {
        a: x,
        a_shape: &model.values[node.inputs[0]].shape,
        b: y,
        b_shape: &model.values[node.inputs[1]].shape,
        out_shape: &model.values[node.output].shape,
    }
}

/// Assigns the model on `input` (quantized integers) in a fresh builder (its
/// first thread holds the public instances, the second the model), queues its
/// table lookups in `lookups` (tables from `tables`) and, when `dots` is given,
/// its dense/conv sums as dot-product gate jobs; exposes the input's instances
/// and the outputs, packed ([`crate::packing`]), as instances
/// ([`crate::public`]), and returns them.
///
/// The layout depends only on the model, never on the input values, so the same
/// call with any input (e.g. zeros at keygen) yields the same circuit shape.
pub fn assign_model(
    builder: &mut BaseCircuitBuilder<Fr>,
    tables: &LutTables,
    lookups: &mut Vec<LutLookup>,
    dots: Option<DotQueue<'_>>,
    model: &QuantModel,
    input: &[i64],
    visibility: InputVisibility,
) -> Result<ModelWitness> {
    cipherproof_model::quant::check_selection_ops(model)?;
    let expected = model.input().numel();
    if input.len() != expected {
        return Err(CircuitError::InputLength {
            expected,
            got: input.len(),
        });
    }
    public::reserve(builder)?;
    let range = builder.range_chip();
    let ctx = builder.new_thread(0);
    let mut chip = Chip {
        ctx,
        range: &range,
        dots,
    };
    let mut values: Vec<Option<Cells>> = vec![None; model.values.len()];
    let in_bits = model.input().bits;
    let x: Cells = input
        .iter()
        .map(|&v| chip.load_signed(fr_i64(v), in_bits))
        .collect();
    let input_cells = input_instances(&mut chip, &x, visibility);
    values[0] = Some(x);
    for node in &model.nodes {
        let get = |i: usize| -> Cells { values[node.inputs[i]].clone().unwrap_or_default() };
        let x = get(0);
        let x_info = &model.values[node.inputs[0]];
        let out_info = &model.values[node.output];
        let (xs, os) = (&x_info.shape, &out_info.shape);
        let (bits_in, bits) = (x_info.bits, out_info.bits);
        let c = &mut chip;
        let out = match &node.op {
            QOp::Dense {
                weight,
                weight_shape,
                bias,
                shift,
                ..
            } => linear::dense(c, &x, weight, *weight_shape, bias, *shift, bits_in, bits),
            QOp::Conv {
                weight,
                weight_shape,
                bias,
                window,
                shift,
                ..
            } => {
                let chw = [xs[1], xs[2], xs[3]];
                let mut out = Vec::new();
                for image in x.chunks(chw.iter().product()) {
                    let image = image.to_vec();
                    out.extend(linear::conv(
                        c,
                        &image,
                        chw,
                        weight,
                        weight_shape[0],
                        bias,
                        window,
                        [os[2], os[3]],
                        *shift,
                        bits_in,
                        bits,
                    ));
                }
                out
            }
            QOp::MaxPool { window } => pool::max_pool(c, &x, xs, window, [os[2], os[3]], bits_in),
            QOp::AvgPool {
                window,
                count_include_pad,
            } => pool::avg_pool(
                c,
                &x,
                xs,
                window,
                [os[2], os[3]],
                *count_include_pad,
                bits_in,
            ),
            QOp::GlobalAvgPool => pool::global_avg_pool(c, &x, xs, bits_in),
            QOp::Add { align, shift } | QOp::Sub { align, shift } => {
                let y = get(1);
                let subtract = matches!(node.op, QOp::Sub { .. });
                add_sub(
                    c,
                    &operands(model, node, &x, &y),
                    *align,
                    subtract,
                    *shift,
                    bits,
                )
            }
            QOp::Mul { shift } => {
                let y = get(1);
                mul(c, &operands(model, node, &x, &y), *shift, bits)
            }
            QOp::AddConst {
                c: k,
                c_shape,
                shift,
            } => with_constant(c, &x, xs, k, c_shape, false, *shift, bits),
            QOp::MulConst {
                c: k,
                c_shape,
                shift,
                ..
            } => with_constant(c, &x, xs, k, c_shape, true, *shift, bits),
            QOp::Relu => activation::relu(c, &x, bits_in),
            QOp::LeakyRelu { alpha, alpha_scale } => {
                activation::leaky_relu(c, &x, *alpha, *alpha_scale, bits_in)
            }
            QOp::Reshape => x,
            QOp::Transpose { perm } => transpose(&x, xs, perm),
            QOp::Compare { cmp, align } => {
                let y = get(1);
                let y_info = &model.values[node.inputs[1]];
                let span = (bits_in + align[0]).max(y_info.bits + align[1]);
                let ops = select::Operands {
                    a: &x,
                    a_shape: xs,
                    b: select::Side::Cells(&y),
                    b_shape: &y_info.shape,
                    out_shape: os,
                };
                select::compare(c, &ops, *cmp, *align, span)
            }
            QOp::CompareConst {
                cmp,
                c: k,
                c_shape,
            } => {
                let ops = select::Operands {
                    a: &x,
                    a_shape: xs,
                    b: select::Side::Constants(k),
                    b_shape: c_shape,
                    out_shape: os,
                };
                select::compare(c, &ops, *cmp, [0, 0], bits_in)
            }
            QOp::ArgMax => select::argmax(c, &x, xs.last().copied().unwrap_or(1), bits_in),
            QOp::GatherConst {
                table,
                rows,
                index_shift,
            } if gathers_by_lookup(*rows) => {
                let tags = table_columns(table, *rows)
                    .iter()
                    .map(|col| tables.tag_of(0, col))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| CircuitError::UnsupportedOp {
                        op: "GatherConst (table not collected)".into(),
                        node: node.name.clone(),
                    })?;
                select::gather_const_by_lookup(c, lookups, &tags, &x, table, *rows, *index_shift)
            }
            QOp::GatherConst {
                table,
                rows,
                index_shift,
            } => select::gather_const(c, &x, table, *rows, *index_shift),
            QOp::GatherElements { axis, index_shift } => {
                let idx = get(1);
                let idx_shape = &model.values[node.inputs[1]].shape;
                select::gather_elements(c, &x, xs, &idx, idx_shape, *axis, *index_shift)
                    .ok_or_else(|| CircuitError::InvalidModel {
                        node: node.name.clone(),
                        reason: "an index position outside the data".into(),
                    })?
            }
            QOp::Concat { axis, shifts } => {
                let cells: Vec<Cells> = (0..node.inputs.len()).map(get).collect();
                let parts: Vec<select::Part> = (node.inputs.iter().zip(&cells))
                    .map(|(&v, cells)| select::Part {
                        cells,
                        shape: &model.values[v].shape,
                        bits: model.values[v].bits,
                    })
                    .collect();
                select::concat(c, &parts, *axis, shifts, bits).ok_or_else(|| {
                    CircuitError::InvalidModel {
                        node: node.name.clone(),
                        reason: "a concatenated value outside its input".into(),
                    }
                })?
            }
            QOp::Pick { map } => {
                select::pick(&x, map).ok_or_else(|| CircuitError::InvalidModel {
                    node: node.name.clone(),
                    reason: format!("a pick past the input's {} values", x.len()),
                })?
            }
            QOp::Lut {
                in_shift,
                offset,
                table: values,
                ..
            } => {
                let tag =
                    tables
                        .tag_of(*offset, values)
                        .ok_or_else(|| CircuitError::UnsupportedOp {
                            op: format!("{} (table not collected)", node.op.kind()),
                            node: node.name.clone(),
                        })?;
                table::lookup(c, lookups, tag, &x, *in_shift, *offset, values, bits_in)
            }
        };
        values[node.output] = Some(out);
    }
    let outputs = values[model.output].clone().unwrap_or_default();
    let packed = packing::pack_cells(&mut chip, &outputs, model.values[model.output].bits);
    let output_values = outputs
        .iter()
        .map(|c| i64_fr(c.value()).unwrap_or(i64::MAX))
        .collect();
    let input_values = input_cells.iter().map(|c| *c.value()).collect();
    let exposed: Vec<_> = input_cells.iter().chain(&packed).copied().collect();
    let public = public::expose(builder, &exposed);
    Ok(ModelWitness {
        outputs,
        public,
        output_values,
        input_instances: input_values,
    })
}
