//! The integer witness of a quantized model for a batch of inputs on the GPU:
//! Dense, Conv, ReLU, pooling, table lookups and broadcast arithmetic as one
//! launch each over the whole batch ([`crate::launch`]), a ReLU that only a
//! Dense or Conv feeds fused into it, values kept on the device between ops;
//! the rarer ops (transposes, global pooling, leaky ReLU) per sample on the
//! host with the model crate's own reference. Results equal `IntegerRunner`
//! bit for bit, range checks included.

use crate::error::{CudaError, Result};
use crate::kernels::{self, compile};
use crate::launch::{Buf, Consts, Epilogue, Kernels, Launcher, Packed};
use crate::plan::{Plan, pack};
use crate::probe::{DeviceInfo, describe, open};
use cipherproof_model::exec::integer::{IntegerRunner, OpInput, check_range, eval_op};
use cipherproof_model::quant::fixed::signed_range;
use cipherproof_model::quant::model::{QNode, QOp, QuantModel};
use cudarc::driver::CudaContext;
use cudarc::driver::CudaStream;
use rayon::prelude::*;
use std::rc::Rc;
use std::sync::Arc;

/// The witness of a batch on the CPU: one [`IntegerRunner`] run per sample, in parallel.
pub fn cpu_batch(model: &QuantModel, inputs: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
    let runner = IntegerRunner::new(model)?;
    inputs
        .par_iter()
        .map(|x| runner.run(x).map_err(CudaError::from))
        .collect()
}

/// A model's constants on the device and its run plan ([`GpuWitness::upload`]).
#[derive(Debug)]
pub struct DeviceModel<'m> {
    model: &'m QuantModel,
    consts: Vec<Consts>,
    plan: Plan,
}

impl DeviceModel<'_> {
    /// Device bytes one sample of a batch needs at the peak of a run.
    pub fn peak_bytes_per_sample(&self) -> u64 {
        self.plan.peak_bytes_per_sample
    }
}

/// The share of the device memory free at a batch's start that the batch may
/// use, unless [`GpuWitness::set_memory_budget`] says otherwise.
const FREE_MEMORY_SHARE: (u64, u64) = (3, 4);

/// A device with the witness kernels loaded.
#[derive(Debug)]
pub struct GpuWitness {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    kernels: Kernels,
    info: DeviceInfo,
    /// Device bytes a batch may use; `None`: a share of what is free at its start.
    memory_budget: Option<u64>,
}

impl GpuWitness {
    /// Opens device `ordinal` and compiles the kernels for its compute capability.
    pub fn open(ordinal: usize) -> Result<Self> {
        let ctx = open(ordinal)?;
        // SAFETY: this context's buffers are only ever used on its default
        // stream, so cudarc's cross-stream event tracking (two events created
        // and destroyed per buffer) guards nothing here.
        #[allow(unsafe_code)]
        unsafe {
            ctx.disable_event_tracking();
        }
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
            widen_i16: module.load_function(kernels::WIDEN_I16)?,
            widen_i32: module.load_function(kernels::WIDEN_I32)?,
        };
        Ok(Self {
            stream: ctx.default_stream(),
            kernels,
            ctx,
            info,
            memory_budget: None,
        })
    }

    pub fn device(&self) -> &DeviceInfo {
        &self.info
    }

    /// Caps the device memory a batch's values may take (`None`: three
    /// quarters of what is free when the batch starts). A batch whose values do
    /// not fit runs in chunks of as many samples as do, one after another.
    pub fn set_memory_budget(&mut self, bytes: Option<u64>) {
        self.memory_budget = bytes;
    }

    /// Samples per chunk for `dm` within the memory budget.
    fn chunk_samples(&self, dm: &DeviceModel) -> Result<usize> {
        let budget = match self.memory_budget {
            Some(b) => b,
            None => {
                self.ctx.bind_to_thread()?;
                let free = cudarc::driver::result::mem_get_info()?.0 as u64;
                free / FREE_MEMORY_SHARE.1 * FREE_MEMORY_SHARE.0
            }
        };
        Ok(dm.plan.chunk_samples(budget))
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
        Ok(DeviceModel {
            model,
            consts,
            plan: Plan::of(model),
        })
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
    /// The batch goes up once (packed into 16 or 32 bits where the input's
    /// range allows) and its outputs come down once: every value stays on the
    /// device between ops (freed after its last reader), and range checks (and
    /// table indices) raise one device flag in the kernels that store the
    /// values. When the flag is up, the CPU reference reruns the batch for the
    /// exact error (the first failing sample's node and value). A batch larger
    /// than the memory budget allows runs in chunks, one after another.
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
        let Some(packed) = pack(inputs, signed_range(model.input().bits)) else {
            return Err(input_error(model, inputs));
        };
        let per_chunk = self.chunk_samples(dm)?;
        let mut outputs = Vec::with_capacity(batch);
        for start in (0..batch).step_by(per_chunk) {
            let samples = start..(start + per_chunk).min(batch);
            let packed_values = samples.start * numel..samples.end * numel;
            let out = self.run_chunk(dm, &packed, packed_values, &inputs[samples])?;
            outputs.extend(out);
        }
        Ok(outputs)
    }

    /// [`GpuWitness::run_uploaded`] on one chunk: `inputs`, packed in
    /// `packed[packed_values]`.
    fn run_chunk(
        &self,
        dm: &DeviceModel,
        packed: &Packed,
        packed_values: std::ops::Range<usize>,
        inputs: &[Vec<i64>],
    ) -> Result<Vec<Vec<i64>>> {
        let model = dm.model;
        let batch = inputs.len();
        let range_of = |v: usize| signed_range(model.values[v].bits);
        let s = &self.stream;
        let gpu = self.launcher();
        // values[v]: the batch's integers of value v, sample after sample, on the
        // device, until its last reader has run (a reshape shares its input's buffer).
        let mut values: Vec<Option<Rc<Buf>>> = (0..model.values.len()).map(|_| None).collect();
        values[0] = Some(Rc::new(gpu.inputs(packed, packed_values)?));
        let mut bad = s.alloc_zeros::<u32>(1)?;
        let mut i = 0;
        while let Some(node) = model.nodes.get(i) {
            let c = &dm.consts[i];
            let fused = dm.plan.fuses_relu[i].then(|| &model.nodes[i + 1]);
            // Where the result goes: the fused ReLU's output, else the node's.
            let target = fused.map_or(node.output, |relu| relu.output);
            let range = range_of(node.output);
            let epilogue = Epilogue {
                range,
                relu: fused.map(|relu| range_of(relu.output)),
            };
            let x = || operand(node, &values, 0);
            let out = match &node.op {
                QOp::Dense { .. } => {
                    Rc::new(gpu.dense(model, node, c, x()?, batch, epilogue, &mut bad)?)
                }
                QOp::Conv { .. } => {
                    Rc::new(gpu.conv(model, node, c, x()?, batch, epilogue, &mut bad)?)
                }
                QOp::Relu => Rc::new(gpu.relu(x()?, range, &mut bad)?),
                QOp::Reshape => {
                    let shared = Rc::clone(shared_operand(node, &values, 0)?);
                    // Already checked at its input's width; only a narrower output needs a check.
                    if model.values[node.output].bits < model.values[node.inputs[0]].bits {
                        gpu.range_check(&shared, range, &mut bad)?;
                    }
                    shared
                }
                QOp::MaxPool { .. } | QOp::AvgPool { .. } => {
                    Rc::new(gpu.pool(model, node, c, x()?, batch, range, &mut bad)?)
                }
                QOp::Lut { .. } => Rc::new(gpu.lut(node, c, x()?, range, &mut bad)?),
                QOp::Add { .. } | QOp::Sub { .. } | QOp::Mul { .. } => {
                    let y = operand(node, &values, 1)?;
                    let pair = (x()?, Some(y));
                    Rc::new(gpu.binary(model, node, c, pair, batch, range, &mut bad)?)
                }
                QOp::AddConst { .. } | QOp::MulConst { .. } => {
                    Rc::new(gpu.binary(model, node, c, (x()?, None), batch, range, &mut bad)?)
                }
                _ => {
                    let out = self.host_op(model, node, &values, batch)?;
                    gpu.range_check(&out, range, &mut bad)?;
                    Rc::new(out)
                }
            };
            store((model, &mut values), node, target, out, batch)?;
            let done = i + usize::from(fused.is_some());
            // What the plan frees after these nodes goes (the frees queue on the stream).
            for &v in dm.plan.frees[i..=done].iter().flatten() {
                values[v] = None;
            }
            i = done + 1;
        }
        let out = s.clone_dtoh(operand_value(&values, model.output, "the output")?.as_ref())?;
        if s.clone_dtoh(&bad)?[0] != 0 {
            return Err(first_error(model, inputs));
        }
        let per = model.output_info().numel();
        Ok(out.chunks(per.max(1)).map(<[i64]>::to_vec).collect())
    }

    /// An op without a kernel: its operands come down, each sample runs the
    /// model crate's reference (in parallel), the result goes back up.
    fn host_op(
        &self,
        m: &QuantModel,
        node: &QNode,
        values: &[Option<Rc<Buf>>],
        batch: usize,
    ) -> Result<Buf> {
        let mut host: Vec<Vec<i64>> = vec![Vec::new(); m.values.len()];
        for &v in &node.inputs {
            host[v] = self
                .stream
                .clone_dtoh(operand_value(values, v, &node.name)?.as_ref())?;
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

/// Keeps `out` as value `target` (written by `node`) after checking its length.
fn store(
    (model, values): (&QuantModel, &mut [Option<Rc<Buf>>]),
    node: &QNode,
    target: usize,
    out: Rc<Buf>,
    batch: usize,
) -> Result<()> {
    let per = model.values[target].numel();
    if out.len() != per * batch {
        return Err(CudaError::Invalid(format!(
            "{}: {} values for {batch} samples of {per}",
            node.name,
            out.len()
        )));
    }
    values[target] = Some(out);
    Ok(())
}

/// The error for a batch with an input outside the input's range: the first
/// such input's, as the CPU path words it.
fn input_error(model: &QuantModel, inputs: &[Vec<i64>]) -> CudaError {
    for (i, x) in inputs.iter().enumerate() {
        if let Err(e) = check_range(model, 0, x, &format!("input {i}")) {
            return e.into();
        }
    }
    CudaError::Invalid("an input lies outside the range the CPU reference accepts".into())
}

fn operand_value<'v>(
    values: &'v [Option<Rc<Buf>>],
    v: usize,
    node: &str,
) -> Result<&'v Rc<Buf>> {
    values
        .get(v)
        .and_then(Option::as_ref)
        .ok_or_else(|| CudaError::Invalid(format!("{node}: value {v} not computed")))
}

/// Operand `i` of `node`, as the buffer a reshape can share.
fn shared_operand<'v>(
    node: &QNode,
    values: &'v [Option<Rc<Buf>>],
    i: usize,
) -> Result<&'v Rc<Buf>> {
    let v = node
        .inputs
        .get(i)
        .ok_or_else(|| CudaError::Invalid(format!("{}: missing operand {i}", node.name)))?;
    operand_value(values, *v, &node.name)
}

fn operand<'v>(node: &QNode, values: &'v [Option<Rc<Buf>>], i: usize) -> Result<&'v Buf> {
    Ok(shared_operand(node, values, i)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_outside_its_range_is_named_as_the_cpu_path_names_it() {
        let m = crate::plan::tests::chain(false);
        let err = input_error(&m, &[vec![0; 4], vec![1 << 20, 0, 0, 0]]).to_string();
        assert!(err.contains("input 1"), "{err}");
    }
}
