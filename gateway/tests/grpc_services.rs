//! Every gateway service end to end through tonic clients, in process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use cipherproof_gateway::proto::inference::infer_parameter::ParameterChoice;
use cipherproof_gateway::proto::inference::model_infer_request::InferInputTensor;
use cipherproof_gateway::proto::inference::*;
use cipherproof_gateway::Gateway;
use cipherproof_gateway::proto::v1::*;
use cipherproof_model::exec::integer;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize_for_range};
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::{compile, verify};
use common::*;
use std::collections::HashMap;
use tonic::Code;

const DIGITS: &str = "digits_mlp/model.onnx";
const DIGITS_INPUT: &str = "digits_mlp/input.json";

/// The quantized digits MLP computed without the gateway (the default input range of registration).
fn reference(x: &[f32]) -> Vec<i64> {
    let graph = import_onnx(&onnx(DIGITS)).unwrap();
    let model = quantize_for_range(&graph, 1.0, &QuantConfig::default()).unwrap();
    integer::run(&model, x).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_infer_prove_and_fetch_the_proof() {
    let mut cfg = config("e2e");
    cfg.metrics = Some("127.0.0.1:0".parse().unwrap());
    let gw = start(cfg).await;
    let mut c = clients(&gw, None).await;
    let info = register(&mut c, "digits", DIGITS).await.unwrap();
    assert_eq!(info.name, "digits");
    assert_eq!(info.model_id.len(), 64);
    assert!(info.circuit.unwrap().k >= 10);
    assert_eq!(info.vk_hash.len(), 64);

    let got = c.models.get_model(GetModelRequest { model: "digits".into() }).await.unwrap().into_inner();
    assert_eq!(got.model_id, info.model_id);
    let by_id = c.models.get_model(GetModelRequest { model: info.model_id.clone() }).await.unwrap().into_inner();
    assert_eq!(by_id.name, "digits");
    let list = c.models.list_models(ListModelsRequest {}).await.unwrap().into_inner();
    assert_eq!(list.models.len(), 1);

    let x = input(DIGITS_INPUT);
    let want = reference(&x);
    let plain = c
        .infer
        .infer(InferRequest { model: "digits".into(), input: x.clone(), mode: InferenceMode::Plain as i32 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plain.quantized_outputs, want);
    assert!(plain.job_id.is_empty());

    let proven = c
        .infer
        .infer(InferRequest { model: "digits".into(), input: x.clone(), mode: InferenceMode::Proven as i32 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proven.quantized_outputs, want);
    let states = watch(&mut c, &proven.job_id).await;
    let last = states.last().unwrap();
    assert_eq!(JobState::try_from(last.state), Ok(JobState::Succeeded), "{last:?}");
    assert_eq!(last.attempts, 1);
    assert_eq!(last.quantized_outputs, want);
    assert!(last.prove_seconds > 0.0);

    let proof = c.jobs.get_proof(GetJobRequest { job_id: proven.job_id.clone() }).await.unwrap().into_inner();
    assert!(!proof.proof.is_empty());
    assert_eq!(proof.instances.len(), 1, "ten 16-bit logits packed in one word");
    assert!(proof.evm_calldata.len() > proof.proof.len());
    // The stored proof verifies against the compiled model, and is for these outputs.
    let file: ProofFile = serde_json::from_slice(&proof.proof_file).unwrap();
    assert_eq!(file.quantized_outputs, want);
    let dir = gw.shared.config.data_dir.join("models").join(&info.model_id);
    let compiled = compile::load(&dir).unwrap();
    let params = compile::load_params(&compiled.circuit.srs, compiled.circuit.shape.k(), &gw.shared.config.data_dir.join("cache")).unwrap();
    verify::verify(&compiled, &params, &file).unwrap();
    // A proof with a changed output is not accepted.
    let mut forged = file.clone();
    forged.quantized_outputs[0] += 1;
    let bits = compiled.model.values[compiled.model.output].bits;
    let word = cipherproof_circuits::packing::pack(&forged.quantized_outputs, bits).unwrap();
    forged.instances[0][0] = cipherproof_prover::artifact::fr_to_hex(&word[0]);
    assert!(verify::verify(&compiled, &params, &forged).is_err());
    // The proof is counted under the engine that made it (the CPU without a GPU build).
    let text = http_get(gw.metrics_addr.unwrap(), "/metrics").await;
    let counted = format!("cipherproof_proofs_total{{engine=\"{}\"}} 1", gw.shared.engines.name());
    assert!(text.contains(&counted), "{counted} missing from {text}");
    // No job went from the GPU to the CPU.
    assert!(text.contains("cipherproof_gpu_fallbacks_total 0"), "{text}");

    gw.shutdown().await.unwrap();
}

/// EZKL's decision_tree through the gateway: registered for inputs within ±8 (iris features
/// reach 7.9), a PROVEN inference of a virginica sample proves class 2 and the proof verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_tree_registers_and_proves_its_class() {
    const TREE: &str = "ezkl/decision_tree/network.onnx";
    let gw = start(config("tree")).await;
    let mut c = clients(&gw, None).await;
    let mut msgs = register_messages("tree", &onnx(TREE), 4096);
    if let Some(register_model_request::Part::Options(o)) = &mut msgs[0].part {
        o.input_range = 8.0;
    }
    let info = c.models.register_model(tokio_stream::iter(msgs)).await.unwrap().into_inner().model.unwrap();
    // Iris sample 101 (virginica): 6.3, 3.3, 6.0, 2.5.
    let x = vec![6.3, 3.3, 6.0, 2.5];
    let model = quantize_for_range(&import_onnx(&onnx(TREE)).unwrap(), 8.0, &QuantConfig::default()).unwrap();
    let want = integer::run(&model, &x).unwrap();
    assert_eq!(integer::dequantize_output(&model, &want), [2.0]);
    let proven = c
        .infer
        .infer(InferRequest { model: "tree".into(), input: x, mode: InferenceMode::Proven as i32 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proven.quantized_outputs, want);
    let last = watch(&mut c, &proven.job_id).await.pop().unwrap();
    assert_eq!(JobState::try_from(last.state), Ok(JobState::Succeeded), "{last:?}");
    let proof = c.jobs.get_proof(GetJobRequest { job_id: proven.job_id }).await.unwrap().into_inner();
    let file: ProofFile = serde_json::from_slice(&proof.proof_file).unwrap();
    let dir = gw.shared.config.data_dir.join("models").join(&info.model_id);
    let compiled = compile::load(&dir).unwrap();
    let params = compile::load_params(&compiled.circuit.srs, compiled.circuit.shape.k(), &gw.shared.config.data_dir.join("cache")).unwrap();
    verify::verify(&compiled, &params, &file).unwrap();
    assert_eq!(file.quantized_outputs, want);
    gw.shutdown().await.unwrap();
}

/// `serve --backend cuda` where the binary has no CUDA prover, or the machine
/// no device, does not start (rather than proving on the CPU unasked); `auto`
/// then proves on the CPU.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cuda_backend_that_cannot_run_refuses_to_start() {
    use cipherproof_cuda::Backend;
    use cipherproof_prover::prove::HAS_CUDA_PROVER;
    let mut cfg = config("cuda");
    cfg.prove_backend = Backend::Cuda;
    match Gateway::start(cfg).await {
        Ok(gw) => {
            let started_as = gw.shared.engines.name();
            assert!(HAS_CUDA_PROVER && started_as == "cuda", "--backend cuda started proving on {started_as}");
            gw.shutdown().await.unwrap();
        }
        Err(e) => {
            let msg = e.to_string();
            let why = if HAS_CUDA_PROVER { "CUDA" } else { "--features cuda" };
            assert!(msg.contains(why), "{msg}");
        }
    }
    let mut cfg = config("auto");
    cfg.prove_backend = Backend::Auto;
    let gw = start(cfg).await;
    if !HAS_CUDA_PROVER {
        assert_eq!(gw.shared.engines.name(), "cpu");
        assert!(gw.shared.engines.describe().starts_with("CPU"), "{}", gw.shared.engines.describe());
    }
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kserve_v2_metadata_and_infer() {
    let gw = start(config("kserve")).await;
    let mut c = clients(&gw, None).await;
    register(&mut c, "digits", DIGITS).await.unwrap();
    assert!(c.kserve.server_live(ServerLiveRequest {}).await.unwrap().into_inner().live);
    assert!(c.kserve.server_ready(ServerReadyRequest {}).await.unwrap().into_inner().ready);
    let ready = |name: &str| ModelReadyRequest { name: name.into(), version: String::new() };
    assert!(c.kserve.model_ready(ready("digits")).await.unwrap().into_inner().ready);
    assert!(!c.kserve.model_ready(ready("nope")).await.unwrap().into_inner().ready);
    let meta = c
        .kserve
        .model_metadata(ModelMetadataRequest { name: "digits".into(), version: String::new() })
        .await
        .unwrap()
        .into_inner();
    let input_meta = &meta.inputs[0];
    assert_eq!(input_meta.datatype, "FP32");
    let x = input(DIGITS_INPUT);
    assert_eq!(input_meta.shape.iter().product::<i64>() as usize, x.len());
    let want = reference(&x);

    let tensor = |contents: Option<InferTensorContents>| InferInputTensor {
        name: input_meta.name.clone(),
        datatype: "FP32".into(),
        shape: input_meta.shape.clone(),
        parameters: HashMap::new(),
        contents,
    };
    // Raw bytes in, raw bytes out.
    let raw: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let r = c
        .kserve
        .model_infer(ModelInferRequest {
            model_name: "digits".into(),
            inputs: vec![tensor(None)],
            raw_input_contents: vec![raw.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let q_index = r.outputs.iter().position(|o| o.name == "quantized_output").unwrap();
    let q: Vec<i64> = r.raw_output_contents[q_index]
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(q, want);

    // Typed contents in and out, one requested output, and a proof job.
    let mut params = HashMap::new();
    params.insert("prove".to_string(), InferParameter { parameter_choice: Some(ParameterChoice::BoolParam(true)) });
    let r = c
        .kserve
        .model_infer(ModelInferRequest {
            model_name: "digits".into(),
            parameters: params,
            inputs: vec![tensor(Some(InferTensorContents { fp32_contents: x.clone(), ..Default::default() }))],
            outputs: vec![model_infer_request::InferRequestedOutputTensor { name: "argmax".into(), parameters: HashMap::new() }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.outputs.len(), 1);
    let argmax = r.outputs[0].contents.as_ref().unwrap().int64_contents[0];
    assert_eq!(argmax as usize, cipherproof_model::exec::argmax(&want).unwrap());
    let job = match r.parameters.get("proof_job_id").and_then(|p| p.parameter_choice.clone()) {
        Some(ParameterChoice::StringParam(s)) => s,
        other => panic!("no proof_job_id: {other:?}"),
    };
    let states = watch(&mut c, &job).await;
    assert_eq!(JobState::try_from(states.last().unwrap().state), Ok(JobState::Succeeded));

    // Wrong dtype, wrong shape, wrong byte count: INVALID_ARGUMENT naming the field.
    let mut bad = tensor(None);
    bad.datatype = "INT32".into();
    let e = c
        .kserve
        .model_infer(ModelInferRequest { model_name: "digits".into(), inputs: vec![bad], raw_input_contents: vec![raw.clone()], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(violations(&e)[0].0, "inputs[0].datatype");
    let mut bad = tensor(None);
    bad.shape = vec![1, x.len() as i64 + 1];
    let e = c
        .kserve
        .model_infer(ModelInferRequest { model_name: "digits".into(), inputs: vec![bad], raw_input_contents: vec![raw.clone()], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(violations(&e)[0].0, "inputs[0].shape");
    let e = c
        .kserve
        .model_infer(ModelInferRequest { model_name: "digits".into(), inputs: vec![tensor(None)], raw_input_contents: vec![raw[..12].to_vec()], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_invalid_argument_with_details() {
    let mut cfg = config("malformed");
    cfg.max_model_bytes = 64 << 10;
    let gw = start(cfg).await;
    let mut c = clients(&gw, None).await;

    let e = c.models.register_model(tokio_stream::iter(register_messages("junk", b"not an onnx file", 16))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e)[0].0, "onnx");
    // A valid protobuf declaring a tensor of 2^63 values: refused by name, nothing allocated.
    let mut hostile = cipherproof_model::onnx::decode_model(&onnx(DIGITS)).unwrap();
    hostile.graph.as_mut().unwrap().initializer[0].dims = vec![i64::MAX, 2];
    let hostile = prost::Message::encode_to_vec(&hostile);
    let e = c.models.register_model(tokio_stream::iter(register_messages("hostile", &hostile, 4096))).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "onnx", "{e:?}");
    assert!(e.message().contains("limit per tensor"), "{}", e.message());
    let big = vec![0u8; 100 << 10];
    let e = c.models.register_model(tokio_stream::iter(register_messages("big", &big, 32 << 10))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("limit"), "{}", e.message());
    let e = c.models.register_model(tokio_stream::iter(register_messages("bad/name", &onnx(DIGITS), 4096))).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "name");
    let no_options = vec![RegisterModelRequest { part: Some(register_model_request::Part::OnnxChunk(vec![1, 2, 3])) }];
    let e = c.models.register_model(tokio_stream::iter(no_options)).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "options");

    register(&mut c, "digits", DIGITS).await.unwrap();
    let infer = |input: Vec<f32>| InferRequest { model: "digits".into(), input, mode: InferenceMode::Plain as i32 };
    let e = c.infer.infer(infer(vec![0.5; 3])).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(violations(&e)[0].0, "input");
    let mut x = input(DIGITS_INPUT);
    x[0] = 1e9;
    let e = c.infer.infer(infer(x.clone())).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    x[0] = f32::NAN;
    let e = c.infer.infer(infer(x)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = c.infer.infer(InferRequest { model: "nope".into(), input: vec![], mode: 0 }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c.infer.infer(InferRequest { model: "digits".into(), input: input(DIGITS_INPUT), mode: 7 }).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "mode");
    let e = c.jobs.get_job(GetJobRequest { job_id: "../../etc".into() }).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "job_id");
    let e = c.jobs.get_job(GetJobRequest { job_id: "0".repeat(32) }).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // A message over the transport limit never reaches a handler.
    let e = c
        .infer
        .infer(InferRequest { model: "digits".into(), input: vec![0.0; 2 << 20], mode: 0 })
        .await
        .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    // Encrypted inference of a model that needs bootstrapping, a key upload without options.
    let e = c
        .infer
        .infer_encrypted(InferEncryptedRequest { model: "digits".into(), key_id: "k".into(), ciphertext: vec![1, 2, 3] })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("cannot run encrypted"), "{}", e.message());
    let mut keys = key_service_client::KeyServiceClient::new(c.channel.clone());
    let upload = vec![UploadServerKeyRequest { part: Some(upload_server_key_request::Part::KeyChunk(vec![0; 8])) }];
    let e = keys.upload_server_key(tokio_stream::iter(upload)).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "options");
    let mut studies = study_service_client::StudyServiceClient::new(c.channel.clone());
    let e = studies
        .create_study(CreateStudyRequest { name: "s".into(), study_public: vec![7; 64], members: vec![] })
        .await
        .unwrap_err();
    assert_eq!(violations(&e)[0].0, "study_public");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated_and_keys_required() {
    let mut cfg = config("tenants");
    let keys = cfg.data_dir.join("keys.json");
    std::fs::write(
        &keys,
        r#"{"tenants": {"alice": ["alice-key-0123456789"], "bob": ["sha256:e0b3b5b6a4a0f4b97ff0a35b1b0e7e8a4b1e0f2a4d4c5f8f8f1f4e0b4a0f0e1d", "bob-key-0123456789ab"]}}"#,
    )
    .unwrap();
    cfg.api_keys = Some(keys);
    let gw = start(cfg).await;
    let mut anon = clients(&gw, None).await;
    let e = anon.models.list_models(ListModelsRequest {}).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let mut wrong = clients(&gw, Some("not-a-key-at-all-000")).await;
    assert_eq!(wrong.models.list_models(ListModelsRequest {}).await.unwrap_err().code(), Code::Unauthenticated);

    let mut alice = clients(&gw, Some("alice-key-0123456789")).await;
    let mut bob = clients(&gw, Some("bob-key-0123456789ab")).await;
    let info = register(&mut alice, "digits", DIGITS).await.unwrap();
    let x = input(DIGITS_INPUT);
    let job = alice
        .infer
        .infer(InferRequest { model: "digits".into(), input: x.clone(), mode: InferenceMode::Proven as i32 })
        .await
        .unwrap()
        .into_inner()
        .job_id;

    assert!(bob.models.list_models(ListModelsRequest {}).await.unwrap().into_inner().models.is_empty());
    for model in ["digits".to_string(), info.model_id.clone()] {
        let e = bob.models.get_model(GetModelRequest { model: model.clone() }).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
        let e = bob.infer.infer(InferRequest { model, input: x.clone(), mode: 0 }).await.unwrap_err();
        assert_eq!(e.code(), Code::NotFound);
    }
    let req = || GetJobRequest { job_id: job.clone() };
    assert_eq!(bob.jobs.get_job(req()).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(bob.jobs.get_proof(req()).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(bob.jobs.cancel_job(req()).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(bob.jobs.watch_job(req()).await.unwrap_err().code(), Code::NotFound);
    let e = bob
        .kserve
        .model_metadata(ModelMetadataRequest { name: "digits".into(), version: String::new() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // Alice's job still completes for Alice.
    let states = watch(&mut alice, &job).await;
    assert_eq!(JobState::try_from(states.last().unwrap().state), Ok(JobState::Succeeded));
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_and_queued_jobs_cancel() {
    let mut cfg = config("queue");
    cfg.workers = 0; // accept jobs, prove none: the queue only fills
    cfg.max_queue = 2;
    let gw = start(cfg).await;
    let mut c = clients(&gw, None).await;
    register(&mut c, "digits", DIGITS).await.unwrap();
    let proven = || InferRequest { model: "digits".into(), input: input(DIGITS_INPUT), mode: InferenceMode::Proven as i32 };
    let a = c.infer.infer(proven()).await.unwrap().into_inner().job_id;
    let _b = c.infer.infer(proven()).await.unwrap().into_inner().job_id;
    let e = c.infer.infer(proven()).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    // Plain inference is still served while the proof queue is full.
    c.infer.infer(InferRequest { mode: 0, ..proven() }).await.unwrap();

    let cancelled = c.jobs.cancel_job(GetJobRequest { job_id: a.clone() }).await.unwrap().into_inner();
    assert_eq!(JobState::try_from(cancelled.state), Ok(JobState::Cancelled));
    let e = c.jobs.cancel_job(GetJobRequest { job_id: a.clone() }).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = c.jobs.get_proof(GetJobRequest { job_id: a }).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    // The cancelled job freed a slot.
    c.infer.infer(proven()).await.unwrap();
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_shed_with_resource_exhausted() {
    let mut cfg = config("overload");
    cfg.max_in_flight = 1;
    let gw = start(cfg).await;
    let mut c = clients(&gw, None).await;
    register(&mut c, "digits", DIGITS).await.unwrap();
    let req = InferRequest { model: "digits".into(), input: input(DIGITS_INPUT), mode: 0 };
    let calls: Vec<_> = (0..256)
        .map(|_| {
            let mut client = c.infer.clone();
            let req = req.clone();
            tokio::spawn(async move { client.infer(req).await.map(|_| ()).map_err(|s| s.code()) })
        })
        .collect();
    let mut codes = Vec::new();
    for call in calls {
        codes.push(call.await.unwrap());
    }
    let shed = codes.iter().filter(|c| **c == Err(Code::ResourceExhausted)).count();
    let ok = codes.iter().filter(|c| c.is_ok()).count();
    assert_eq!(shed + ok, codes.len(), "only OK or RESOURCE_EXHAUSTED: {codes:?}");
    assert!(shed > 0 && ok > 0, "ok {ok}, shed {shed}");
    // Still serving.
    c.infer.infer(req).await.unwrap();
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reflection_and_metrics() {
    let mut cfg = config("health");
    cfg.metrics = Some("127.0.0.1:0".parse().unwrap());
    let gw = start(cfg).await;
    let c = clients(&gw, None).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(c.channel.clone());
    let r = health
        .check(tonic_health::pb::HealthCheckRequest { service: "cipherproof.v1.InferenceService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut refl = ServerReflectionClient::new(c.channel.clone());
    let req = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut stream = refl.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let services = match stream.message().await.unwrap().unwrap().message_response {
        Some(MessageResponse::ListServicesResponse(l)) => l.service.into_iter().map(|s| s.name).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    for s in ["cipherproof.v1.ModelService", "cipherproof.v1.JobService", "inference.GRPCInferenceService", "grpc.health.v1.Health"] {
        assert!(services.iter().any(|n| n == s), "{s} missing from {services:?}");
    }

    let mut c = c;
    let _ = c.models.list_models(ListModelsRequest {}).await.unwrap();
    let text = http_get(gw.metrics_addr.unwrap(), "/metrics").await;
    assert!(text.contains("cipherproof_requests_total{code=\"Ok\",method=\"ListModels\"} 1"), "{text}");
    assert!(text.contains("cipherproof_queue_depth"));
    gw.shutdown().await.unwrap();
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_inference_under_an_uploaded_server_key() {
    use cipherproof_fhe::wire::{CIPHERTEXT_LIMIT, EncryptedOutputs, SERVER_KEY_LIMIT, from_bytes, to_bytes};
    use cipherproof_fhe::{client, keys, params::DEFAULT_PARAMS, program};
    let gw = start(config("fhe")).await;
    let mut c = clients(&gw, None).await;
    let fixture = |f: &str| cipherproof_testkit::fixture(&format!("breast_cancer_lr/{f}"));
    let calibration = cipherproof_testkit::samples(&fixture("calibration.json"), "inputs");
    let mut msgs = register_messages("lr", &onnx("breast_cancer_lr/model.onnx"), 4096);
    if let Some(register_model_request::Part::Options(o)) = &mut msgs[0].part {
        o.calibration = calibration.iter().map(|v| Sample { values: v.clone() }).collect();
    }
    c.models.register_model(tokio_stream::iter(msgs)).await.unwrap();

    // The client quantizes the same ONNX with the same calibration: the same model, so its keys fit.
    let graph = import_onnx(&onnx("breast_cancer_lr/model.onnx")).unwrap();
    let model = cipherproof_model::quant::quantize(&graph, &calibration, &QuantConfig::default()).unwrap();
    let prog = program::compile(&model, DEFAULT_PARAMS).unwrap();
    let (ck, sk) = keys::keygen(&prog);
    let key_bytes = to_bytes(&sk, SERVER_KEY_LIMIT).unwrap();
    let mut keys_api = key_service_client::KeyServiceClient::new(c.channel.clone());
    let upload = |model: &str, bytes: &[u8]| {
        let mut m = vec![UploadServerKeyRequest {
            part: Some(upload_server_key_request::Part::Options(UploadServerKeyOptions { model: model.into() })),
        }];
        m.extend(bytes.chunks(100).map(|b| UploadServerKeyRequest { part: Some(upload_server_key_request::Part::KeyChunk(b.to_vec())) }));
        tokio_stream::iter(m)
    };
    let key_id = keys_api.upload_server_key(upload("lr", &key_bytes)).await.unwrap().into_inner().key_id;
    assert_eq!(key_id, sk.key_id);

    let x = cipherproof_testkit::samples(&fixture("test.json"), "inputs");
    let q: Vec<Vec<i64>> = x.iter().take(5).enumerate().map(|(i, v)| integer::quantize_input(&model, i, v).unwrap()).collect();
    let ct = to_bytes(&client::encrypt(&prog, &ck, &q).unwrap(), CIPHERTEXT_LIMIT).unwrap();
    let req = |key_id: &str, ciphertext: Vec<u8>| InferEncryptedRequest { model: "lr".into(), key_id: key_id.into(), ciphertext };
    let out = c.infer.infer_encrypted(req(&key_id, ct.clone())).await.unwrap().into_inner().ciphertext;
    let out: EncryptedOutputs = from_bytes(&out, CIPHERTEXT_LIMIT).unwrap();
    let got = client::decrypt(&prog, &ck, &out).unwrap();
    let runner = integer::IntegerRunner::new(&model).unwrap();
    assert_eq!(got, q.iter().map(|v| runner.run(v).unwrap()).collect::<Vec<_>>());

    // Corrupt ciphertext, unknown key, a key that is not a server key, a model that can't run encrypted.
    let e = c.infer.infer_encrypted(req(&key_id, ct[..ct.len() / 2].to_vec())).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e)[0].0, "ciphertext");
    let e = c.infer.infer_encrypted(req(&"0".repeat(64), ct.clone())).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = keys_api.upload_server_key(upload("lr", &ct)).await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "key_chunk");
    register(&mut c, "digits", DIGITS).await.unwrap();
    let e = keys_api.upload_server_key(upload("digits", &key_bytes)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("cannot run encrypted"), "{}", e.message());
    gw.shutdown().await.unwrap();
}

/// A model registered with the bit-widths it was trained at (the QAT breast-cancer MLP): its
/// hidden layer is bootstrapped by the gateway under the client's uploaded key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mlp_registered_with_its_bit_widths_runs_encrypted() {
    use cipherproof_fhe::wire::{CIPHERTEXT_LIMIT, EncryptedOutputs, SERVER_KEY_LIMIT, from_bytes, to_bytes};
    use cipherproof_fhe::{client, keys, params::DEFAULT_PARAMS, program};
    let gw = start(config("fhe-mlp")).await;
    let mut c = clients(&gw, None).await;
    let path = "breast_cancer_mlp_qat/model.onnx";
    let mut msgs = register_messages("mlp", &onnx(path), 4096);
    if let Some(register_model_request::Part::Options(o)) = &mut msgs[0].part {
        o.input_range = 0.875;
        o.quantization = Some(Quantization { weight_bits: Some(3), activation_bits: Some(4), output_bits: Some(8), headroom_bits: None });
    }
    c.models.register_model(tokio_stream::iter(msgs)).await.unwrap();

    let config = QuantConfig { weight_bits: 3, activation_bits: 4, output_bits: Some(8), ..QuantConfig::default() };
    let model = cipherproof_model::quant::quantize_for_range(&import_onnx(&onnx(path)).unwrap(), 0.875, &config).unwrap();
    let prog = program::compile(&model, DEFAULT_PARAMS).unwrap();
    assert_eq!(prog.bootstraps(), 48);
    let (ck, sk) = keys::keygen(&prog);
    let key_bytes = to_bytes(&sk, SERVER_KEY_LIMIT).unwrap();
    let mut upload = vec![UploadServerKeyRequest {
        part: Some(upload_server_key_request::Part::Options(UploadServerKeyOptions { model: "mlp".into() })),
    }];
    upload.extend(key_bytes.chunks(1 << 20).map(|b| UploadServerKeyRequest { part: Some(upload_server_key_request::Part::KeyChunk(b.to_vec())) }));
    let mut keys_api = key_service_client::KeyServiceClient::new(c.channel.clone());
    let key_id = keys_api.upload_server_key(tokio_stream::iter(upload)).await.unwrap().into_inner().key_id;

    let x = cipherproof_testkit::samples(&cipherproof_testkit::fixture("breast_cancer_mlp_qat/test.json"), "inputs");
    let q: Vec<Vec<i64>> = x.iter().take(2).enumerate().map(|(i, v)| integer::quantize_input(&model, i, v).unwrap()).collect();
    let ct = to_bytes(&client::encrypt(&prog, &ck, &q).unwrap(), CIPHERTEXT_LIMIT).unwrap();
    let out = c.infer.infer_encrypted(InferEncryptedRequest { model: "mlp".into(), key_id, ciphertext: ct }).await.unwrap().into_inner().ciphertext;
    let got = client::decrypt(&prog, &ck, &from_bytes::<EncryptedOutputs>(&out, CIPHERTEXT_LIMIT).unwrap()).unwrap();
    let runner = integer::IntegerRunner::new(&model).unwrap();
    assert_eq!(got, q.iter().map(|v| runner.run(v).unwrap()).collect::<Vec<_>>());

    // Bit-widths the quantizer refuses are an invalid registration, not a panic.
    let mut msgs = register_messages("bad", &onnx(path), 4096);
    if let Some(register_model_request::Part::Options(o)) = &mut msgs[0].part {
        o.quantization = Some(Quantization { weight_bits: Some(99), ..Default::default() });
    }
    let e = c.models.register_model(tokio_stream::iter(msgs)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_from_pem_files() {
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    let mut cfg = config("tls");
    let d = cfg.data_dir.clone();
    let (ca, cert, key) = (d.join("ca.pem"), d.join("cert.pem"), d.join("key.pem"));
    std::fs::write(d.join("leaf.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n").unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let steps: [Vec<String>; 3] = [
        ["req", "-x509", "-days", "1", "-subj", "/CN=cipherproof-test-ca", "-keyout", "ca.key", "-out", "ca.pem"].iter().chain(&ec).map(|s| s.to_string()).collect(),
        ["req", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"].iter().chain(&ec).map(|s| s.to_string()).collect(),
        ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "leaf.ext", "-out", "cert.pem"].iter().map(|s| s.to_string()).collect(),
    ];
    for args in steps {
        match std::process::Command::new("openssl").args(&args).current_dir(&d).output() {
            Ok(o) if o.status.success() => {}
            other => {
                eprintln!("SKIPPED: openssl could not make test certificates: {other:?}");
                return;
            }
        }
    }
    cfg.tls = Some(cipherproof_gateway::config::TlsConfig { cert: cert.clone(), key });
    let gw = start(cfg).await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(&ca).unwrap()))
        .domain_name("localhost");
    let channel = Channel::from_shared(format!("https://localhost:{}", gw.addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut models = cipherproof_gateway::proto::v1::model_service_client::ModelServiceClient::new(channel);
    assert!(models.list_models(ListModelsRequest {}).await.unwrap().into_inner().models.is_empty());
    // Plain-text HTTP/2 to the TLS port fails.
    let plain = Channel::from_shared(format!("http://127.0.0.1:{}", gw.addr.port())).unwrap().connect().await;
    if let Ok(ch) = plain {
        let mut m = cipherproof_gateway::proto::v1::model_service_client::ModelServiceClient::new(ch);
        assert!(m.list_models(ListModelsRequest {}).await.is_err());
    }
    gw.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_honoured() {
    let gw = start(config("deadline")).await;
    let mut c = clients(&gw, None).await;
    // Registration compiles the model and generates keys: far longer than 1 ms.
    let mut req = tonic::Request::new(tokio_stream::iter(register_messages("digits", &onnx(DIGITS), 4096)));
    req.set_timeout(std::time::Duration::from_millis(1));
    let e = c.models.register_model(req).await.unwrap_err();
    // tonic's server enforces grpc-timeout and answers CANCELLED "Timeout expired".
    assert_eq!(e.code(), Code::Cancelled, "{e:?}");
    assert!(e.message().contains("Timeout expired"), "{e:?}");
    // The gateway carries on serving.
    register(&mut c, "digits", DIGITS).await.unwrap();
    let out = c.infer.infer(InferRequest { model: "digits".into(), input: input(DIGITS_INPUT), mode: 0 }).await.unwrap();
    assert_eq!(out.into_inner().quantized_outputs, reference(&input(DIGITS_INPUT)));
    gw.shutdown().await.unwrap();
}

/// Several outputs named in the registration (`output: "output,78,79"`, EZKL's lstm's Y,
/// Y_h and Y_c) make one flat output of 9 values, inferred as the CLI's `--output` gives
/// it; an unknown name in the list is an invalid registration naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_registered_with_several_outputs_infers_them_joined() {
    let gw = start(config("joined-outputs")).await;
    let mut c = clients(&gw, None).await;
    let path = "ezkl/lstm/network.onnx";
    let with_output = |output: &str| {
        let mut msgs = register_messages("lstm", &onnx(path), 4096);
        if let Some(register_model_request::Part::Options(o)) = &mut msgs[0].part {
            o.output = output.into();
        }
        msgs
    };
    let info = c.models.register_model(tokio_stream::iter(with_output("output,78,79"))).await.unwrap().into_inner().model.unwrap();
    assert_eq!(info.output_shape, [9]);
    let x = input("ezkl/lstm/input.json");
    let opts = cipherproof_model::ImportOptions { output: Some("output,78,79".into()) };
    let graph = cipherproof_model::import_onnx_with(&onnx(path), &opts).unwrap();
    let want = integer::run(&quantize_for_range(&graph, 1.0, &QuantConfig::default()).unwrap(), &x).unwrap();
    let got = c.infer.infer(InferRequest { model: "lstm".into(), input: x, mode: InferenceMode::Plain as i32 }).await.unwrap().into_inner();
    assert_eq!(got.quantized_outputs, want);
    assert_eq!(want[..3], want[3..6], "Y and Y_h hold the same values");
    let e = c.models.register_model(tokio_stream::iter(with_output("output,Y_c"))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("no output named 'Y_c'"), "{e:?}");
}
