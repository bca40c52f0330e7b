//! Bad input gets a clear, typed error naming the problem — never a panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use cipherproof_model::exec::float::FloatRunner;
use cipherproof_model::exec::integer::IntegerRunner;
use cipherproof_model::onnx::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto::Dimension,
    tensor_shape_proto::dimension::Value as Dim, type_proto,
};
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_model::{ModelError, import_onnx};
use prost::Message;

fn value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            value: Some(d.clone()),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(1),
        float_data: data.to_vec(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_0")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

/// input [batch, 3] -> Gemm(W [2,3], transB) -> Relu -> output [batch, 2]
fn tiny_model() -> ModelProto {
    let mut gemm = node("Gemm", &["input", "W", "b"], "h");
    gemm.attribute.push(AttributeProto {
        name: Some("transB".into()),
        i: Some(1),
        r#type: Some(2),
        ..Default::default()
    });
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            node: vec![gemm, node("Relu", &["h"], "output")],
            initializer: vec![
                tensor("W", &[2, 3], &[1.0, -2.0, 0.5, 0.25, 1.0, -1.0]),
                tensor("b", &[2], &[0.1, -0.2]),
            ],
            input: vec![value_info(
                "input",
                &[Dim::DimParam("batch".into()), Dim::DimValue(3)],
            )],
            output: vec![value_info(
                "output",
                &[Dim::DimParam("batch".into()), Dim::DimValue(2)],
            )],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn bytes(m: &ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

#[test]
fn the_tiny_model_imports_and_runs() {
    let g = import_onnx(&bytes(&tiny_model())).unwrap();
    assert_eq!(g.input().shape, vec![1, 3]);
    let y = FloatRunner::new(&g).unwrap().run(&[1.0, 1.0, 1.0]).unwrap();
    assert_eq!(y[0], 0.0);
    assert!((y[1] - 0.05).abs() < 1e-6, "{y:?}");
}

#[test]
fn empty_garbage_and_truncated_files_are_malformed() {
    assert!(matches!(
        import_onnx(&[]),
        Err(ModelError::MalformedOnnx(_))
    ));
    assert!(matches!(
        import_onnx(b"this is not an onnx file at all"),
        Err(ModelError::MalformedOnnx(_))
    ));
    let full = bytes(&tiny_model());
    for cut in [1, full.len() / 3, full.len() / 2, full.len() - 1] {
        assert!(
            import_onnx(&full[..cut]).is_err(),
            "truncated at {cut} of {}",
            full.len()
        );
    }
    let real = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/models/digits_cnn/model.onnx"
    ))
    .unwrap();
    for cut in (1..real.len()).step_by(97) {
        // Must return (Ok or Err), never panic.
        let _ = import_onnx(&real[..cut]);
    }
}

#[test]
fn raw_data_of_the_wrong_length_is_reported_as_truncation() {
    let mut m = tiny_model();
    let w = &mut m.graph.as_mut().unwrap().initializer[0];
    w.float_data.clear();
    w.raw_data = Some(vec![0u8; 10]);
    let err = import_onnx(&bytes(&m)).unwrap_err();
    assert!(
        matches!(err, ModelError::MalformedOnnx(ref s) if s.contains("'W'") && s.contains("truncated")),
        "{err}"
    );
}

#[test]
fn unsupported_operator_is_named_with_its_node() {
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().node[1].op_type = Some("Erf".into());
    let err = import_onnx(&bytes(&m)).unwrap_err();
    assert_eq!(err.to_string(), "unsupported operator Erf (node 'Relu_0')");
}

#[test]
fn operator_of_another_domain_is_named_with_its_domain() {
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().node[1].domain = Some("ai.onnx.ml".into());
    let err = import_onnx(&bytes(&m)).unwrap_err();
    assert!(err.to_string().contains("ai.onnx.ml.Relu"), "{err}");
}

#[test]
fn dynamic_non_batch_dimension_is_rejected() {
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().input[0] = value_info(
        "input",
        &[Dim::DimValue(1), Dim::DimParam("features".into())],
    );
    match import_onnx(&bytes(&m)) {
        Err(ModelError::DynamicShape { dim: 1, param, .. }) => assert_eq!(param, "features"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn shape_mismatch_is_an_invalid_graph() {
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().input[0] = value_info("input", &[Dim::DimValue(1), Dim::DimValue(4)]);
    assert!(matches!(
        import_onnx(&bytes(&m)),
        Err(ModelError::InvalidGraph { .. })
    ));
}

#[test]
fn non_finite_weights_are_named() {
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().initializer[0].float_data[4] = f32::NAN;
    match import_onnx(&bytes(&m)) {
        Err(ModelError::NonFiniteWeight {
            tensor, index: 4, ..
        }) => assert_eq!(tensor, "W"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn external_weights_are_refused() {
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().initializer[0].data_location = Some(1);
    assert!(matches!(
        import_onnx(&bytes(&m)),
        Err(ModelError::UnsupportedAttribute { .. })
    ));
}

#[test]
fn wrong_input_length_and_non_finite_inputs_are_rejected() {
    let g = import_onnx(&bytes(&tiny_model())).unwrap();
    let runner = FloatRunner::new(&g).unwrap();
    assert!(matches!(
        runner.run(&[1.0, 2.0]),
        Err(ModelError::InputLength {
            expected: 3,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        runner.run(&[1.0, f32::INFINITY, 0.0]),
        Err(ModelError::NonFiniteInput { index: 1, .. })
    ));
    assert!(matches!(
        quantize(&g, &[vec![0.0; 4]], &QuantConfig::default()),
        Err(ModelError::InputLength { .. })
    ));
    assert!(matches!(
        quantize(&g, &[], &QuantConfig::default()),
        Err(ModelError::EmptyCalibration)
    ));
}

#[test]
fn inputs_beyond_the_calibrated_range_are_rejected_not_wrapped() {
    let g = import_onnx(&bytes(&tiny_model())).unwrap();
    let model = quantize(&g, &[vec![1.0, -1.0, 0.5]], &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    // Twice the calibrated maximum still fits (one bit of headroom)...
    assert!(runner.quantize_input(0, &[1.9, -1.9, 0.0]).is_ok());
    // ...ten times does not.
    let err = runner.quantize_input(7, &[10.0, 0.0, 0.0]).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::InputOutOfRange {
                sample: 7,
                index: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn intermediate_overflow_names_the_node() {
    let g = import_onnx(&bytes(&tiny_model())).unwrap();
    // Calibrate where the hidden layer stays small, then feed an input within the
    // input range whose Gemm output exceeds the hidden layer's range.
    let model = quantize(
        &g,
        &[vec![1.0, 1.0, 1.0], vec![-1.0, -1.0, -1.0]],
        &QuantConfig::default(),
    )
    .unwrap();
    let runner = IntegerRunner::new(&model).unwrap();
    let q = runner.quantize_input(0, &[1.9, -1.9, 1.9]).unwrap();
    match runner.run(&q) {
        Err(ModelError::Overflow { node, bits: 16, .. }) => assert_eq!(node, "Gemm_0"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_quantization_configs_are_rejected() {
    let g = import_onnx(&bytes(&tiny_model())).unwrap();
    let bad = QuantConfig {
        activation_bits: 40,
        ..QuantConfig::default()
    };
    assert!(matches!(
        quantize(&g, &[vec![0.0; 3]], &bad),
        Err(ModelError::InvalidConfig(_))
    ));
}

#[test]
fn softmax_in_the_middle_is_unsupported() {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.node.insert(1, node("Softmax", &["h"], "s"));
    g.node[2].input[0] = "s".into();
    let err = import_onnx(&bytes(&m)).unwrap_err();
    assert!(
        err.to_string()
            .contains("only supported as the model's final op"),
        "{err}"
    );
}

#[test]
fn a_constant_scale_after_a_layer_folds_into_it() {
    // Gemm -> Mul(per-output constant) -> Relu: the Mul disappears into the Gemm,
    // with the same outputs as the unfolded arithmetic.
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.node[1] = node("Relu", &["s"], "output");
    g.node.insert(1, node("Mul", &["h", "k"], "s"));
    g.initializer.push(tensor("k", &[2], &[2.0, -0.5]));
    let graph = import_onnx(&bytes(&m)).unwrap();
    assert_eq!(
        graph.nodes.len(),
        2,
        "{:?}",
        graph.nodes.iter().map(|n| &n.name).collect::<Vec<_>>()
    );
    let y = FloatRunner::new(&graph)
        .unwrap()
        .run(&[1.0, 1.0, 1.0])
        .unwrap();
    // W·1 + b = [-0.4, 0.05]; scaled [-0.8, -0.025]; relu 0.
    assert_eq!(y, vec![0.0, 0.0]);
    let y = FloatRunner::new(&graph)
        .unwrap()
        .run(&[1.0, -1.0, 0.0])
        .unwrap();
    // W·x + b = [3.1, -0.95]; scaled [6.2, 0.475].
    assert!(
        (y[0] - 6.2).abs() < 1e-5 && (y[1] - 0.475).abs() < 1e-5,
        "{y:?}"
    );
}

fn int_attr(n: &mut NodeProto, name: &str, v: i64) {
    n.attribute.push(AttributeProto {
        name: Some(name.into()),
        i: Some(v),
        r#type: Some(2),
        ..Default::default()
    });
}

/// input [batch, 4] through `nodes` (the last writes "output"), with `inits`.
fn graph_of(nodes: Vec<NodeProto>, inits: Vec<TensorProto>) -> ModelProto {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.node = nodes;
    g.initializer = inits;
    g.input = vec![value_info(
        "input",
        &[Dim::DimParam("batch".into()), Dim::DimValue(4)],
    )];
    m
}

/// Float and integer outputs of `m` on `x` (calibrated on `x`), or the first error.
fn both_runs(m: &ModelProto, x: &[f32]) -> Result<(Vec<f32>, Vec<f64>), ModelError> {
    let g = import_onnx(&bytes(m))?;
    let float = FloatRunner::new(&g)?.run(x)?;
    let q = quantize(&g, &[x.to_vec()], &QuantConfig::default())?;
    let runner = IntegerRunner::new(&q)?;
    let out = runner.run(&runner.quantize_input(0, x)?)?;
    Ok((
        float,
        cipherproof_model::exec::integer::dequantize_output(&q, &out),
    ))
}

#[test]
fn comparisons_pick_table_rows_in_both_executors() {
    // Greater(input, t) -> Cast(int64) -> Gather(table[2, 2], ·): the row of each feature's bit.
    let mut cast = node("Cast", &["bits"], "idx");
    int_attr(&mut cast, "to", 7);
    let m = graph_of(
        vec![
            node("Greater", &["input", "t"], "bits"),
            cast,
            node("Gather", &["table", "idx"], "output"),
        ],
        vec![
            tensor("t", &[4], &[0.5, 0.5, -1.0, 2.0]),
            tensor("table", &[2, 2], &[1.5, -2.0, 0.25, 3.0]),
        ],
    );
    let (float, integer) = both_runs(&m, &[0.75, 0.5, -0.5, 1.0]).unwrap();
    // Bits 1, 0 (0.5 > 0.5 is false), 1, 0.
    let want = [0.25, 3.0, 1.5, -2.0, 0.25, 3.0, 1.5, -2.0];
    assert_eq!(float, want);
    assert_eq!(integer, want.map(f64::from));
}

#[test]
fn argmax_takes_the_first_maximum_and_a_missing_row_is_an_error() {
    let mut argmax = node("ArgMax", &["input"], "i");
    int_attr(&mut argmax, "axis", 1);
    int_attr(&mut argmax, "keepdims", 0);
    let m = graph_of(
        vec![argmax, node("Gather", &["table", "i"], "output")],
        vec![tensor("table", &[4], &[10.0, 20.0, 30.0, 40.0])],
    );
    let (float, integer) = both_runs(&m, &[1.0, 3.0, 3.0, -2.0]).unwrap();
    assert_eq!((float, integer), (vec![20.0], vec![20.0]));
    // A three-row table has no row 3: both executors say so.
    let mut short = m.clone();
    short.graph.as_mut().unwrap().initializer = vec![tensor("table", &[3], &[10.0, 20.0, 30.0])];
    let g = import_onnx(&bytes(&short)).unwrap();
    let x = [0.0, 1.0, 2.0, 3.0];
    let err = FloatRunner::new(&g).unwrap().run(&x).unwrap_err();
    assert!(err.to_string().contains("not a row of the 3-row table"), "{err}");
    let q = quantize(&g, &[[3.0, 2.0, 1.0, 0.0].to_vec()], &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&q).unwrap();
    let err = runner
        .run(&runner.quantize_input(0, &x).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("not a row of the 3-row table"), "{err}");
}

#[test]
fn integer_only_uses_of_real_values_are_refused() {
    let refused = |nodes: Vec<NodeProto>, inits: Vec<TensorProto>, says: &str| {
        let err = import_onnx(&bytes(&graph_of(nodes, inits))).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    };
    let mut cast = node("Cast", &["input"], "output");
    int_attr(&mut cast, "to", 7);
    refused(vec![cast], vec![], "not known to be integers");
    refused(
        vec![node("And", &["input", "input"], "output")],
        vec![],
        "not known to be boolean",
    );
    refused(
        vec![node("Gather", &["table", "input"], "output")],
        vec![tensor("table", &[4], &[1.0, 2.0, 3.0, 4.0])],
        "not known to be integers",
    );
    let mut last = node("ArgMax", &["input"], "output");
    int_attr(&mut last, "select_last_index", 1);
    refused(vec![last], vec![], "select_last_index");
    refused(
        vec![node("Less", &["input", "t"], "output")],
        vec![tensor("t", &[2, 4], &[0.0; 8])],
        "does not broadcast into",
    );
}

fn double_tensor(name: &str, dims: &[i64], data: &[f64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(11),
        double_data: data.to_vec(),
        ..Default::default()
    }
}

#[test]
fn a_table_index_rounded_by_quantization_is_refused() {
    // ArgMax -> Mul by an integer constant -> Gather: 3 is kept exactly; 513 needs 11 weight
    // bits, so at 10 it becomes 514 and would pick the wrong row: refused, not rounded.
    let tree = |k: f32| {
        let mut argmax = node("ArgMax", &["input"], "i");
        int_attr(&mut argmax, "axis", 1);
        int_attr(&mut argmax, "keepdims", 0);
        let rows = (3.0 * k) as usize + 1;
        let table: Vec<f32> = (0..rows).map(|r| r as f32).collect();
        graph_of(
            vec![
                argmax,
                node("Mul", &["i", "k"], "j"),
                node("Gather", &["table", "j"], "output"),
            ],
            vec![
                tensor("k", &[1], &[k]),
                tensor("table", &[rows as i64], &table),
            ],
        )
    };
    let (float, integer) = both_runs(&tree(3.0), &[0.0, 1.0, 0.5, 2.0]).unwrap();
    assert_eq!((float, integer), (vec![9.0], vec![9.0]));
    let err = both_runs(&tree(513.0), &[0.0, 1.0, 0.5, 2.0]).unwrap_err();
    assert!(err.to_string().contains("not exact integers"), "{err}");
    // A cast of those integers to a narrow type could wrap: refused.
    let mut cast = node("Cast", &["j"], "output");
    int_attr(&mut cast, "to", 3);
    let mut m = tree(3.0);
    m.graph.as_mut().unwrap().node[2] = cast;
    let err = import_onnx(&bytes(&m)).unwrap_err();
    assert!(err.to_string().contains("narrow"), "{err}");
}

#[test]
fn a_threshold_below_the_input_step_still_decides_exactly() {
    // Inputs near 10^6 get a scale of 2^-5; the smallest double times 2^-5 underflows to 0,
    // but 0 < 5e-324 still holds, and 1 step above 0 does not stay below it.
    let m = graph_of(
        vec![node("Less", &["input", "t"], "output")],
        vec![double_tensor("t", &[1], &[5e-324])],
    );
    let g = import_onnx(&bytes(&m)).unwrap();
    let q = quantize(&g, &[vec![1.0e6, -1.0e6, 0.0, 0.0]], &QuantConfig::default()).unwrap();
    assert!(q.input().scale < 0, "scale {}", q.input().scale);
    let runner = IntegerRunner::new(&q).unwrap();
    let x = [0.0, -64.0, 64.0, 1.0e6];
    let out = runner.run(&runner.quantize_input(0, &x).unwrap()).unwrap();
    assert_eq!(out, [1, 1, 0, 0]);
    assert_eq!(FloatRunner::new(&g).unwrap().run(&x).unwrap(), [1.0, 1.0, 0.0, 0.0]);
}

#[test]
fn selection_ops_edited_out_of_shape_are_refused_before_running() {
    use cipherproof_model::quant::QOp;
    // Less(input, input) -> ArgMax -> Gather: every node feeds the output (none is pruned).
    let mut argmax = node("ArgMax", &["b"], "i");
    int_attr(&mut argmax, "axis", 1);
    int_attr(&mut argmax, "keepdims", 0);
    let m = graph_of(
        vec![
            node("Less", &["input", "input"], "b"),
            argmax,
            node("Gather", &["table", "i"], "output"),
        ],
        vec![tensor("table", &[4], &[1.0, 2.0, 3.0, 4.0])],
    );
    let g = import_onnx(&bytes(&m)).unwrap();
    let good = quantize(&g, &[vec![0.5, 1.0, -1.0, 0.25]], &QuantConfig::default()).unwrap();
    IntegerRunner::new(&good).unwrap();
    let edits: [(&str, fn(&mut QOp)); 4] = [
        ("exceed 60 bits", |op| {
            if let QOp::Compare { align, .. } = op {
                align[0] = 70;
            }
        }),
        ("index shift", |op| {
            if let QOp::GatherConst { index_shift, .. } = op {
                *index_shift = 64;
            }
        }),
        ("in 0 rows", |op| {
            if let QOp::GatherConst { rows, .. } = op {
                *rows = 0;
            }
        }),
        ("in 3 rows", |op| {
            if let QOp::GatherConst { rows, .. } = op {
                *rows = 3;
            }
        }),
    ];
    assert!(good.nodes.iter().any(|n| matches!(n.op, QOp::Compare { .. })));
    for (says, edit) in edits {
        let mut bad = good.clone();
        bad.nodes.iter_mut().for_each(|n| edit(&mut n.op));
        let err = IntegerRunner::new(&bad).unwrap_err();
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
}

fn int_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![data.len() as i64],
        data_type: Some(7),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

#[test]
fn reductions_over_trailing_axes_sum_and_average() {
    let reduce = |op: &str, axes: &[i64], keep: i64| {
        let mut r = node(op, &["input"], "output");
        r.attribute.push(AttributeProto {
            name: Some("axes".into()),
            ints: axes.to_vec(),
            r#type: Some(7),
            ..Default::default()
        });
        int_attr(&mut r, "keepdims", keep);
        let mut m = graph_of(vec![r], vec![]);
        // Opset 11: axes as an attribute for both.
        m.opset_import[0].version = Some(11);
        m
    };
    let x = [0.5, 1.0, -0.25, 2.0];
    let (f, q) = both_runs(&reduce("ReduceSum", &[1], 0), &x).unwrap();
    assert_eq!((f, q), (vec![3.25], vec![3.25]));
    let (f, q) = both_runs(&reduce("ReduceMean", &[-1], 1), &x).unwrap();
    assert_eq!((f, q), (vec![0.8125], vec![0.8125]));
    let g = import_onnx(&bytes(&reduce("ReduceMean", &[-1], 1))).unwrap();
    assert_eq!(g.output_info().shape, vec![1, 1]);
    // Opset 13: ReduceSum takes its axes as an input.
    let mut m = graph_of(
        vec![node("ReduceSum", &["input", "axes"], "output")],
        vec![int_tensor("axes", &[1])],
    );
    m.opset_import[0].version = Some(13);
    let (f, _) = both_runs(&m, &x).unwrap();
    assert_eq!(f, vec![3.25]);
    // Over the batch axis alone: not a trailing run of axes.
    let err = import_onnx(&bytes(&reduce("ReduceSum", &[0], 1))).unwrap_err();
    assert!(err.to_string().contains("only trailing axes"), "{err}");
}

#[test]
fn gather_elements_takes_runtime_or_constant_indices() {
    // idx = (input < 0) + [0, 1, 3, 0]; output = input[0, idx]: a data-dependent pick.
    let mut cast = node("Cast", &["neg"], "bit");
    int_attr(&mut cast, "to", 7);
    let mut gather = node("GatherElements", &["input", "idx"], "output");
    int_attr(&mut gather, "axis", 1);
    let m = graph_of(
        vec![
            node("Less", &["input", "zero"], "neg"),
            cast,
            node("Add", &["bit", "offset"], "idx"),
            gather.clone(),
        ],
        vec![
            tensor("zero", &[1], &[0.0]),
            int_tensor("offset", &[0, 1, 3, 0]),
        ],
    );
    let x = [0.5, -1.0, 2.0, -0.25];
    // idx = [0, 2, 3, 1].
    let (f, q) = both_runs(&m, &x).unwrap();
    assert_eq!(f, [0.5, 2.0, -0.25, -1.0]);
    assert_eq!(q, [0.5, 2.0, -0.25, -1.0]);
    // Index 3 + 1 is past the axis: both executors say so.
    let g = import_onnx(&bytes(&m)).unwrap();
    let y = [0.5, 1.0, 2.0, -3.0];
    let err = FloatRunner::new(&g).unwrap().run(&[0.5, 1.0, -2.0, 1.0]).unwrap_err();
    assert!(err.to_string().contains("not within the axis of 4"), "{err}");
    let q = quantize(&g, &[y.to_vec()], &QuantConfig::default()).unwrap();
    let runner = IntegerRunner::new(&q).unwrap();
    let err = runner
        .run(&runner.quantize_input(0, &[0.5, 1.0, -2.0, 1.0]).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("not within the axis of 4"), "{err}");
    // Constant indices are a fixed pick.
    let mut m = graph_of(vec![gather], vec![]);
    m.graph.as_mut().unwrap().initializer = vec![TensorProto {
        dims: vec![1, 4],
        ..int_tensor("idx", &[3, -1, 0, 0])
    }];
    let g = import_onnx(&bytes(&m)).unwrap();
    assert_eq!(g.nodes[0].op.kind(), "Pick");
    assert_eq!(FloatRunner::new(&g).unwrap().run(&x).unwrap(), [-0.25, -0.25, 0.5, 0.5]);
}
