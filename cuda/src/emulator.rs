//! The kernels of `kernels.cu`, compiled for the CPU by the system's C++
//! compiler (a shim header stands in for CUDA's built-ins) and run thread by
//! thread over the same grid a launch would use, so that their arithmetic is
//! checked against the model crate's reference on machines without a GPU, CI
//! included: each kernel's outputs, its range flag, its ReLU epilogue, and that
//! the threads past the end of a launch store nothing. The launches, transfers
//! and the host's orchestration are the GPU tests' part (`tests/witness.rs`).
//!
//! Without a C++ compiler these tests print a skip, unless
//! CIPHERPROOF_REQUIRE_KERNEL_EMULATION=1 (the test command sets it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

use crate::kernels::SOURCE;
use crate::launch::{binary_indices, binary_params, conv_geometry, dense_shape, pool_geometry};
use cipherproof_model::exec::integer::{OpInput, eval_op};
use crate::test_models::{awkward_conv, dense_rows, ints, one_node, pool_window};
use cipherproof_model::quant::fixed::signed_range;
use cipherproof_model::quant::{LutFunction, QOp, QuantModel};
use libloading::{Library, Symbol};
use std::process::Command;

/// CUDA's built-ins for a CPU build: the thread's indices are globals that
/// [`Emulator::grid`] sets before each call.
const SHIM: &str = r#"
struct emu_dim3 { unsigned int x, y, z; };
static emu_dim3 blockIdx, blockDim, threadIdx;
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
static inline unsigned int atomicOr(unsigned int* p, unsigned int v) {
    unsigned int old = *p; *p = old | v; return old;
}
extern "C" void emu_thread(unsigned int block, unsigned int block_dim, unsigned int thread) {
    blockIdx.x = block; blockDim.x = block_dim; threadIdx.x = thread;
}
"#;

/// The launch block size of `launch.rs`.
const BLOCK: u32 = 256;

/// Entries past a kernel's output, which no thread may touch.
const GUARD: usize = 300;
const UNTOUCHED: i64 = 0x5EED_5EED;

struct Emulator {
    lib: Library,
    _dir: std::path::PathBuf,
}

impl Emulator {
    /// Compiles the kernels, or `None` (with a skip) where no C++ compiler runs.
    fn build() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "cipherproof-kernel-emu-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (shim, src, lib) = (dir.join("shim.h"), dir.join("kernels.cu"), dir.join("libkernels.so"));
        std::fs::write(&shim, SHIM).unwrap();
        std::fs::write(&src, SOURCE).unwrap();
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let out = Command::new(&cxx)
            .args(["-std=c++17", "-O1", "-shared", "-fPIC", "-Wall", "-Werror", "-Wno-unused-function"])
            .arg("-include")
            .arg(&shim)
            .args(["-x", "c++"])
            .arg(&src)
            .arg("-o")
            .arg(&lib)
            .output();
        let required = std::env::var("CIPHERPROOF_REQUIRE_KERNEL_EMULATION").as_deref() == Ok("1");
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!("{cxx} rejects kernels.cu: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => {
                assert!(!required, "CIPHERPROOF_REQUIRE_KERNEL_EMULATION=1 but {cxx} does not run: {e}");
                eprintln!("SKIP: no C++ compiler ({cxx}: {e}); kernels not emulated");
                return None;
            }
        }
        // SAFETY: the library is ours, just built; it runs no initialisers.
        let lib = unsafe { Library::new(&lib) }.unwrap();
        Some(Self { lib, _dir: dir })
    }

    fn kernel<T>(&self, name: &str) -> Symbol<'_, T> {
        // SAFETY: each caller names a kernel of kernels.cu with its exact signature.
        unsafe { self.lib.get(name.as_bytes()) }.unwrap()
    }

    /// Runs `launch` once per thread of the grid a launch of `threads` threads uses
    /// (the last block's spare threads included), each with its indices set.
    fn grid(&self, threads: usize, mut launch: impl FnMut()) {
        let set: Symbol<'_, unsafe extern "C" fn(u32, u32, u32)> = self.kernel("emu_thread");
        let blocks = threads.div_ceil(BLOCK as usize).max(1) as u32;
        for b in 0..blocks {
            for t in 0..BLOCK {
                // SAFETY: emu_thread only stores the three indices.
                unsafe { set(b, BLOCK, t) };
                launch();
            }
        }
    }
}

/// An output buffer of `n` with guard entries after it.
fn output(n: usize) -> Vec<i64> {
    vec![UNTOUCHED; n + GUARD]
}

/// The first `n` entries, after checking that no thread wrote past them.
fn finish(mut out: Vec<i64>, n: usize) -> Vec<i64> {
    assert!(out[n..].iter().all(|&v| v == UNTOUCHED), "a thread stored past the output");
    out.truncate(n);
    out
}

/// The model crate's result of the model's node on each sample, concatenated.
fn reference(m: &QuantModel, samples: &[Vec<Vec<i64>>]) -> Vec<i64> {
    let node = &m.nodes[0];
    samples
        .iter()
        .flat_map(|operands| {
            let inputs: Vec<OpInput> = node
                .inputs
                .iter()
                .zip(operands)
                .map(|(&v, data)| OpInput {
                    data,
                    shape: &m.values[v].shape,
                    scale: m.values[v].scale,
                })
                .collect();
            eval_op(&node.name, &node.op, &inputs, &m.values[node.output].shape).unwrap()
        })
        .collect()
}

/// `batch` random single-operand samples for `m`'s node (values in
/// [-m_abs, m_abs]): the batch as the kernel reads it, and the reference outputs.
fn single_operand_batch(m: &QuantModel, batch: u64, m_abs: i64, seed: u64) -> (Vec<i64>, Vec<i64>) {
    let n = m.values[m.nodes[0].inputs[0]].numel();
    let samples: Vec<Vec<Vec<i64>>> = (0..batch).map(|b| vec![ints(n, m_abs, seed + b)]).collect();
    let x = samples.iter().flat_map(|s| s[0].clone()).collect();
    (x, reference(m, &samples))
}

/// Whether any value lies outside `[lo, hi]`: what the kernel's flag must say.
fn outside(v: &[i64], (lo, hi): (i64, i64)) -> u32 {
    u32::from(v.iter().any(|x| *x < lo || *x > hi))
}

type DenseFn = unsafe extern "C" fn(
    *const i64, *const i64, *const i64, *mut i64, u32, u32, u32, u32, i64, i64, u32, i64, i64, *mut u32,
);

#[test]
fn dense_with_and_without_a_fused_relu_equals_the_reference_and_flags_its_ranges() {
    let Some(emu) = Emulator::build() else { return };
    let dense: Symbol<'_, DenseFn> = emu.kernel("dense_i64");
    let m = dense_rows();
    let node = &m.nodes[0];
    let (o, i, rows_per_sample) = dense_shape(&m, node).unwrap();
    let QOp::Dense { weight, bias, shift, .. } = &node.op else { unreachable!() };
    let batch = 7;
    let (x, want) = single_operand_batch(&m, batch, 1 << 10, 10);
    let relu: Vec<i64> = want.iter().map(|v| (*v).max(0)).collect();
    let rows = rows_per_sample * batch as usize;
    let n = rows * o;
    // (relu, range of the Dense value, range of the ReLU value)
    let wide = signed_range(24);
    let max = *want.iter().max().unwrap();
    let min = *want.iter().min().unwrap();
    for (fuse, range, relu_range) in [
        (0, wide, wide),
        (1, wide, wide),
        (0, (min + 1, max), wide),      // the smallest Dense value is out
        (1, (min + 1, max), wide),      // ... and the fused ReLU does not hide it
        (1, (min, max), (0, max - 1)),  // only the ReLU value is out
    ] {
        let mut out = output(n);
        let mut bad = 0u32;
        emu.grid(n, || unsafe {
            dense(
                x.as_ptr(), weight.as_ptr(), bias.as_ptr(), out.as_mut_ptr(),
                rows as u32, i as u32, o as u32, *shift,
                range.0, range.1, fuse, relu_range.0, relu_range.1, &mut bad,
            )
        });
        let out = finish(out, n);
        let expected = if fuse == 1 { &relu } else { &want };
        assert_eq!(&out, expected, "relu {fuse}");
        let flagged = outside(&want, range) | if fuse == 1 { outside(&relu, relu_range) } else { 0 };
        assert_eq!(bad, flagged, "relu {fuse}, ranges {range:?} {relu_range:?}");
        assert!(min < 0 && max > 0, "the case needs both signs");
    }
}

type ConvFn = unsafe extern "C" fn(
    *const i64, *const i64, *const i64, *mut i64, *const u32, u32, u32, i64, i64, u32, i64, i64, *mut u32,
);

#[test]
fn conv_over_awkward_windows_equals_the_reference() {
    let Some(emu) = Emulator::build() else { return };
    let conv: Symbol<'_, ConvFn> = emu.kernel("conv2d_i64");
    let m = awkward_conv();
    let node = &m.nodes[0];
    let geo = conv_geometry(&m, node).unwrap();
    let QOp::Conv { weight, bias, shift, .. } = &node.op else { unreachable!() };
    let batch = 3;
    let (x, want) = single_operand_batch(&m, batch, 1 << 10, 20);
    let images = 2 * batch as usize;
    let n = want.len();
    for fuse in [0, 1] {
        let mut out = output(n);
        let mut bad = 0u32;
        let (lo, hi) = signed_range(24);
        emu.grid(n, || unsafe {
            conv(
                x.as_ptr(), weight.as_ptr(), bias.as_ptr(), out.as_mut_ptr(), geo.as_ptr(),
                images as u32, *shift, lo, hi, fuse, lo, hi, &mut bad,
            )
        });
        let expected: Vec<i64> = want.iter().map(|v| if fuse == 1 { (*v).max(0) } else { *v }).collect();
        assert_eq!(finish(out, n), expected, "relu {fuse}");
        assert_eq!(bad, 0);
    }
}

type PoolFn = unsafe extern "C" fn(*const i64, *mut i64, *const u32, u64, u32, i64, i64, *mut u32);

#[test]
fn pools_equal_the_reference_with_the_padding_counted_or_not() {
    let Some(emu) = Emulator::build() else { return };
    let pool: Symbol<'_, PoolFn> = emu.kernel("pool_i64");
    let (window, [oh, ow]) = pool_window();
    let ops = [
        (0, QOp::MaxPool { window: window.clone() }),
        (1, QOp::AvgPool { window: window.clone(), count_include_pad: true }),
        (2, QOp::AvgPool { window, count_include_pad: false }),
    ];
    for (mode, op) in ops {
        let m = one_node(op, &[1, 2, 7, 6], None, &[1, 2, oh, ow]);
        let geo = pool_geometry(&m, &m.nodes[0]).unwrap();
        let batch = 3;
        let (x, want) = single_operand_batch(&m, batch, 1 << 10, 30);
        let n = want.len();
        let mut out = output(n);
        let mut bad = 0u32;
        // A range that leaves out the largest result: the flag must go up.
        let (lo, hi) = (i64::MIN, *want.iter().max().unwrap() - 1);
        emu.grid(n, || unsafe {
            pool(x.as_ptr(), out.as_mut_ptr(), geo.as_ptr(), 2 * batch, mode, lo, hi, &mut bad)
        });
        assert_eq!(finish(out, n), want, "mode {mode}");
        assert_eq!(bad, 1, "mode {mode}");
    }
}

type LutFn = unsafe extern "C" fn(*const i64, *mut i64, u64, *const i64, u64, u32, i64, i64, i64, *mut u32);

#[test]
fn table_lookups_equal_the_reference_and_flag_an_index_outside_the_table() {
    let Some(emu) = Emulator::build() else { return };
    let lut: Symbol<'_, LutFn> = emu.kernel("lut_i64");
    let table = ints(256, 1 << 12, 5);
    let m = one_node(
        QOp::Lut {
            function: LutFunction::Sigmoid,
            in_shift: 2,
            offset: 128,
            table: table.clone(),
        },
        &[1, 40],
        None,
        &[1, 40],
    );
    let (x, want) = single_operand_batch(&m, 3, 500, 40);
    let (lo, hi) = signed_range(24);
    let run = |x: &[i64]| {
        let n = x.len();
        let mut out = output(n);
        let mut bad = 0u32;
        emu.grid(n, || unsafe {
            lut(x.as_ptr(), out.as_mut_ptr(), n as u64, table.as_ptr(), 256, 2, 128, lo, hi, &mut bad)
        });
        (finish(out, n), bad)
    };
    assert_eq!(run(&x), (want, 0));
    // 600 >> 2 (rounded) + 128 = 278: past the table's 256 entries.
    let (_, bad) = run(&[0, 600, 1]);
    assert_eq!(bad, 1);
}

type BinaryFn = unsafe extern "C" fn(
    *const i64, *const i64, *mut i64, *const u32, *const u32, u64, u64, u64, u64, u32, u32, u32, u32,
    i64, i64, *mut u32,
);

#[test]
fn broadcast_arithmetic_equals_the_reference() {
    let Some(emu) = Emulator::build() else { return };
    let binary: Symbol<'_, BinaryFn> = emu.kernel("binary_i64");
    let cases = [
        (QOp::Add { align: [1, 0], shift: 1 }, Some(vec![1, 2, 1, 6])),
        (QOp::Sub { align: [0, 2], shift: 0 }, Some(vec![6])),
        (QOp::Mul { shift: 5 }, Some(vec![1, 1, 7, 1])),
        (QOp::AddConst { c: ints(2, 300, 7), c_shape: vec![1, 2, 1, 1], shift: 1 }, None),
        (QOp::MulConst { c: ints(6, 300, 8), c_shape: vec![6], c_scale: 8, shift: 8 }, None),
    ];
    for (op, second) in cases {
        let name = op.kind();
        let m = one_node(op, &[1, 2, 7, 6], second.as_deref(), &[1, 2, 7, 6]);
        let node = &m.nodes[0];
        let (mode, align, shift, b_shape) = binary_params(&m, node).unwrap();
        let (ia, ib) = binary_indices(&m, node).unwrap();
        let b_per = if second.is_some() { b_shape.iter().product::<usize>() } else { 0 };
        let batch = 3u64;
        let samples: Vec<Vec<Vec<i64>>> = (0..batch)
            .map(|b| {
                let mut s = vec![ints(84, 1 << 10, 50 + b)];
                if b_per > 0 {
                    s.push(ints(b_per, 1 << 10, 60 + b));
                }
                s
            })
            .collect();
        let a: Vec<i64> = samples.iter().flat_map(|s| s[0].clone()).collect();
        let b: Vec<i64> = match &node.op {
            QOp::AddConst { c, .. } | QOp::MulConst { c, .. } => c.clone(),
            _ => samples.iter().flat_map(|s| s[1].clone()).collect(),
        };
        let want = reference(&m, &samples);
        let n = want.len();
        let mut out = output(n);
        let mut bad = 0u32;
        let (lo, hi) = signed_range(24);
        emu.grid(n, || unsafe {
            binary(
                a.as_ptr(), b.as_ptr(), out.as_mut_ptr(), ia.as_ptr(), ib.as_ptr(),
                84, 84, b_per as u64, batch, mode, align[0], align[1], shift, lo, hi, &mut bad,
            )
        });
        assert_eq!(finish(out, n), want, "{name}");
        assert_eq!(bad, outside(&want, (lo, hi)), "{name}");
    }
}

#[test]
fn relu_and_the_input_widening_kernels() {
    let Some(emu) = Emulator::build() else { return };
    let relu: Symbol<'_, unsafe extern "C" fn(*const i64, *mut i64, u64, i64, i64, *mut u32)> =
        emu.kernel("relu_i64");
    let x = ints(1000, 1 << 20, 9);
    let n = x.len();
    let mut out = output(n);
    let mut bad = 0u32;
    let hi = (1 << 20) - 1;
    emu.grid(n, || unsafe { relu(x.as_ptr(), out.as_mut_ptr(), n as u64, 0, hi, &mut bad) });
    let want: Vec<i64> = x.iter().map(|v| (*v).max(0)).collect();
    assert_eq!(finish(out, n), want);
    assert_eq!(bad, outside(&want, (0, hi)));

    let narrow: Vec<i16> = ints(777, 32767, 11).into_iter().map(|v| v as i16).collect();
    let widen16: Symbol<'_, unsafe extern "C" fn(*const i16, *mut i64, u64)> = emu.kernel("widen_i16");
    let mut out = output(narrow.len());
    emu.grid(narrow.len(), || unsafe { widen16(narrow.as_ptr(), out.as_mut_ptr(), narrow.len() as u64) });
    assert_eq!(finish(out, narrow.len()), narrow.iter().map(|&v| i64::from(v)).collect::<Vec<_>>());

    let wide: Vec<i32> = ints(500, 1 << 30, 12).into_iter().map(|v| v as i32).collect();
    let widen32: Symbol<'_, unsafe extern "C" fn(*const i32, *mut i64, u64)> = emu.kernel("widen_i32");
    let mut out = output(wide.len());
    emu.grid(wide.len(), || unsafe { widen32(wide.as_ptr(), out.as_mut_ptr(), wide.len() as u64) });
    assert_eq!(finish(out, wide.len()), wide.iter().map(|&v| i64::from(v)).collect::<Vec<_>>());
}
