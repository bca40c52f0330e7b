//! The witness kernels against the model crate's integer reference. Kernel
//! compilation needs only NVRTC (CI installs the pinned wheel and sets
//! CIPHERPROOF_REQUIRE_NVRTC=1 so it cannot be skipped there); the GPU runs
//! need a device and print a clear skip without one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_cuda::kernels::{ALL, compile};
use cipherproof_cuda::probe::{devices, driver_library, nvrtc_library};
use cipherproof_cuda::{Backend, CudaError, GpuWitness, Resolved, cpu_batch};
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QNode, QOp, QValue, QuantConfig, QuantModel, quantize};
use cipherproof_testkit::{fixture as testdata, samples};

/// A fixture's model (calibrated as the other crates' tests do) and `n` quantized inputs.
fn fixture(name: &str, n: usize) -> (QuantModel, Vec<Vec<i64>>) {
    let (onnx, cal, test) = if name.starts_with("ezkl/") {
        let input = samples(&testdata(&format!("{name}/input.json")), "input_data");
        // EZKL's examples have one input: the batch is it scaled by 1, 7/8, ..., 1/8.
        let scaled = (0..8)
            .map(|k| input[0].iter().map(|v| v * (8 - k) as f32 / 8.0).collect())
            .collect();
        (testdata(&format!("{name}/network.onnx")), input, scaled)
    } else {
        (
            testdata(&format!("{name}/model.onnx")),
            samples(&testdata(&format!("{name}/calibration.json")), "inputs"),
            samples(&testdata(&format!("{name}/test.json")), "inputs"),
        )
    };
    let graph = import_onnx(&std::fs::read(onnx).unwrap()).unwrap();
    let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let inputs = test
        .iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, x)| runner.quantize_input(i, x).unwrap())
        .collect();
    (model, inputs)
}

/// The device, or `None` (with a clear skip) where there is none; with
/// CIPHERPROOF_REQUIRE_GPU=1 (the GPU machine's check) a missing or broken device fails.
fn gpu() -> Option<GpuWitness> {
    let required = std::env::var("CIPHERPROOF_REQUIRE_GPU").as_deref() == Ok("1");
    match devices() {
        Ok(d) if !d.is_empty() => Some(GpuWitness::open(0).expect("a device is present")),
        other => {
            assert!(
                !required,
                "CIPHERPROOF_REQUIRE_GPU=1 but no usable device: {other:?}"
            );
            eprintln!("SKIP: no CUDA device here ({other:?}); GPU witness checks not run");
            None
        }
    }
}

#[test]
fn nvrtc_compiles_the_kernels_for_hopper_and_ampere() {
    if let Err(e) = nvrtc_library() {
        assert!(
            std::env::var("CIPHERPROOF_REQUIRE_NVRTC").as_deref() != Ok("1"),
            "CIPHERPROOF_REQUIRE_NVRTC=1 but {e}"
        );
        eprintln!("SKIP: {e}");
        return;
    }
    for (major, minor) in [(9, 0), (8, 0)] {
        let ptx = compile(major, minor).unwrap().to_src();
        for kernel in ALL {
            assert!(
                ptx.contains(&format!(".entry {kernel}")),
                "{kernel} missing for sm_{major}{minor}"
            );
        }
        assert!(
            ptx.contains(&format!(".target sm_{major}{minor}")),
            "target of sm_{major}{minor}"
        );
    }
}

#[test]
fn the_cpu_batch_is_the_integer_reference_per_sample() {
    let (model, inputs) = fixture("digits_cnn", 16);
    let runner = IntegerRunner::new(&model).unwrap();
    let batch = cpu_batch(&model, &inputs).unwrap();
    for (x, out) in inputs.iter().zip(&batch) {
        assert_eq!(out, &runner.run(x).unwrap());
    }
}

#[test]
fn backends_parse_and_cuda_says_why_it_cannot_run() {
    assert_eq!("cpu".parse::<Backend>().unwrap(), Backend::Cpu);
    assert_eq!("auto".parse::<Backend>().unwrap(), Backend::Auto);
    let err = "gpu".parse::<Backend>().unwrap_err().to_string();
    assert!(err.contains("cpu, cuda or auto"), "{err}");
    assert!(matches!(
        Backend::Cpu.resolve().unwrap(),
        Resolved::Cpu { .. }
    ));
    if driver_library().is_err() {
        let err = Backend::Cuda.resolve().unwrap_err();
        assert!(matches!(err, CudaError::NoDriver(_)), "{err}");
        match Backend::Auto.resolve().unwrap() {
            Resolved::Cpu { reason } => assert!(reason.contains("no CUDA driver"), "{reason}"),
            other => panic!("auto without a driver resolved to {other:?}"),
        }
        assert!(GpuWitness::open(0).is_err());
    }
}

#[test]
fn gpu_witness_equals_the_cpu_reference() {
    let Some(gpu) = gpu() else { return };
    eprintln!("device: {}", gpu.device().describe());
    for (name, n) in [
        ("digits_mlp", 1024),
        ("digits_cnn", 256),
        ("ops_zoo", 64),
        ("ezkl/1l_conv", 8),
        ("ezkl/3l_relu_conv_fc", 8),
        ("ezkl/lenet_5", 8),
    ] {
        let (model, inputs) = fixture(name, n);
        let want = cpu_batch(&model, &inputs).unwrap();
        let got = gpu.run_batch(&model, &inputs).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn gpu_witness_rejects_a_wrong_shape_and_leaks_no_memory() {
    let Some(gpu) = gpu() else { return };
    let (model, mut inputs) = fixture("digits_mlp", 64);
    gpu.run_batch(&model, &inputs).unwrap();
    let before = gpu.free_memory().unwrap();
    for _ in 0..100 {
        gpu.run_batch(&model, &inputs).unwrap();
    }
    let after = gpu.free_memory().unwrap();
    assert!(
        before.abs_diff(after) < 1 << 20,
        "free memory {before} -> {after}"
    );
    assert!(gpu.run_batch(&model, &[]).unwrap().is_empty());
    // An input outside the input's range: the CPU path's error, naming it.
    let (lo, _) = cipherproof_model::quant::fixed::signed_range(model.input().bits);
    inputs[5][7] = lo - 1;
    let want = cpu_batch(&model, &inputs).unwrap_err().to_string();
    let err = gpu.run_batch(&model, &inputs).unwrap_err().to_string();
    assert!(err.contains("input 5"), "{err}");
    assert!(want.contains(&(lo - 1).to_string()), "{want}");
    inputs[3].pop();
    let err = gpu.run_batch(&model, &inputs).unwrap_err().to_string();
    assert!(err.contains("input 3"), "{err}");
}

#[path = "../src/test_models.rs"]
mod test_models;
use test_models::{awkward_conv, dense_rows, ints, pool_window};

/// A one-node model: `op` from a value of shape `x` to one of shape `y`.
fn one_node(op: QOp, x: &[usize], y: &[usize]) -> QuantModel {
    test_models::one_node(op, x, None, y)
}

/// Shapes the fixtures do not reach: two images per sample, unequal pads,
/// strides and dilations per axis, and a Dense over several rows per sample.
#[test]
fn gpu_witness_equals_the_cpu_on_awkward_shapes() {
    let (conv, dense) = (awkward_conv(), dense_rows());
    // The hand-built models are checked on the CPU everywhere, so a GPU session runs sound cases.
    let cases: Vec<_> = [("conv", conv), ("dense", dense)]
        .into_iter()
        .map(|(name, model)| {
            let n = model.input().numel();
            let inputs: Vec<Vec<i64>> = (0..5).map(|b| ints(n, 1 << 10, 10 + b)).collect();
            let want = cpu_batch(&model, &inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(want.len(), 5);
            (name, model, inputs, want)
        })
        .collect();
    let Some(gpu) = gpu() else { return };
    for (name, model, inputs, want) in cases {
        assert_eq!(gpu.run_batch(&model, &inputs).unwrap(), want, "{name}");
    }
}

/// Pooling (padding partly outside the image, averages with and without the
/// padding counted), table lookups and broadcast arithmetic, each one kernel
/// on the GPU.
#[test]
fn gpu_pooling_tables_and_arithmetic_equal_the_cpu() {
    let (window, [oh, ow]) = pool_window();
    let pool = |op| one_node(op, &[1, 2, 7, 6], &[1, 2, oh, ow]);
    let pool_shaped = |op| one_node(op, &[1, 2, 7, 6], &[1, 2, 7, 6]);
    // x op x: both operands from the one input value.
    let self_binary = |op| {
        let mut m = one_node(op, &[1, 2, 7, 6], &[1, 2, 7, 6]);
        m.nodes[0].inputs = vec![0, 0];
        m
    };
    let lut = one_node(
        QOp::Lut {
            function: cipherproof_model::quant::LutFunction::Sigmoid,
            in_shift: 2,
            offset: 128,
            table: ints(256, 1 << 12, 5),
        },
        &[1, 40],
        &[1, 40],
    );
    let cases: Vec<_> = [
        (
            "max",
            pool(QOp::MaxPool {
                window: window.clone(),
            }),
        ),
        (
            "avg with padding",
            pool(QOp::AvgPool {
                window: window.clone(),
                count_include_pad: true,
            }),
        ),
        (
            "avg without padding",
            pool(QOp::AvgPool {
                window,
                count_include_pad: false,
            }),
        ),
        ("lut", lut),
        (
            "add-const broadcast per channel",
            pool_shaped(QOp::AddConst {
                c: ints(2, 300, 7),
                c_shape: vec![1, 2, 1, 1],
                shift: 1,
            }),
        ),
        (
            "mul-const broadcast per column",
            pool_shaped(QOp::MulConst {
                c: ints(6, 300, 8),
                c_shape: vec![6],
                c_scale: 8,
                shift: 8,
            }),
        ),
        (
            "add aligned",
            self_binary(QOp::Add {
                align: [1, 0],
                shift: 1,
            }),
        ),
        (
            "sub aligned",
            self_binary(QOp::Sub {
                align: [0, 2],
                shift: 0,
            }),
        ),
        ("mul", self_binary(QOp::Mul { shift: 6 })),
    ]
    .into_iter()
    .map(|(name, model)| {
        let n = model.input().numel();
        let inputs: Vec<Vec<i64>> = (0..6).map(|b| ints(n, 500, 20 + b)).collect();
        let want = cpu_batch(&model, &inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        (name, model, inputs, want)
    })
    .collect();
    let Some(gpu) = gpu() else { return };
    for (name, model, inputs, want) in cases {
        assert_eq!(gpu.run_batch(&model, &inputs).unwrap(), want, "{name}");
    }
}

/// An index outside a table, and a value outside its range, are the CPU
/// reference's errors on the GPU too (naming the node and the value).
#[test]
fn gpu_overflows_are_the_cpu_errors() {
    let lut = one_node(
        QOp::Lut {
            function: cipherproof_model::quant::LutFunction::Sigmoid,
            in_shift: 0,
            offset: 8,
            table: ints(16, 100, 6),
        },
        &[1, 4],
        &[1, 4],
    );
    let dense = one_node(
        QOp::Dense {
            weight: vec![1 << 20; 4],
            weight_shape: [1, 4],
            bias: vec![0],
            weight_scale: 8,
            shift: 0,
        },
        &[1, 4],
        &[1, 1],
    );
    // Only sample 2 overflows: one error to expect.
    let mut ok = vec![vec![1, -2, 3, 0]; 4];
    ok[2] = vec![1, 9, 3, 0];
    let mut big = vec![vec![1, 1, 1, 1]; 4];
    big[2] = vec![1000, 1000, 1000, 1000];
    let cases: Vec<_> = [("lut", lut, ok, "9"), ("dense", dense, big, "4194304000")]
        .into_iter()
        .map(|(name, model, inputs, value)| {
            let want = cpu_batch(&model, &inputs).unwrap_err().to_string();
            assert!(want.contains(value), "{name}: {want}");
            (name, model, inputs, want)
        })
        .collect();
    let Some(gpu) = gpu() else { return };
    for (name, model, inputs, want) in cases {
        let got = gpu.run_batch(&model, &inputs).unwrap_err().to_string();
        assert_eq!(got, want, "{name}");
    }
}

/// x [1, 4] -> Dense (weights `w`, one output per row of `w`) -> ReLU, and,
/// when `shared`, Add(Dense, ReLU): the Dense output read twice.
fn dense_relu(w: Vec<i64>, outs: usize, shared: bool) -> QuantModel {
    let value = |name: &str, numel: usize| QValue {
        name: name.into(),
        shape: vec![1, numel],
        scale: 8,
        bits: 24,
        calibrated_max: 1.0,
    };
    let node = |name: &str, op: QOp, inputs: Vec<usize>, output: usize| QNode {
        name: name.into(),
        op,
        inputs,
        output,
    };
    let mut nodes = vec![
        node(
            "dense",
            QOp::Dense {
                weight: w,
                weight_shape: [outs, 4],
                bias: vec![3; outs],
                weight_scale: 8,
                shift: 2,
            },
            vec![0],
            1,
        ),
        node("relu", QOp::Relu, vec![1], 2),
    ];
    if shared {
        let add = QOp::Add {
            align: [0, 0],
            shift: 1,
        };
        nodes.push(node("add", add, vec![1, 2], 3));
    }
    let output = nodes.len();
    QuantModel {
        config: QuantConfig::default(),
        values: (0..=output)
            .map(|v| value(&format!("v{v}"), if v == 0 { 4 } else { outs }))
            .collect(),
        nodes,
        output,
        softmax_dropped: false,
    }
}

/// A ReLU fused into the Dense before it still checks the Dense's own range (a
/// large negative value the ReLU would hide is the CPU's error), and a Dense
/// whose output is read twice keeps it.
#[test]
fn gpu_fused_relu_equals_the_cpu_and_keeps_the_dense_range_check() {
    let inputs: Vec<Vec<i64>> = (0..6).map(|b| ints(4, 1 << 10, 20 + b)).collect();
    let sound: Vec<_> = [false, true]
        .into_iter()
        .map(|shared| {
            let model = dense_relu(ints(3 * 4, 500, 5), 3, shared);
            let want = cpu_batch(&model, &inputs).unwrap();
            (shared, model, want)
        })
        .collect();
    // Only sample 2 overflows the Dense's 24 bits, on the negative side: the
    // ReLU's output (0) is in range, the Dense's value is not.
    let overflow = dense_relu(vec![1 << 20; 4], 1, false);
    let mut big = vec![vec![1, 1, 1, 1]; 4];
    big[2] = vec![-1000; 4];
    let want = cpu_batch(&overflow, &big).unwrap_err().to_string();
    assert!(want.contains("dense") && want.contains("-1048575999"), "{want}");
    let Some(gpu) = gpu() else { return };
    for (shared, model, want) in sound {
        assert_eq!(gpu.run_batch(&model, &inputs).unwrap(), want, "shared: {shared}");
    }
    assert_eq!(gpu.run_batch(&overflow, &big).unwrap_err().to_string(), want);
}

/// A batch past the memory budget runs in chunks with the same outputs, and a
/// value out of range in a later chunk is the CPU reference's error.
#[test]
fn gpu_batches_past_the_memory_budget_run_in_chunks() {
    let (model, inputs) = fixture("digits_cnn", 100);
    let want = cpu_batch(&model, &inputs).unwrap();
    let overflow = dense_relu(vec![1 << 20; 4], 1, false);
    let mut big = vec![vec![1, 1, 1, 1]; 6];
    big[4] = vec![-1000; 4];
    let overflow_error = cpu_batch(&overflow, &big).unwrap_err().to_string();
    let Some(mut gpu) = gpu() else { return };
    let per_sample = gpu.upload(&model).unwrap().peak_bytes_per_sample();
    assert!(per_sample > 0);
    // Seven samples per chunk: fourteen chunks, the last of two.
    gpu.set_memory_budget(Some(per_sample * 7));
    assert_eq!(gpu.run_batch(&model, &inputs).unwrap(), want);
    // One sample per chunk: the fifth chunk fails.
    gpu.set_memory_budget(Some(1));
    let got = gpu.run_batch(&overflow, &big).unwrap_err().to_string();
    assert_eq!(got, overflow_error);
    gpu.set_memory_budget(None);
    assert_eq!(gpu.run_batch(&model, &inputs).unwrap(), want);
}
