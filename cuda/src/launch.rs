//! One launch per op over the whole batch, on buffers that stay on the device:
//! Dense, Conv (each with an optional fused ReLU), ReLU, pooling, table lookups,
//! broadcast arithmetic and range checks. Every kernel range-checks what it
//! stores into one device flag. A model's constants go up once
//! ([`Launcher::upload`]); shapes are checked on the host first, because a
//! kernel reading past a buffer poisons the whole context.

use crate::error::{CudaError, Result};
use cipherproof_model::graph::broadcast::{broadcast_indices, broadcast_shape};
use cipherproof_model::quant::model::{QNode, QOp, QuantModel};
use cudarc::driver::{
    CudaFunction, CudaSlice, CudaStream, DeviceRepr, LaunchArgs, LaunchConfig, PushKernelArg,
};
use std::sync::Arc;

/// The loaded kernels of [`crate::kernels::SOURCE`].
#[derive(Debug)]
pub(crate) struct Kernels {
    pub dense: CudaFunction,
    pub conv: CudaFunction,
    pub relu: CudaFunction,
    pub pool: CudaFunction,
    pub lut: CudaFunction,
    pub range_check: CudaFunction,
    pub binary: CudaFunction,
    pub widen_i16: CudaFunction,
    pub widen_i32: CudaFunction,
}

/// A value's signed range `[lo, hi]`: what a kernel checks before it stores.
pub(crate) type Range = (i64, i64);

/// How a Dense or Conv ends: its own output's range and, when a ReLU that only
/// it feeds is fused in, the ReLU output's range (the ReLU is then stored instead).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epilogue {
    pub range: Range,
    pub relu: Option<Range>,
}

impl Epilogue {
    /// The kernel's `lo, hi, relu, rlo, rhi` arguments.
    fn args(&self) -> (i64, i64, u32, i64, i64) {
        let (rlo, rhi) = self.relu.unwrap_or((0, 0));
        (self.range.0, self.range.1, u32::from(self.relu.is_some()), rlo, rhi)
    }
}

/// The batch's inputs packed as narrowly as the input's range allows (the
/// values already checked against it on the host), for a smaller upload.
pub(crate) enum Packed {
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// A device buffer of `i64`s.
pub(crate) type Buf = CudaSlice<i64>;

/// One node's constants on the device: weights (or the table, or the constant
/// operand), bias, window geometry, broadcast index maps.
#[derive(Debug, Default)]
pub(crate) struct Consts {
    weight: Option<Buf>,
    bias: Option<Buf>,
    geometry: Option<CudaSlice<u32>>,
    index_a: Option<CudaSlice<u32>>,
    index_b: Option<CudaSlice<u32>>,
}

/// A binary op's kernel mode, alignments and shift, and its second operand's shape.
pub(crate) fn binary_params<'n>(
    m: &'n QuantModel,
    node: &'n QNode,
) -> Result<(u32, [u32; 2], u32, &'n [usize])> {
    let second = || -> Result<&'n [usize]> {
        let v = node
            .inputs
            .get(1)
            .ok_or_else(|| invalid(node, "missing operand 1"))?;
        Ok(&m.values[*v].shape)
    };
    let (mode, align, shift, b_shape) = match &node.op {
        QOp::Add { align, shift } => (0, *align, *shift, second()?),
        QOp::Sub { align, shift } => (1, *align, *shift, second()?),
        QOp::Mul { shift } => (2, [0, 0], *shift, second()?),
        QOp::AddConst { c_shape, shift, .. } => (0, [0, 0], *shift, c_shape.as_slice()),
        QOp::MulConst { c_shape, shift, .. } => (2, [0, 0], *shift, c_shape.as_slice()),
        _ => return Err(invalid(node, "not a binary op")),
    };
    for s in [align[0], align[1], shift] {
        check_shift(node, s)?;
    }
    Ok((mode, align, shift, b_shape))
}

/// Per-sample broadcast index maps of a binary op's two operands into its output.
pub(crate) fn binary_indices(m: &QuantModel, node: &QNode) -> Result<(Vec<u32>, Vec<u32>)> {
    let (_, _, _, b_shape) = binary_params(m, node)?;
    let a_shape = &m.values[node.inputs[0]].shape;
    let out = &m.values[node.output].shape;
    if broadcast_shape(a_shape, b_shape).as_deref() != Some(out.as_slice()) {
        return Err(invalid(
            node,
            format!("operands {a_shape:?} and {b_shape:?} do not broadcast to {out:?}"),
        ));
    }
    let to_u32 = |v: Vec<usize>| -> Result<Vec<u32>> {
        v.into_iter().map(|i| u32_of("operand index", i)).collect()
    };
    Ok((
        to_u32(broadcast_indices(a_shape, out))?,
        to_u32(broadcast_indices(b_shape, out))?,
    ))
}

/// Launches on one stream.
pub(crate) struct Launcher<'k> {
    pub stream: Arc<CudaStream>,
    pub k: &'k Kernels,
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

fn invalid(node: &QNode, what: impl std::fmt::Display) -> CudaError {
    CudaError::Invalid(format!("{}: {what}", node.name))
}

/// Window geometry words: the kernels do window arithmetic in 32-bit signed integers.
fn geometry(node: &QNode, words: &[usize]) -> Result<Vec<u32>> {
    words
        .iter()
        .map(|&v| {
            u32::try_from(v)
                .ok()
                .filter(|&g| g <= i32::MAX as u32)
                .ok_or_else(|| invalid(node, format!("window geometry {v} too large")))
        })
        .collect()
}

/// Shifts beyond 62 bits are not something quantization produces, and a 64-bit
/// shift differs between Rust and CUDA: refuse them.
fn check_shift(node: &QNode, shift: u32) -> Result<()> {
    if shift > 62 {
        return Err(invalid(
            node,
            format!("rescale shift {shift} is beyond 62 bits"),
        ));
    }
    Ok(())
}

/// Dense's `(out, in, rows per sample)` after checking the weights against the input.
pub(crate) fn dense_shape(m: &QuantModel, node: &QNode) -> Result<(usize, usize, usize)> {
    let QOp::Dense {
        weight,
        weight_shape: [o, i],
        bias,
        shift,
        ..
    } = &node.op
    else {
        return Err(invalid(node, "not Dense"));
    };
    let per_sample = m.values[node.inputs[0]].numel();
    if *i == 0 || !per_sample.is_multiple_of(*i) || weight.len() != o * i || bias.len() != *o {
        return Err(invalid(
            node,
            format!(
                "Dense weight {o}x{i} ({} values), bias {}, input {per_sample} values per sample",
                weight.len(),
                bias.len(),
            ),
        ));
    }
    check_shift(node, *shift)?;
    Ok((*o, *i, per_sample / i))
}

/// `conv2d_i64`'s 14 geometry words after checking weights, bias and shapes.
pub(crate) fn conv_geometry(m: &QuantModel, node: &QNode) -> Result<Vec<u32>> {
    let QOp::Conv {
        weight,
        weight_shape,
        bias,
        window,
        shift,
        ..
    } = &node.op
    else {
        return Err(invalid(node, "not Conv"));
    };
    let xs = &m.values[node.inputs[0]].shape;
    let os = &m.values[node.output].shape;
    if xs.len() != 4 || os.len() != 4 {
        return Err(invalid(node, "Conv needs NCHW shapes"));
    }
    if weight_shape[1] != xs[1]
        || weight_shape[0] != os[1]
        || [weight_shape[2], weight_shape[3]] != window.kernel
        || weight.len() != weight_shape.iter().product::<usize>()
        || bias.len() != os[1]
        || os[0] != xs[0]
        || xs[2] * xs[3] >= 1 << 31
    {
        return Err(invalid(
            node,
            format!(
                "Conv weight {weight_shape:?} ({} values), bias {}, kernel {:?}, input {xs:?}, output {os:?} do not agree",
                weight.len(),
                bias.len(),
                window.kernel
            ),
        ));
    }
    check_shift(node, *shift)?;
    geometry(
        node,
        &[
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
        ],
    )
}

/// `pool_i64`'s 12 geometry words after checking the shapes.
pub(crate) fn pool_geometry(m: &QuantModel, node: &QNode) -> Result<Vec<u32>> {
    let window = match &node.op {
        QOp::MaxPool { window } | QOp::AvgPool { window, .. } => window,
        _ => return Err(invalid(node, "not a pool")),
    };
    let xs = &m.values[node.inputs[0]].shape;
    let os = &m.values[node.output].shape;
    if xs.len() != 4 || os.len() != 4 || xs[..2] != os[..2] || xs[2] * xs[3] >= 1 << 31 {
        return Err(invalid(
            node,
            format!("pooling needs NCHW shapes with the same planes, got {xs:?} -> {os:?}"),
        ));
    }
    geometry(
        node,
        &[
            xs[2],
            xs[3],
            os[2],
            os[3],
            window.kernel[0],
            window.kernel[1],
            window.strides[0],
            window.strides[1],
            window.pads[0],
            window.pads[1],
            window.dilations[0],
            window.dilations[1],
        ],
    )
}

fn constant<'c, T>(node: &QNode, c: &'c Option<CudaSlice<T>>) -> Result<&'c CudaSlice<T>> {
    c.as_ref()
        .ok_or_else(|| invalid(node, "constants not uploaded"))
}

/// Launches `threads` threads of a kernel whose arguments are pushed.
fn go(launch: &mut LaunchArgs<'_>, threads: usize) -> Result<()> {
    // SAFETY: every caller pushes exactly its kernel's parameters, and checks on
    // the host that each buffer holds what the kernel indexes for `threads`.
    #[allow(unsafe_code)]
    unsafe {
        launch.launch(launch_config(threads)?)?;
    }
    Ok(())
}

impl Launcher<'_> {
    /// A buffer for `n` kernel outputs, without the zero fill: every kernel that
    /// writes one stores each of its `n` elements.
    fn output(&self, n: usize) -> Result<Buf> {
        // SAFETY: the buffer is only handed to a kernel launched over `n`
        // threads, each of which stores its element (none returns before its
        // store except the threads past `n`); nothing reads it before that.
        #[allow(unsafe_code)]
        let out = unsafe { self.stream.alloc::<i64>(n)? };
        Ok(out)
    }

    /// `packed[part]` on the device as `i64`s: one copy up, one widening launch.
    pub fn inputs(&self, packed: &Packed, part: std::ops::Range<usize>) -> Result<Buf> {
        fn part_of<T>(v: &[T], part: std::ops::Range<usize>) -> Result<&[T]> {
            let len = v.len();
            v.get(part.clone())
                .ok_or_else(|| CudaError::Invalid(format!("inputs {part:?} of a batch of {len} values")))
        }
        match packed {
            Packed::I16(v) => self.widen(part_of(v, part)?, &self.k.widen_i16),
            Packed::I32(v) => self.widen(part_of(v, part)?, &self.k.widen_i32),
            Packed::I64(v) => Ok(self.stream.clone_htod(part_of(v, part)?)?),
        }
    }

    fn widen<T: DeviceRepr>(&self, v: &[T], kernel: &CudaFunction) -> Result<Buf> {
        // Freed when dropped: the free is queued on the stream, after the launch.
        let narrow = self.stream.clone_htod(v)?;
        let n = v.len();
        let mut out = self.output(n)?;
        let n64 = n as u64;
        // widen_i16 / widen_i32(x, out, n)
        let mut l = self.stream.launch_builder(kernel);
        l.arg(&narrow).arg(&mut out).arg(&n64);
        go(&mut l, n)?;
        Ok(out)
    }

    /// Checks a node's batch-independent shapes and uploads its constants.
    pub fn upload(&self, m: &QuantModel, node: &QNode) -> Result<Consts> {
        let s = &self.stream;
        Ok(match &node.op {
            QOp::Dense { weight, bias, .. } => {
                dense_shape(m, node)?;
                Consts {
                    weight: Some(s.clone_htod(weight)?),
                    bias: Some(s.clone_htod(bias)?),
                    ..Consts::default()
                }
            }
            QOp::Conv { weight, bias, .. } => Consts {
                geometry: Some(s.clone_htod(&conv_geometry(m, node)?)?),
                weight: Some(s.clone_htod(weight)?),
                bias: Some(s.clone_htod(bias)?),
                ..Consts::default()
            },
            QOp::MaxPool { .. } | QOp::AvgPool { .. } => Consts {
                geometry: Some(s.clone_htod(&pool_geometry(m, node)?)?),
                ..Consts::default()
            },
            QOp::Lut {
                table, in_shift, ..
            } => {
                if table.is_empty() {
                    return Err(invalid(node, "empty table"));
                }
                check_shift(node, *in_shift)?;
                Consts {
                    weight: Some(s.clone_htod(table)?),
                    ..Consts::default()
                }
            }
            QOp::Add { .. } | QOp::Sub { .. } | QOp::Mul { .. } => {
                let (ia, ib) = binary_indices(m, node)?;
                Consts {
                    index_a: Some(s.clone_htod(&ia)?),
                    index_b: Some(s.clone_htod(&ib)?),
                    ..Consts::default()
                }
            }
            QOp::AddConst { c, c_shape, .. } | QOp::MulConst { c, c_shape, .. } => {
                if c.len() != c_shape.iter().product::<usize>() {
                    return Err(invalid(
                        node,
                        format!("{} constants for shape {c_shape:?}", c.len()),
                    ));
                }
                let (ia, ib) = binary_indices(m, node)?;
                Consts {
                    weight: Some(s.clone_htod(c)?),
                    index_a: Some(s.clone_htod(&ia)?),
                    index_b: Some(s.clone_htod(&ib)?),
                    ..Consts::default()
                }
            }
            _ => Consts::default(),
        })
    }

    /// Add, Sub, Mul (`b` the second operand) or AddConst, MulConst (`b` None:
    /// the uploaded constant), broadcasting as the model crate does; a result
    /// outside `range` sets `bad`.
    #[allow(clippy::too_many_arguments)]
    pub fn binary(
        &self,
        m: &QuantModel,
        node: &QNode,
        c: &Consts,
        (a, b): (&Buf, Option<&Buf>),
        batch: usize,
        (lo, hi): Range,
        bad: &mut CudaSlice<u32>,
    ) -> Result<Buf> {
        let (mode, align, shift, b_shape) = binary_params(m, node)?;
        let a_per = m.values[node.inputs[0]].numel();
        let per_out = m.values[node.output].numel();
        let (b, b_per) = match b {
            Some(b) => (b, b_shape.iter().product::<usize>()),
            None => (constant(node, &c.weight)?, 0),
        };
        let b_ok = b_per == 0 || b.len() == b_per * batch;
        if a.len() != a_per * batch || !b_ok {
            return Err(invalid(
                node,
                format!(
                    "operands of {} and {} values for {batch} samples",
                    a.len(),
                    b.len()
                ),
            ));
        }
        let (ia, ib) = (constant(node, &c.index_a)?, constant(node, &c.index_b)?);
        let total = per_out * batch;
        let mut out = self.output(total)?;
        let (per64, a64, b64, batch64) = (per_out as u64, a_per as u64, b_per as u64, batch as u64);
        // binary_i64(a, b, out, ia, ib, per_out, a_per, b_per, batch, mode, align_a, align_b,
        //            shift, lo, hi, bad)
        let mut l = self.stream.launch_builder(&self.k.binary);
        l.arg(a).arg(b).arg(&mut out).arg(ia).arg(ib);
        l.arg(&per64).arg(&a64).arg(&b64).arg(&batch64);
        l.arg(&mode).arg(&align[0]).arg(&align[1]).arg(&shift);
        l.arg(&lo).arg(&hi).arg(bad);
        go(&mut l, total)?;
        Ok(out)
    }

    /// A Dense over the batch, ending in `epilogue`; a value outside its range sets `bad`.
    #[allow(clippy::too_many_arguments)]
    pub fn dense(
        &self,
        m: &QuantModel,
        node: &QNode,
        c: &Consts,
        x: &Buf,
        batch: usize,
        epilogue: Epilogue,
        bad: &mut CudaSlice<u32>,
    ) -> Result<Buf> {
        let (o, i, rows_per_sample) = dense_shape(m, node)?;
        let QOp::Dense { shift, .. } = &node.op else {
            return Err(invalid(node, "not Dense"));
        };
        if x.len() != rows_per_sample * i * batch {
            return Err(invalid(
                node,
                format!("{} input values for {batch} samples", x.len()),
            ));
        }
        let (w, b) = (constant(node, &c.weight)?, constant(node, &c.bias)?);
        let rows = rows_per_sample * batch;
        let mut out = self.output(rows * o)?;
        let (rows32, in32, out32) = (u32_of("rows", rows)?, u32_of("in", i)?, u32_of("out", o)?);
        let (lo, hi, relu, rlo, rhi) = epilogue.args();
        // dense_i64(x, w, bias, out, rows, in, out, shift, lo, hi, relu, rlo, rhi, bad)
        let mut l = self.stream.launch_builder(&self.k.dense);
        l.arg(x).arg(w).arg(b).arg(&mut out);
        l.arg(&rows32).arg(&in32).arg(&out32).arg(shift);
        l.arg(&lo).arg(&hi).arg(&relu).arg(&rlo).arg(&rhi).arg(bad);
        go(&mut l, rows * o)?;
        Ok(out)
    }

    /// A Conv over the batch, ending in `epilogue`; a value outside its range sets `bad`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &self,
        m: &QuantModel,
        node: &QNode,
        c: &Consts,
        x: &Buf,
        batch: usize,
        epilogue: Epilogue,
        bad: &mut CudaSlice<u32>,
    ) -> Result<Buf> {
        let QOp::Conv { shift, .. } = &node.op else {
            return Err(invalid(node, "not Conv"));
        };
        let xs = &m.values[node.inputs[0]].shape;
        let os = &m.values[node.output].shape;
        if xs.len() != 4 || os.len() != 4 {
            return Err(invalid(node, "Conv needs NCHW shapes"));
        }
        let images = xs[0] * batch;
        if x.len() != images * xs[1] * xs[2] * xs[3] {
            return Err(invalid(
                node,
                format!("{} input values for {batch} samples of {xs:?}", x.len()),
            ));
        }
        let (w, b, g) = (
            constant(node, &c.weight)?,
            constant(node, &c.bias)?,
            constant(node, &c.geometry)?,
        );
        let total = images * os[1] * os[2] * os[3];
        let mut out = self.output(total)?;
        let images32 = u32_of("images", images)?;
        let (lo, hi, relu, rlo, rhi) = epilogue.args();
        // conv2d_i64(x, w, bias, out, geo[14], batch, shift, lo, hi, relu, rlo, rhi, bad)
        let mut l = self.stream.launch_builder(&self.k.conv);
        l.arg(x).arg(w).arg(b).arg(&mut out);
        l.arg(g).arg(&images32).arg(shift);
        l.arg(&lo).arg(&hi).arg(&relu).arg(&rlo).arg(&rhi).arg(bad);
        go(&mut l, total)?;
        Ok(out)
    }

    /// max(x, 0); a result outside `range` sets `bad`.
    pub fn relu(&self, x: &Buf, (lo, hi): Range, bad: &mut CudaSlice<u32>) -> Result<Buf> {
        let n = x.len();
        let mut out = self.output(n)?;
        let n64 = n as u64;
        // relu_i64(x, out, n, lo, hi, bad)
        let mut l = self.stream.launch_builder(&self.k.relu);
        l.arg(x).arg(&mut out).arg(&n64).arg(&lo).arg(&hi).arg(bad);
        go(&mut l, n)?;
        Ok(out)
    }

    /// Max or average pooling; a result outside `range` sets `bad`.
    #[allow(clippy::too_many_arguments)]
    pub fn pool(
        &self,
        m: &QuantModel,
        node: &QNode,
        c: &Consts,
        x: &Buf,
        batch: usize,
        (lo, hi): Range,
        bad: &mut CudaSlice<u32>,
    ) -> Result<Buf> {
        let mode: u32 = match &node.op {
            QOp::MaxPool { .. } => 0,
            QOp::AvgPool {
                count_include_pad: true,
                ..
            } => 1,
            QOp::AvgPool { .. } => 2,
            _ => return Err(invalid(node, "not a pool")),
        };
        let xs = &m.values[node.inputs[0]].shape;
        let os = &m.values[node.output].shape;
        if xs.len() != 4 || os.len() != 4 {
            return Err(invalid(node, "pooling needs NCHW shapes"));
        }
        let planes = xs[0] * xs[1] * batch;
        if x.len() != planes * xs[2] * xs[3] {
            return Err(invalid(
                node,
                format!("{} input values for {batch} samples of {xs:?}", x.len()),
            ));
        }
        let g = constant(node, &c.geometry)?;
        let total = planes * os[2] * os[3];
        let mut out = self.output(total)?;
        let planes64 = planes as u64;
        // pool_i64(x, out, geo[12], planes, mode, lo, hi, bad)
        let mut l = self.stream.launch_builder(&self.k.pool);
        l.arg(x).arg(&mut out).arg(g).arg(&planes64).arg(&mode);
        l.arg(&lo).arg(&hi).arg(bad);
        go(&mut l, total)?;
        Ok(out)
    }

    /// A table lookup; an index outside the table, or an entry outside `range`, sets `bad`.
    pub fn lut(
        &self,
        node: &QNode,
        c: &Consts,
        x: &Buf,
        (lo, hi): Range,
        bad: &mut CudaSlice<u32>,
    ) -> Result<Buf> {
        let QOp::Lut {
            in_shift,
            offset,
            table,
            ..
        } = &node.op
        else {
            return Err(invalid(node, "not a lookup"));
        };
        let t = constant(node, &c.weight)?;
        let n = x.len();
        let mut out = self.output(n)?;
        let (n64, len64) = (n as u64, table.len() as u64);
        // lut_i64(x, out, n, table, table_len, in_shift, offset, lo, hi, bad)
        let mut l = self.stream.launch_builder(&self.k.lut);
        l.arg(x).arg(&mut out).arg(&n64).arg(t).arg(&len64);
        l.arg(in_shift).arg(offset).arg(&lo).arg(&hi).arg(bad);
        go(&mut l, n)?;
        Ok(out)
    }

    /// Sets `bad` when a value of `x` lies outside `[lo, hi]`.
    pub fn range_check(
        &self,
        x: &Buf,
        (lo, hi): Range,
        bad: &mut CudaSlice<u32>,
    ) -> Result<()> {
        let n = x.len();
        let n64 = n as u64;
        // range_check_i64(x, n, lo, hi, bad)
        let mut l = self.stream.launch_builder(&self.k.range_check);
        l.arg(x).arg(&n64).arg(&lo).arg(&hi).arg(bad);
        go(&mut l, n)
    }
}
