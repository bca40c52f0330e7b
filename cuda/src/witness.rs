//! The integer witness of a quantized model for a batch of inputs: every
//! Dense and Conv layer as one kernel launch over the whole batch on the GPU,
//! ReLU and reshapes over the whole batch on the host, the other cheap ops
//! (tables, pooling, element-wise) per sample with the model crate's own reference. Results equal `IntegerRunner` bit for bit,
//! range checks included.

use crate::error::{CudaError, Result};
use crate::kernels::{CONV2D, DENSE, compile};
use crate::probe::{DeviceInfo, describe, open};
use cipherproof_model::exec::integer::{IntegerRunner, OpInput, check_range, eval_op};
use cipherproof_model::quant::model::{QNode, QOp, QuantModel};
use cudarc::driver::{CudaContext, CudaFunction, CudaStream, LaunchConfig, PushKernelArg};
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

/// A device with the witness kernels loaded.
#[derive(Debug)]
pub struct GpuWitness {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    dense: CudaFunction,
    conv: CudaFunction,
    info: DeviceInfo,
}

const BLOCK: u32 = 256;

fn launch_config(threads: usize) -> Result<LaunchConfig> {
    let blocks = u32::try_from(threads.div_ceil(BLOCK as usize))
        .map_err(|_| CudaError::Invalid(format!("{threads} threads is too large a launch")))?;
    Ok(LaunchConfig {
        grid_dim: (blocks.max(1), 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    })
}

fn u32_of(what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| CudaError::Invalid(format!("{what} = {v} does not fit 32 bits")))
}

impl GpuWitness {
    /// Opens device `ordinal` and compiles the kernels for its compute capability.
    pub fn open(ordinal: usize) -> Result<Self> {
        let ctx = open(ordinal)?;
        let info = describe(&ctx)?;
        let (major, minor) = info.compute_capability;
        let module = ctx.load_module(compile(major, minor)?)?;
        Ok(Self {
            stream: ctx.default_stream(),
            dense: module.load_function(DENSE)?,
            conv: module.load_function(CONV2D)?,
            ctx,
            info,
        })
    }

    pub fn device(&self) -> &DeviceInfo {
        &self.info
    }

    /// The model output for every input (each a quantized input of the model's shape).
    pub fn run_batch(&self, model: &QuantModel, inputs: &[Vec<i64>]) -> Result<Vec<Vec<i64>>> {
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
        // values[v]: the batch's integers of value v, sample after sample.
        let mut values: Vec<Vec<i64>> = vec![Vec::new(); model.values.len()];
        for (i, x) in inputs.iter().enumerate() {
            check_range(model, 0, x, &format!("input {i}"))?;
        }
        values[0] = inputs.concat();
        for node in &model.nodes {
            let out = match &node.op {
                QOp::Dense { .. } => self.dense(model, node, &values, batch)?,
                QOp::Conv { .. } => self.conv(model, node, &values, batch)?,
                // Element-wise and layout-only ops need no per-sample shapes: the whole batch at once.
                QOp::Relu => operand(node, &values, 0)?
                    .iter()
                    .map(|&v| v.max(0))
                    .collect(),
                QOp::Reshape => operand(node, &values, 0)?.to_vec(),
                _ => host_op(model, node, &values, batch)?,
            };
            let per = model.values[node.output].numel();
            if out.len() != per * batch {
                return Err(CudaError::Invalid(format!(
                    "{}: {} values for {batch} samples of {per}",
                    node.name,
                    out.len()
                )));
            }
            for sample in out.chunks(per.max(1)) {
                check_range(model, node.output, sample, &node.name)?;
            }
            values[node.output] = out;
        }
        let per = model.output_info().numel();
        let out = std::mem::take(&mut values[model.output]);
        Ok(out.chunks(per.max(1)).map(<[i64]>::to_vec).collect())
    }

    fn dense(
        &self,
        m: &QuantModel,
        node: &QNode,
        values: &[Vec<i64>],
        batch: usize,
    ) -> Result<Vec<i64>> {
        let QOp::Dense {
            weight,
            weight_shape: [o, i],
            bias,
            shift,
            ..
        } = &node.op
        else {
            return Err(CudaError::Invalid(format!("{} is not Dense", node.name)));
        };
        let x = operand(node, values, 0)?;
        let per_sample = m.values[node.inputs[0]].numel();
        // Checked here because a kernel reading past a buffer poisons the whole context.
        if *i == 0
            || !per_sample.is_multiple_of(*i)
            || weight.len() != o * i
            || bias.len() != *o
            || x.len() != per_sample * batch
        {
            return Err(CudaError::Invalid(format!(
                "{}: Dense weight {o}x{i} ({} values), bias {}, input {} values per sample",
                node.name,
                weight.len(),
                bias.len(),
                per_sample
            )));
        }
        check_shift(node, *shift)?;
        let rows = (per_sample / i) * batch;
        let s = &self.stream;
        let (xd, wd, bd) = (s.clone_htod(x)?, s.clone_htod(weight)?, s.clone_htod(bias)?);
        let mut out = s.alloc_zeros::<i64>(rows * o)?;
        let (rows32, in32, out32) = (u32_of("rows", rows)?, u32_of("in", *i)?, u32_of("out", *o)?);
        let mut launch = s.launch_builder(&self.dense);
        launch.arg(&xd).arg(&wd).arg(&bd).arg(&mut out);
        launch.arg(&rows32).arg(&in32).arg(&out32).arg(shift);
        // SAFETY: the argument list matches `dense_i64`'s signature; the buffers
        // hold rows·in, out·in, out and rows·out i64s as the kernel indexes them.
        #[allow(unsafe_code)]
        unsafe {
            launch.launch(launch_config(rows * o)?)?;
        }
        Ok(s.clone_dtoh(&out)?)
    }

    fn conv(
        &self,
        m: &QuantModel,
        node: &QNode,
        values: &[Vec<i64>],
        batch: usize,
    ) -> Result<Vec<i64>> {
        let QOp::Conv {
            weight,
            weight_shape,
            bias,
            window,
            shift,
            ..
        } = &node.op
        else {
            return Err(CudaError::Invalid(format!("{} is not Conv", node.name)));
        };
        let x = operand(node, values, 0)?;
        let xs = &m.values[node.inputs[0]].shape;
        let os = &m.values[node.output].shape;
        if xs.len() != 4 || os.len() != 4 {
            return Err(CudaError::Invalid(format!(
                "{}: Conv needs NCHW shapes",
                node.name
            )));
        }
        let kernel = [weight_shape[2], weight_shape[3]];
        let per_image = xs[1] * xs[2] * xs[3];
        if weight_shape[1] != xs[1]
            || weight_shape[0] != os[1]
            || kernel != window.kernel
            || weight.len() != weight_shape.iter().product::<usize>()
            || bias.len() != os[1]
            || x.len() != xs[0] * per_image * batch
            || os[0] != xs[0]
            || xs[2] * xs[3] >= 1 << 31
        {
            return Err(CudaError::Invalid(format!(
                "{}: Conv weight {weight_shape:?} ({} values), bias {}, kernel {:?}, input {xs:?}, output {os:?} do not agree",
                node.name,
                weight.len(),
                bias.len(),
                window.kernel
            )));
        }
        check_shift(node, *shift)?;
        let images = xs[0] * batch;
        let geo: Vec<u32> = [
            xs[1],
            xs[2],
            xs[3],
            os[1],
            os[2],
            os[3],
            weight_shape[2],
            weight_shape[3],
            window.strides[0],
            window.strides[1],
            window.pads[0],
            window.pads[1],
            window.dilations[0],
            window.dilations[1],
        ]
        .iter()
        .map(|&v| {
            // The kernel does window arithmetic in 32-bit signed integers.
            u32::try_from(v)
                .ok()
                .filter(|&g| g <= i32::MAX as u32)
                .ok_or_else(|| {
                    CudaError::Invalid(format!("{}: conv geometry {v} too large", node.name))
                })
        })
        .collect::<Result<_>>()?;
        let total = images * os[1] * os[2] * os[3];
        let s = &self.stream;
        let (xd, wd, bd, gd) = (
            s.clone_htod(x)?,
            s.clone_htod(weight)?,
            s.clone_htod(bias)?,
            s.clone_htod(&geo)?,
        );
        let mut out = s.alloc_zeros::<i64>(total)?;
        let images32 = u32_of("images", images)?;
        let mut launch = s.launch_builder(&self.conv);
        launch
            .arg(&xd)
            .arg(&wd)
            .arg(&bd)
            .arg(&mut out)
            .arg(&gd)
            .arg(&images32)
            .arg(shift);
        // SAFETY: the argument list matches `conv2d_i64`; `geo` holds the 14
        // geometry words the kernel reads and every buffer the sizes it indexes.
        #[allow(unsafe_code)]
        unsafe {
            launch.launch(launch_config(total)?)?;
        }
        Ok(s.clone_dtoh(&out)?)
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

/// Shifts beyond 62 bits are not something quantization produces, and a 64-bit
/// shift differs between Rust and CUDA: refuse them.
fn check_shift(node: &QNode, shift: u32) -> Result<()> {
    if shift > 62 {
        return Err(CudaError::Invalid(format!(
            "{}: rescale shift {shift} is beyond 62 bits",
            node.name
        )));
    }
    Ok(())
}

fn operand<'v>(node: &QNode, values: &'v [Vec<i64>], i: usize) -> Result<&'v [i64]> {
    node.inputs
        .get(i)
        .and_then(|&v| values.get(v))
        .map(Vec::as_slice)
        .ok_or_else(|| CudaError::Invalid(format!("{}: missing operand {i}", node.name)))
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
