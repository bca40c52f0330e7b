//! Property tests: every integer op of the reference (candle f64 matmuls, shared
//! window walkers, shift-based rounding) equals a straightforward i64 loop with
//! rounding written as a rational floor.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use cipherproof_model::exec::integer::{OpInput, eval_op};
use cipherproof_model::graph::geometry::Window;
use cipherproof_model::quant::{LutFunction, QOp};
use proptest::prelude::*;

/// round(v / 2^d), halves up, as floor((2v + 2^d) / 2^(d+1)) in i128.
fn naive_round(v: i64, d: u32) -> i64 {
    if d == 0 {
        v
    } else {
        (2 * v as i128 + (1i128 << d)).div_euclid(1i128 << (d + 1)) as i64
    }
}

/// round(v / n), halves up, by quotient and remainder.
fn naive_div(v: i64, n: i64) -> i64 {
    let (q, r) = (v.div_euclid(n), v.rem_euclid(n));
    if 2 * r >= n { q + 1 } else { q }
}

fn input<'a>(data: &'a [i64], shape: &'a [usize]) -> OpInput<'a> {
    OpInput {
        data,
        shape,
        scale: 8,
    }
}

fn ints(len: usize, bound: i64) -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(-bound..=bound, len)
}

/// A conv/pool problem: input [1, c, h, w], window, output size.
#[derive(Debug, Clone)]
struct WindowCase {
    c: usize,
    h: usize,
    w: usize,
    window: Window,
    out: [usize; 2],
}

fn window_case(max_kernel: usize, dilate: bool) -> impl Strategy<Value = WindowCase> {
    (
        1usize..4,
        3usize..8,
        3usize..8,
        1..=max_kernel,
        1..=max_kernel,
        1usize..3,
        1usize..3,
        [0usize..2, 0..2, 0..2, 0..2],
        1usize..3,
    )
        .prop_filter_map(
            "window must fit",
            move |(c, h, w, kh, kw, sh, sw, pads, d)| {
                let d = if dilate { d } else { 1 };
                let window = Window {
                    kernel: [kh, kw],
                    strides: [sh, sw],
                    pads,
                    dilations: [d, d],
                };
                window.output_hw(h, w).map(|out| WindowCase {
                    c,
                    h,
                    w,
                    window,
                    out,
                })
            },
        )
}

/// The input pixel read by tap (ky, kx) of output (oy, ox), if not padding.
fn pixel(case: &WindowCase, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
    let wd = &case.window;
    let y = (oy * wd.strides[0] + ky * wd.dilations[0]) as i64 - wd.pads[0] as i64;
    let x = (ox * wd.strides[1] + kx * wd.dilations[1]) as i64 - wd.pads[1] as i64;
    (y >= 0 && x >= 0 && (y as usize) < case.h && (x as usize) < case.w)
        .then_some((y as usize, x as usize))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn dense_matches_naive(
        (k, n, x, w, b) in (1usize..12, 1usize..6).prop_flat_map(|(k, n)| (Just(k), Just(n), ints(k, 1 << 15), ints(n * k, 1 << 11), ints(n, 1 << 24))),
        shift in 0u32..20,
    ) {
        let op = QOp::Dense { weight: w.clone(), weight_shape: [n, k], bias: b.clone(), weight_scale: 0, shift };
        let got = eval_op("dense", &op, &[input(&x, &[1, k])], &[1, n]).unwrap();
        let want: Vec<i64> = (0..n).map(|o| naive_round((0..k).map(|i| w[o * k + i] * x[i]).sum::<i64>() + b[o], shift)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn conv_matches_naive(
        (case, co, x, w, b) in (window_case(3, true), 1usize..4).prop_flat_map(|(case, co)| {
            let (xs, ws) = (case.c * case.h * case.w, co * case.c * case.window.kernel_size());
            (Just(case), Just(co), ints(xs, 1 << 15), ints(ws, 1 << 11), ints(co, 1 << 20))
        }),
        shift in 0u32..16,
    ) {
        let [kh, kw] = case.window.kernel;
        let (c, [oh, ow]) = (case.c, case.out);
        let op = QOp::Conv { weight: w.clone(), weight_shape: [co, c, kh, kw], bias: b.clone(), window: case.window.clone(), weight_scale: 0, shift };
        let got = eval_op("conv", &op, &[input(&x, &[1, c, case.h, case.w])], &[1, co, oh, ow]).unwrap();
        let mut want = Vec::new();
        for o in 0..co {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b[o];
                    for ci in 0..c {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                if let Some((y, xx)) = pixel(&case, oy, ox, ky, kx) {
                                    acc += w[((o * c + ci) * kh + ky) * kw + kx] * x[(ci * case.h + y) * case.w + xx];
                                }
                            }
                        }
                    }
                    want.push(naive_round(acc, shift));
                }
            }
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn pools_match_naive(
        (case, x) in window_case(3, false).prop_flat_map(|case| { let n = case.c * case.h * case.w; (Just(case), ints(n, 1 << 15)) }),
        include_pad in any::<bool>(),
    ) {
        let (c, [oh, ow]) = (case.c, case.out);
        let shape = [1, c, case.h, case.w];
        let out = [1, c, oh, ow];
        let max = eval_op("max", &QOp::MaxPool { window: case.window.clone() }, &[input(&x, &shape)], &out).unwrap();
        let avg = eval_op("avg", &QOp::AvgPool { window: case.window.clone(), count_include_pad: include_pad }, &[input(&x, &shape)], &out).unwrap();
        let (mut want_max, mut want_avg) = (Vec::new(), Vec::new());
        for ci in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut vals = Vec::new();
                    for ky in 0..case.window.kernel[0] {
                        for kx in 0..case.window.kernel[1] {
                            if let Some((y, xx)) = pixel(&case, oy, ox, ky, kx) {
                                vals.push(x[(ci * case.h + y) * case.w + xx]);
                            }
                        }
                    }
                    want_max.push(vals.iter().copied().max().unwrap_or(0));
                    let n = if include_pad { case.window.kernel_size() } else { vals.len().max(1) };
                    want_avg.push(naive_div(vals.iter().sum(), n as i64));
                }
            }
        }
        prop_assert_eq!(max, want_max);
        prop_assert_eq!(avg, want_avg);
    }

    #[test]
    fn global_avg_pool_matches_naive((c, hw, x) in (1usize..4, 1usize..6).prop_flat_map(|(c, s)| (Just(c), Just(s), ints(c * s * s, 1 << 15)))) {
        let got = eval_op("gap", &QOp::GlobalAvgPool, &[input(&x, &[1, c, hw, hw])], &[1, c, 1, 1]).unwrap();
        let want: Vec<i64> = x.chunks(hw * hw).map(|p| naive_div(p.iter().sum(), (hw * hw) as i64)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn binary_ops_broadcast_like_naive(
        (r, c, a, b_row, b_col) in (1usize..5, 1usize..5).prop_flat_map(|(r, c)| (Just(r), Just(c), ints(r * c, 1 << 15), ints(c, 1 << 15), ints(r, 1 << 15))),
        align in [0u32..4, 0u32..4],
        shift in 0u32..8,
    ) {
        let shape = [r, c];
        // b broadcast along rows ([c]) and along columns ([r, 1]).
        for (b, b_shape, pick) in [(&b_row, vec![c], 0usize), (&b_col, vec![r, 1], 1)] {
            let at = |i: usize, j: usize| if pick == 0 { b[j] } else { b[i] };
            let cases: [(QOp, Box<dyn Fn(i64, i64) -> i64>); 3] = [
                (QOp::Add { align, shift }, Box::new(move |p, q| naive_round(p * (1 << align[0]) + q * (1 << align[1]), shift))),
                (QOp::Sub { align, shift }, Box::new(move |p, q| naive_round(p * (1 << align[0]) - q * (1 << align[1]), shift))),
                (QOp::Mul { shift }, Box::new(move |p, q| naive_round(p * q, shift))),
            ];
            for (op, f) in cases {
                let got = eval_op("bin", &op, &[input(&a, &shape), input(b, &b_shape)], &shape).unwrap();
                let want: Vec<i64> = (0..r).flat_map(|i| (0..c).map(move |j| (i, j))).map(|(i, j)| f(a[i * c + j], at(i, j))).collect();
                prop_assert_eq!(got, want, "{:?}", op);
            }
            let add = QOp::AddConst { c: b.clone(), c_shape: b_shape.clone(), shift };
            let got = eval_op("addc", &add, &[input(&a, &shape)], &shape).unwrap();
            let want: Vec<i64> = (0..r * c).map(|k| naive_round(a[k] + at(k / c, k % c), shift)).collect();
            prop_assert_eq!(got, want);
            let mul = QOp::MulConst { c: b.clone(), c_shape: b_shape.clone(), c_scale: 0, shift };
            let got = eval_op("mulc", &mul, &[input(&a, &shape)], &shape).unwrap();
            let want: Vec<i64> = (0..r * c).map(|k| naive_round(a[k] * at(k / c, k % c), shift)).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn activations_match_naive(x in ints(40, 1 << 15), alpha in 0i64..256, alpha_scale in 0u32..10, in_shift in 0u32..6) {
        let shape = [x.len()];
        let relu = eval_op("relu", &QOp::Relu, &[input(&x, &shape)], &shape).unwrap();
        prop_assert_eq!(relu, x.iter().map(|&v| if v > 0 { v } else { 0 }).collect::<Vec<_>>());
        let leaky = eval_op("leaky", &QOp::LeakyRelu { alpha, alpha_scale }, &[input(&x, &shape)], &shape).unwrap();
        prop_assert_eq!(leaky, x.iter().map(|&v| if v >= 0 { v } else { naive_round(v * alpha, alpha_scale) }).collect::<Vec<_>>());
        // A table wide enough for every shifted input: index i holds 3i + 1.
        let offset = (1i64 << 15 >> in_shift) + 1;
        let table: Vec<i64> = (0..2 * offset + 1).map(|i| 3 * (i - offset) + 1).collect();
        let op = QOp::Lut { function: LutFunction::Sigmoid, in_shift, offset, table };
        let got = eval_op("lut", &op, &[input(&x, &shape)], &shape).unwrap();
        prop_assert_eq!(got, x.iter().map(|&v| 3 * naive_round(v, in_shift) + 1).collect::<Vec<_>>());
    }

    #[test]
    fn transpose_matches_naive((d, x) in [1usize..4, 1..4, 1..4].prop_flat_map(|d| (Just(d), ints(d[0] * d[1] * d[2], 100)))) {
        let perm = vec![2, 0, 1];
        let got = eval_op("t", &QOp::Transpose { perm: perm.clone() }, &[input(&x, &d)], &[d[2], d[0], d[1]]).unwrap();
        let mut want = Vec::new();
        for k in 0..d[2] {
            for i in 0..d[0] {
                for j in 0..d[1] {
                    want.push(x[(i * d[1] + j) * d[2] + k]);
                }
            }
        }
        prop_assert_eq!(got, want);
    }
}

#[test]
fn lookup_outside_the_table_is_an_overflow_error() {
    let op = QOp::Lut {
        function: LutFunction::Tanh,
        in_shift: 0,
        offset: 2,
        table: vec![0, 1, 2, 3],
    };
    let err = eval_op("tanh", &op, &[input(&[5], &[1])], &[1]).unwrap_err();
    assert!(
        err.to_string().contains("overflows its 2-bit range"),
        "{err}"
    );
}
