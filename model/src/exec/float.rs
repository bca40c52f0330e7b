//! Float reference on candle-core (f32, CPU): what onnxruntime computes, within
//! float rounding. Weights are turned into candle tensors once per runner.

use super::window::{im2col, plane_sums, reduce_windows};
use crate::error::{ModelError, Result};
use crate::graph::compare::Comparison;
use crate::graph::constant::Weights;
use crate::graph::{Graph, Node, Op};
use candle_core::{D, Device, Tensor};

/// A float executor for one graph.
#[derive(Debug)]
pub struct FloatRunner<'g> {
    graph: &'g Graph,
    /// Per node: weight (and bias) tensors, prepared once.
    prepared: Vec<Vec<Tensor>>,
}

fn exec_err(node: &Node) -> impl Fn(candle_core::Error) -> ModelError + '_ {
    move |source| ModelError::Execution {
        node: node.name.clone(),
        source,
    }
}

fn tensor(w: &Weights) -> candle_core::Result<Tensor> {
    Tensor::from_vec(w.data.clone(), w.shape.as_slice(), &Device::Cpu)
}

impl<'g> FloatRunner<'g> {
    pub fn new(graph: &'g Graph) -> Result<Self> {
        let prepared = graph
            .nodes
            .iter()
            .map(|node| {
                let dev = &Device::Cpu;
                let p = match &node.op {
                    Op::Dense { weight, bias } => vec![
                        tensor(weight)?.t()?.contiguous()?,
                        Tensor::new(bias.as_slice(), dev)?,
                    ],
                    Op::Conv { weight, bias, .. } => {
                        let co = weight.shape[0];
                        let k = weight.data.len() / co;
                        vec![
                            Tensor::from_vec(weight.data.clone(), (co, k), dev)?,
                            Tensor::from_vec(bias.clone(), (co, 1), dev)?,
                        ]
                    }
                    Op::AddConst { c } | Op::MulConst { c } => vec![tensor(c)?],
                    Op::CompareConst { c, c_shape, .. } => {
                        vec![Tensor::from_vec(c.clone(), c_shape.as_slice(), dev)?]
                    }
                    _ => vec![],
                };
                Ok(p)
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(|source| ModelError::Execution {
                node: "weights".into(),
                source,
            })?;
        Ok(Self { graph, prepared })
    }

    /// Every value of the graph (indexed by value id) for one flat input.
    pub fn run_all(&self, input: &[f32]) -> Result<Vec<Vec<f32>>> {
        super::validate_input(self.graph.input(), 0, input)?;
        let mut values: Vec<Option<Tensor>> = vec![None; self.graph.values.len()];
        let shape = self.graph.input().shape.as_slice();
        values[0] = Some(
            Tensor::from_vec(input.to_vec(), shape, &Device::Cpu).map_err(|source| {
                ModelError::Execution {
                    node: "input".into(),
                    source,
                }
            })?,
        );
        for (node, prepared) in self.graph.nodes.iter().zip(&self.prepared) {
            let args = node
                .inputs
                .iter()
                .map(|&v| {
                    values[v].clone().ok_or_else(|| {
                        ModelError::invalid(&node.name, "input computed out of order")
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let out_shape = &self.graph.values[node.output].shape;
            let t = self
                .eval(node, &args, prepared, out_shape)
                .map_err(exec_err(node))?;
            values[node.output] = Some(t);
        }
        values
            .into_iter()
            .map(|t| match t {
                Some(t) => t
                    .flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(|source| ModelError::Execution {
                        node: "output".into(),
                        source,
                    }),
                None => Ok(Vec::new()),
            })
            .collect()
    }

    /// The graph output for one flat input.
    pub fn run(&self, input: &[f32]) -> Result<Vec<f32>> {
        Ok(self.run_all(input)?.swap_remove(self.graph.output))
    }

    fn eval(
        &self,
        node: &Node,
        args: &[Tensor],
        prepared: &[Tensor],
        out_shape: &[usize],
    ) -> candle_core::Result<Tensor> {
        let x = &args[0];
        match &node.op {
            Op::Dense { .. } => {
                let k = x.dim(D::Minus1)?;
                let rows = x.elem_count() / k;
                x.reshape((rows, k))?
                    .matmul(&prepared[0])?
                    .broadcast_add(&prepared[1])?
                    .reshape(out_shape)
            }
            Op::Conv { window, .. } => {
                let dims = x.dims().to_vec();
                let data = x.flatten_all()?.to_vec1::<f32>()?;
                let chw = [dims[1], dims[2], dims[3]];
                let per_image: usize = chw.iter().product();
                let images = data
                    .chunks(per_image)
                    .map(|img| {
                        let cols = im2col(img, chw, window, [out_shape[2], out_shape[3]]);
                        let cols = Tensor::from_vec(
                            cols,
                            (prepared[0].dim(1)?, out_shape[2] * out_shape[3]),
                            &Device::Cpu,
                        )?;
                        prepared[0].matmul(&cols)?.broadcast_add(&prepared[1])
                    })
                    .collect::<candle_core::Result<Vec<_>>>()?;
                Tensor::stack(&images, 0)?.reshape(out_shape)
            }
            Op::MaxPool { window } => self.windowed(x, out_shape, |d| {
                reduce_windows(d, x.dims(), window, [out_shape[2], out_shape[3]], |taps| {
                    taps.iter()
                        .flatten()
                        .fold(f32::NEG_INFINITY, |m, &v| m.max(v))
                })
            }),
            Op::AvgPool {
                window,
                count_include_pad,
            } => self.windowed(x, out_shape, |d| {
                reduce_windows(d, x.dims(), window, [out_shape[2], out_shape[3]], |taps| {
                    let n = if *count_include_pad {
                        taps.len()
                    } else {
                        taps.iter().flatten().count()
                    };
                    taps.iter().flatten().sum::<f32>() / n as f32
                })
            }),
            Op::GlobalAvgPool => {
                let hw = (x.dim(2)? * x.dim(3)?) as f32;
                self.windowed(x, out_shape, |d| {
                    plane_sums(d, x.dims())
                        .into_iter()
                        .map(|s| s / hw)
                        .collect()
                })
            }
            Op::Add => x.broadcast_add(&args[1]),
            Op::Sub => x.broadcast_sub(&args[1]),
            Op::Mul => x.broadcast_mul(&args[1]),
            Op::AddConst { .. } => x.broadcast_add(&prepared[0]),
            Op::MulConst { .. } => x.broadcast_mul(&prepared[0]),
            Op::Relu => x.relu(),
            Op::LeakyRelu { alpha } => {
                let neg = x.neg()?.relu()?.affine(f64::from(*alpha), 0.0)?;
                x.relu()? - neg
            }
            Op::Sigmoid => (x.neg()?.exp()? + 1.0)?.recip(),
            Op::Tanh => x.tanh(),
            Op::Reshape => x.reshape(out_shape),
            Op::Transpose { perm } => x.permute(perm.as_slice())?.contiguous(),
            Op::Softmax => {
                let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?.exp()?;
                shifted.broadcast_div(&shifted.sum_keepdim(D::Minus1)?)
            }
            Op::Compare { cmp } => compare(x, &args[1], *cmp),
            Op::CompareConst { cmp, .. } => {
                compare(&x.to_dtype(candle_core::DType::F64)?, &prepared[0], *cmp)
            }
            Op::ArgMax => {
                let last = x.dims().last().copied().unwrap_or(1).max(1);
                self.windowed(x, out_shape, |d| {
                    d.chunks(last)
                        .map(|row| super::integer::first_max(row) as f32)
                        .collect()
                })
            }
            Op::GatherConst { table } => {
                let rows = table.shape.first().copied().unwrap_or(0);
                let width = table.data.len() / rows.max(1);
                let data = x.flatten_all()?.to_vec1::<f32>()?;
                let mut out = Vec::with_capacity(data.len() * width);
                for &i in &data {
                    let Some(r) = float_index(i, rows) else {
                        candle_core::bail!("index {i} is not a row of the {rows}-row table");
                    };
                    out.extend_from_slice(&table.data[r * width..(r + 1) * width]);
                }
                Tensor::from_vec(out, out_shape, &Device::Cpu)
            }
            Op::GatherElements { axis } => {
                let data = x.flatten_all()?.to_vec1::<f32>()?;
                let idx = args[1].flatten_all()?.to_vec1::<f32>()?;
                let dim = x.dims().get(*axis).copied().unwrap_or(0);
                let (bases, stride) =
                    crate::graph::broadcast::element_bases(x.dims(), args[1].dims(), *axis);
                let mut out = Vec::with_capacity(idx.len());
                for (&base, &i) in bases.iter().zip(&idx) {
                    let Some(i) = float_index(i, dim) else {
                        candle_core::bail!("index {i} is not within the axis of {dim}");
                    };
                    match data.get(base + i * stride) {
                        Some(&v) => out.push(v),
                        None => candle_core::bail!("an index position outside the data"),
                    }
                }
                Tensor::from_vec(out, out_shape, &Device::Cpu)
            }
            Op::Pick { map } => {
                let idx: Vec<u32> = map.iter().map(|&i| i as u32).collect();
                let idx = Tensor::new(idx.as_slice(), &Device::Cpu)?;
                x.flatten_all()?.index_select(&idx, 0)?.reshape(out_shape)
            }
            Op::Concat { axis } => Tensor::cat(args, *axis)?.reshape(out_shape),
        }
    }

    /// Runs a plain-Rust computation on the tensor's data.
    fn windowed(
        &self,
        x: &Tensor,
        out_shape: &[usize],
        f: impl FnOnce(&[f32]) -> Vec<f32>,
    ) -> candle_core::Result<Tensor> {
        let data = x.flatten_all()?.to_vec1::<f32>()?;
        Tensor::from_vec(f(&data), out_shape, &Device::Cpu)
    }
}

/// `a cmp b` (broadcasting) as 1.0 or 0.0.
fn compare(a: &Tensor, b: &Tensor, cmp: Comparison) -> candle_core::Result<Tensor> {
    let t = match cmp {
        Comparison::Less => a.broadcast_lt(b),
        Comparison::LessOrEqual => a.broadcast_le(b),
        Comparison::Greater => a.broadcast_gt(b),
        Comparison::GreaterOrEqual => a.broadcast_ge(b),
        Comparison::Equal => a.broadcast_eq(b),
    }?;
    t.to_dtype(candle_core::DType::F32)
}

/// A float holding an index below `n`, as that index (`None` for a fraction, a negative
/// number or one past the end).
fn float_index(i: f32, n: usize) -> Option<usize> {
    (i.fract() == 0.0 && i >= 0.0 && (i as usize) < n).then_some(i as usize)
}
