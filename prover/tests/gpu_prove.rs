//! The CUDA prover (feature `cuda`) beside the CPU one: the same compile and
//! keys, proofs from both verify with the CPU verifier and carry the same
//! public outputs, a tampered GPU proof is rejected, and 20 GPU proofs leave
//! the device's free memory where the first left it. Without a device each
//! test prints SKIP; CIPHERPROOF_REQUIRE_GPU=1 (the GPU machine's check) makes
//! that a failure. A `cuda` build links libcuda, so it starts only where an
//! NVIDIA driver is installed; the default build has none of this.

#![cfg(feature = "cuda")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cipherproof_circuits::InputVisibility;
use cipherproof_model::exec::integer::quantize_input;
use cipherproof_model::import_onnx;
use cipherproof_model::quant::{QuantConfig, quantize};
use cipherproof_prover::ProverError;
use cipherproof_prover::compile::{self, CompileOptions, SrsSource};
use cipherproof_prover::gpu::GpuProver;
use cipherproof_prover::prove::{Engine, prove_on};
use cipherproof_prover::verify;
use cipherproof_testkit::{fixture as testdata, samples};

fn device_present() -> bool {
    let required = std::env::var("CIPHERPROOF_REQUIRE_GPU").as_deref() == Ok("1");
    match cipherproof_cuda::probe::devices() {
        Ok(d) if !d.is_empty() => true,
        other => {
            assert!(
                !required,
                "CIPHERPROOF_REQUIRE_GPU=1 but no device: {other:?}"
            );
            eprintln!("SKIP: no CUDA device here ({other:?}); GPU proving not run");
            false
        }
    }
}

fn free_device_memory() -> u64 {
    cipherproof_cuda::probe::devices().unwrap()[0].free_memory_bytes
}

#[test]
fn gpu_proofs_verify_and_match_the_cpu() {
    if !device_present() {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("cipherproof-gpu-{}", std::process::id()));
    let opts = CompileOptions {
        srs: SrsSource::UnsafeDev,
        cache_dir: scratch.join("cache"),
        max_k: 20,
        max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
        input_visibility: InputVisibility::Private,
        tune: 0,
    };
    for name in ["digits_mlp", "digits_cnn"] {
        let graph =
            import_onnx(&std::fs::read(testdata(&format!("{name}/model.onnx"))).unwrap()).unwrap();
        let cal = samples(&testdata(&format!("{name}/calibration.json")), "inputs");
        let model = quantize(&graph, &cal, &QuantConfig::default()).unwrap();
        let (c, _) = compile::compile(&model, &scratch.join(name), &opts).unwrap();
        let params =
            compile::load_params(&c.circuit.srs, c.circuit.shape.k(), &opts.cache_dir).unwrap();
        let pk = compile::proving_key(&c, &params, &opts.cache_dir).unwrap();
        let x = &samples(&testdata(&format!("{name}/test.json")), "inputs")[3];
        let q = quantize_input(&c.model, 0, x).unwrap();

        let cpu = prove_on(&Engine::Cpu, &c, &params, &pk, &q).unwrap();
        let gpu_engine = Engine::Cuda(Box::new(GpuProver::new(&params).unwrap()));
        let gpu = prove_on(&gpu_engine, &c, &params, &pk, &q).unwrap();
        verify::verify(&c, &params, &cpu).unwrap();
        verify::verify(&c, &params, &gpu).unwrap_or_else(|e| panic!("{name}: GPU proof: {e}"));
        assert_eq!(gpu.instances, cpu.instances, "{name}");
        assert_eq!(gpu.quantized_outputs, cpu.quantized_outputs, "{name}");

        let mut bytes = gpu.proof_bytes().unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        let mut tampered = gpu.clone();
        tampered.proof = format!("0x{}", hex::encode(&bytes));
        assert!(
            matches!(
                verify::verify(&c, &params, &tampered),
                Err(ProverError::InvalidProof(_))
            ),
            "{name}: a flipped byte of a GPU proof verified"
        );

        if name == "digits_mlp" {
            let first = free_device_memory();
            for _ in 0..20 {
                prove_on(&gpu_engine, &c, &params, &pk, &q).unwrap();
            }
            let last = free_device_memory();
            assert!(
                first.abs_diff(last) < 16 << 20,
                "free device memory {first} -> {last} across 20 proofs"
            );
        }
    }
}
