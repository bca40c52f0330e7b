//! Hand-built one-node models shared by the kernel emulation (`emulator.rs`)
//! and the GPU tests (`tests/witness.rs`, which include this file by path):
//! shapes the fixtures do not reach, and deterministic integers to feed them.

#![allow(dead_code, clippy::unwrap_used)]

use cipherproof_model::graph::geometry::Window;
use cipherproof_model::quant::{QNode, QOp, QValue, QuantConfig, QuantModel};

/// Small deterministic integers in [-m, m].
pub fn ints(n: usize, m: i64, seed: u64) -> Vec<i64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % (2 * m as u64 + 1)) as i64 - m
        })
        .collect()
}

/// A one-node model from a value of shape `x` (and `second`, a second operand)
/// to one of shape `out`; every value 24 bits at scale 8.
pub fn one_node(op: QOp, x: &[usize], second: Option<&[usize]>, out: &[usize]) -> QuantModel {
    let value = |name: &str, shape: &[usize]| QValue {
        name: name.into(),
        shape: shape.to_vec(),
        scale: 8,
        bits: 24,
        calibrated_max: 1.0,
    };
    let mut values = vec![value("x", x)];
    let mut inputs = vec![0];
    if let Some(y) = second {
        values.push(value("y", y));
        inputs.push(1);
    }
    values.push(value("y", out));
    let output = values.len() - 1;
    QuantModel {
        config: QuantConfig::default(),
        values,
        nodes: vec![QNode {
            name: "n".into(),
            op,
            inputs,
            output,
        }],
        output,
        softmax_dropped: false,
    }
}

/// A Conv over two 2-channel 7x6 images per sample with unequal pads, strides
/// and dilations per axis.
pub fn awkward_conv() -> QuantModel {
    let window = Window {
        kernel: [3, 2],
        strides: [2, 1],
        pads: [1, 0, 2, 1],
        dilations: [1, 2],
    };
    let [oh, ow] = window.output_hw(7, 6).unwrap();
    one_node(
        QOp::Conv {
            weight: ints(3 * 2 * 3 * 2, 500, 1),
            weight_shape: [3, 2, 3, 2],
            bias: ints(3, 1 << 12, 2),
            window,
            weight_scale: 8,
            shift: 7,
        },
        &[2, 2, 7, 6],
        None,
        &[2, 3, oh, ow],
    )
}

/// A Dense over three rows per sample.
pub fn dense_rows() -> QuantModel {
    one_node(
        QOp::Dense {
            weight: ints(5 * 4, 500, 3),
            weight_shape: [5, 4],
            bias: ints(5, 1 << 12, 4),
            weight_scale: 8,
            shift: 6,
        },
        &[1, 3, 4],
        None,
        &[1, 3, 5],
    )
}

/// A 3x2 pooling window, stride 2, padding 1 on every side (partly outside a
/// 7x6 plane), and its output height and width there.
pub fn pool_window() -> (Window, [usize; 2]) {
    let window = Window {
        kernel: [3, 2],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        dilations: [1, 1],
    };
    let hw = window.output_hw(7, 6).unwrap();
    (window, hw)
}
