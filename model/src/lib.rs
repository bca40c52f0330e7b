//! # cipherproof-model
//!
//! The front of every cipherproof path: ONNX import into a small typed graph
//! IR ([`graph::Graph`]), fixed-point quantization with power-of-two scales
//! chosen by calibration ([`quant`]), and two reference executors:
//!
//! * [`exec::float`] runs the float graph on candle-core (matches onnxruntime);
//! * [`exec::integer`] runs the quantized model with the exact integer
//!   semantics the halo2 circuits and the TFHE engine implement, bit for bit.
//!
//! ```no_run
//! # fn main() -> Result<(), cipherproof_model::ModelError> {
//! let bytes = std::fs::read("model.onnx").unwrap();
//! let graph = cipherproof_model::import_onnx(&bytes)?;
//! let samples = vec![vec![0.0f32; graph.input().numel()]];
//! let model = cipherproof_model::quant::quantize(&graph, &samples, &Default::default())?;
//! let outputs = cipherproof_model::exec::integer::run(&model, &samples[0])?;
//! # Ok(()) }
//! ```

pub mod error;
pub mod exec;
pub mod graph;
pub mod onnx;
pub mod quant;

pub use error::{ModelError, Result};
pub use graph::Graph;
pub use onnx::import::{ImportOptions, import_onnx, import_onnx_with};
