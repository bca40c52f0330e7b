//! The integer witness of a quantized model for a batch of inputs on the GPU:
//! Dense, Conv, ReLU, pooling, table lookups and broadcast arithmetic as one
//! launch each over the whole batch ([`crate::launch`]), values kept on the
//! device between ops; the rarer ops (transposes, global pooling, leaky ReLU)
//! per sample on the host with the model crate's own reference. Results equal `IntegerRunner` bit for bit,
//! range checks included.

use crate::error::{CudaError, Result};
use crate::kernels::{self, compile};
use crate::launch::{Buf, Consts, Kernels, Launcher};
use crate::probe::{DeviceInfo, describe, open};
use cipherproof_model::exec::integer::{IntegerRunner, OpInput, check_range, eval_op};
use cipherproof_model::quant::fixed::signed_range;
use cipherproof_model::quant::model::{QNode, QOp, QuantModel};
use cudarc::driver::CudaContext;
use cudarc::driver::CudaStream;
use rayon::prelude::*;
use std::sync::Arc;

/// The witness of a batch on the CPU: one [`IntegerRunner`] run per sample, in parallel.
pub fn cpu_batch(model: &QuantModel, inputs: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
    let runner = IntegerRunner::new(model)?;
    inputs
        .par_iter()
        .map(|x| runner.run(x).map_err(CudaError::from))
        .collect()
}

/// A model's constants on the device ([`GpuWitness::upload`]).
#[derive(Debug)]
pub struct DeviceModel<'m> {
    model: &'m QuantModel,
    consts: Vec<Consts>,
}

/// A device with the witness kernels loaded.
#[derive(Debug)]
pub struct GpuWitness {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    kernels: Kernels,
    info: DeviceInfo,
}

impl GpuWitness {
    /// Opens device `ordinal` and compiles the kernels for its compute capability.
    pub fn open(ordinal: usize) -> Result<Self> {
        let ctx = open(ordinal)?;
        let info = describe(&ctx)?;
        let (major, minor) = info.compute_capability;
        let module = ctx.load_module(compile(major, minor)?)?;
        let kernels = Kernels {
            dense: module.load_function(kernels::DENSE)?,
            conv: module.load_function(kernels::CONV2D)?,
            relu: module.load_function(kernels::RELU)?,
            pool: module.load_function(kernels::POOL)?,
            lut: module.load_function(kernels::LUT)?,
            range_check: module.load_function(kernels::RANGE_CHECK)?,
            binary: module.load_function(kernels::BINARY)?,
        };
        Ok(Self {
            stream: ctx.default_stream(),
            kernels,
            ctx,
            info,
        })
    }

    pub fn device(&self) -> &DeviceInfo {
        &self.info
    }

    /// Uploads a model's constants (weights, biases, tables, window geometry)
    /// once, for [`GpuWitness::run_uploaded`] on many batches.
    pub fn upload<'m>(&self, model: &'m QuantModel) -> Result<DeviceModel<'m>> {
        let gpu = self.launcher();
        let consts = model
            .nodes
            .iter()
            .map(|node| gpu.upload(model, node))
            .collect::<Result<_>>()?;
        Ok(DeviceModel { model, consts })
    }

    fn launcher(&self) -> Launcher<'_> {
        Launcher {
            stream: self.stream.clone(),
            k: &self.kernels,
        }
    }

    /// The model output for every input (each a quantized input of the model's
    /// shape): [`GpuWitness::upload`], then [`GpuWitness::run_uploaded`].
    pub fn run_batch(&self, model: &QuantModel, inputs: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
        self.run_uploaded(&self.upload(model)?, inputs)
    }

    /// The model output for every input, the model's constants already on the device.
    ///
    /// The batch goes up once and its outputs come down once: every value stays
    /// on the device between ops, and range checks (and table indices) raise one
    /// device flag. When the flag is up, the CPU reference reruns the batch for
    /// the exact error (the first failing sample's node and value).
    pub fn run_uploaded(&self, dm: &DeviceModel, inputs: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
        let model = dm.model;
        let batch = inputs.len();
        if batch == 0 {
            return Ok(Vec::new());
        }
        let numel = model.input().numel();
        if let Some((i, x)) = inputs.iter().enumerate().find(|(_, x)| x.len() != numel) {
            return Err(CudaError::Invalid(format!(
                "input {i} has {} values; the model takes {numel}",
                x.len()
            )));
        }
        for (i, x) in inputs.iter().enumerate() {
            check_range(model, 0, x, &format!("input {i}"))?;
        }
        let s = &self.stream;
        let gpu = self.launcher();
        // values[v]: the batch's integers of value v, sample after sample, on the device.
        let mut values: Vec<Option<Buf>> = (0..model.values.len()).map(|_| None).collect();
        values[0] = Some(s.clone_htod(&inputs.concat())?);
        let mut bad = s.alloc_zeros::<u32>(1)?;
        for (node, c) in model.nodes.iter().zip(&dm.consts) {
            let x = || operand(node, &values, 0);
            let out = match &node.op {
                QOp::Dense { .. } => gpu.dense(model, node, c, x()?, batch)?,
                QOp::Conv { .. } => gpu.conv(model, node, c, x()?, batch)?,
                QOp::Relu => gpu.relu(x()?)?,
                QOp::Reshape => s.clone_dtod(x()?)?,
                QOp::MaxPool { .. } | QOp::AvgPool { .. } => {
                    gpu.pool(model, node, c, x()?, batch)?
                }
                QOp::Lut { .. } => gpu.lut(node, c, x()?, &mut bad)?,
                QOp::Add { .. } | QOp::Sub { .. } | QOp::Mul { .. } => {
                    let y = operand(node, &values, 1)?;
                    gpu.binary(model, node, c, x()?, Some(y), batch)?
                }
                QOp::AddConst { .. } | QOp::MulConst { .. } => {
                    gpu.binary(model, node, c, x()?, None, batch)?
                }
                _ => self.host_op(model, node, &values, batch)?,
            };
            let per = model.values[node.output].numel();
            if out.len() != per * batch {
                return Err(CudaError::Invalid(format!(
                    "{}: {} values for {batch} samples of {per}",
                    node.name,
                    out.len()
                )));
            }
            gpu.range_check(&out, signed_range(model.values[node.output].bits), &mut bad)?;
            values[node.output] = Some(out);
        }
        if s.clone_dtoh(&bad)?[0] != 0 {
            return Err(first_error(model, inputs));
        }
        let out = s.clone_dtoh(operand_value(&values, model.output, "the output")?)?;
        let per = model.output_info().numel();
        Ok(out.chunks(per.max(1)).map(<[i64]>::to_vec).collect())
    }

    /// An op without a kernel: its operands come down, each sample runs the
    /// model crate's reference (in parallel), the result goes back up.
    fn host_op(
        &self,
        m: &QuantModel,
        node: &QNode,
        values: &[Option<Buf>],
        batch: usize,
    ) -> Result<Buf> {
        let mut host: Vec<Vec<i64>> = vec![Vec::new(); m.values.len()];
        for &v in &node.inputs {
            host[v] = self
                .stream
                .clone_dtoh(operand_value(values, v, &node.name)?)?;
        }
        let out = host_op(m, node, &host, batch)?;
        Ok(self.stream.clone_htod(&out)?)
    }

    /// The bytes the device reports free now (buffers are freed when dropped),
    /// for leak checks across many batches.
    pub fn free_memory(&self) -> Result<u64> {
        self.ctx.bind_to_thread()?;
        // Frees of dropped buffers are queued on the stream: let them land first.
        self.stream.synchronize()?;
        Ok(cudarc::driver::result::mem_get_info()?.0 as u64)
    }
}

/// The error the CPU reference gives for the first failing sample.
fn first_error(model: &QuantModel, inputs: &[Vec<i64>]) -> CudaError {
    let runner = match IntegerRunner::new(model) {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    for x in inputs {
        if let Err(e) = runner.run(x) {
            return e.into();
        }
    }
    CudaError::Invalid("the GPU flagged a value out of range that the CPU reference accepts".into())
}

fn operand_value<'v>(values: &'v [Option<Buf>], v: usize, node: &str) -> Result<&'v Buf> {
    values
        .get(v)
        .and_then(Option::as_ref)
        .ok_or_else(|| CudaError::Invalid(format!("{node}: value {v} not computed")))
}

fn operand<'v>(node: &QNode, values: &'v [Option<Buf>], i: usize) -> Result<&'v Buf> {
    let v = node
        .inputs
        .get(i)
        .ok_or_else(|| CudaError::Invalid(format!("{}: missing operand {i}", node.name)))?;
    operand_value(values, *v, &node.name)
}

/// A cheap op per sample with the model crate's reference, the samples in parallel.
fn host_op(m: &QuantModel, node: &QNode, values: &[Vec<i64>], batch: usize) -> Result<Vec<i64>> {
    let out_shape = &m.values[node.output].shape;
    let per_sample = |b: usize| -> Result<Vec<i64>> {
        let inputs: Vec<OpInput> = node
            .inputs
            .iter()
            .map(|&v| {
                let info = &m.values[v];
                let n = info.numel();
                let data = values
                    .get(v)
                    .and_then(|all| all.get(b * n..(b + 1) * n))
                    .ok_or_else(|| {
                        CudaError::Invalid(format!("{}: operand {v} not computed", node.name))
                    })?;
                Ok(OpInput {
                    data,
                    shape: &info.shape,
                    scale: info.scale,
                })
            })
            .collect::<Result<_>>()?;
        Ok(eval_op(&node.name, &node.op, &inputs, out_shape)?)
    };
    let parts: Vec<Vec<i64>> = (0..batch)
        .into_par_iter()
        .map(per_sample)
        .collect::<Result<_>>()?;
    Ok(parts.concat())
}
