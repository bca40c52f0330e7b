//! Registered models: ONNX bytes → quantized model → circuit and keys, kept
//! content-addressed under `DATA/models/<model id>/` (the model id hashes the
//! quantized model and the verifying key), owned per tenant by name in the
//! store, and held in memory once loaded, with their proving keys.

use crate::error::{GatewayError, Result};
use crate::store::{JobStore, ModelRecord, now_ms};
use cipherproof_circuits::InputVisibility;
use cipherproof_model::exec::argmax;
use cipherproof_model::exec::integer::{IntegerRunner, dequantize_output, quantize_input};
use cipherproof_model::{ImportOptions, import_onnx_with};
use cipherproof_model::quant::{QuantConfig, QuantModel, quantize, quantize_for_range};
use cipherproof_prover::compile::{self, CompileOptions, Compiled, SrsSource};
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::ProvingKey;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};

/// Default |x| bound of inputs when a model is registered without calibration samples.
pub const DEFAULT_INPUT_RANGE: f32 = 1.0;

/// What a registration asks for.
#[derive(Debug, Clone, Default)]
pub struct RegisterOptions {
    pub name: String,
    pub input_visibility: InputVisibility,
    pub calibration: Vec<Vec<f32>>,
    /// 0: [`DEFAULT_INPUT_RANGE`].
    pub input_range: f32,
    /// Bit-widths of the integer model.
    pub quant: QuantConfig,
    /// Which graph output to keep, for models with several (comma-separated: several,
    /// flattened and joined).
    pub output: Option<String>,
}

/// A model's public description (stored as JSON beside its tenant's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub model_id: String,
    pub k: u32,
    pub advice_columns: u32,
    pub lookup_advice_columns: u32,
    pub fixed_columns: u32,
    pub advice_cells: u64,
    pub lookup_cells: u64,
    pub vk_hash: String,
    pub input_visibility: InputVisibility,
    pub input_name: String,
    pub input_shape: Vec<usize>,
    pub output_name: String,
    pub output_shape: Vec<usize>,
    pub compile_seconds: f64,
}

/// The keys a worker proves with, loaded once per model.
#[derive(Debug)]
pub struct ProverKeys {
    pub params: ParamsKZG<Bn256>,
    pub pk: ProvingKey<G1Affine>,
}

/// A compiled model in memory.
#[derive(Debug)]
pub struct LoadedModel {
    pub compiled: Compiled,
    pub meta: ModelMeta,
    /// The integer executor with its weights prepared once. It borrows a copy of
    /// the quantized model that lives as long as the process: loaded models are
    /// never evicted, so this is the registry's own lifetime.
    runner: IntegerRunner<'static>,
    keys: OnceLock<Arc<ProverKeys>>,
}

/// The result of a plain (unproven) inference: exactly what a proof would prove.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    pub quantized_input: Vec<i64>,
    pub quantized: Vec<i64>,
    pub dequantized: Vec<f64>,
    pub argmax: usize,
}

impl LoadedModel {
    fn new(compiled: Compiled, meta: ModelMeta) -> Result<Self> {
        let model: &'static QuantModel = Box::leak(Box::new(compiled.model.clone()));
        Ok(Self {
            runner: IntegerRunner::new(model)?,
            compiled,
            meta,
            keys: OnceLock::new(),
        })
    }

    /// Runs the quantized model on a flat float input.
    pub fn infer(&self, input: &[f32]) -> Result<Outputs> {
        let model = &self.compiled.model;
        let expected = model.input().numel();
        if input.len() != expected {
            return Err(GatewayError::invalid(
                "input",
                format!(
                    "{} values for input {:?} of shape {:?} ({expected} values)",
                    input.len(),
                    model.input().name,
                    model.input().shape
                ),
            ));
        }
        let q = quantize_input(model, 0, input)?;
        let out = self.runner.run(&q)?;
        Ok(Outputs {
            dequantized: dequantize_output(model, &out),
            argmax: argmax(&out).unwrap_or(0),
            quantized: out,
            quantized_input: q,
        })
    }

    /// The SRS and proving key (loaded from the cache or regenerated once; blocking).
    pub fn keys(&self, cache_dir: &Path) -> Result<Arc<ProverKeys>> {
        if let Some(k) = self.keys.get() {
            return Ok(k.clone());
        }
        let c = &self.compiled;
        let params = compile::load_params(&c.circuit.srs, c.circuit.shape.k(), cache_dir)?;
        let pk = compile::proving_key(c, &params, cache_dir)?;
        let keys = Arc::new(ProverKeys { params, pk });
        Ok(self.keys.get_or_init(|| keys).clone())
    }
}

/// Names a tenant may give a model (they appear in KServe URLs and file names).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(GatewayError::invalid(
            "name",
            format!("{name:?}: use 1-128 letters, digits, '-', '_' or '.' (not leading)"),
        ))
    }
}

#[derive(Debug)]
pub struct Registry {
    models_dir: PathBuf,
    cache_dir: PathBuf,
    srs: SrsSource,
    max_k: u32,
    store: JobStore,
    loaded: RwLock<HashMap<String, Arc<LoadedModel>>>,
    /// (tenant, name or id) -> model id.
    names: RwLock<HashMap<(String, String), String>>,
}

fn meta_of(c: &Compiled, compile_seconds: f64) -> ModelMeta {
    let params = &c.circuit.shape.params;
    let m = &c.model;
    ModelMeta {
        model_id: c.circuit.model_id.clone(),
        k: params.base.k as u32,
        advice_columns: params.advice_columns() as u32,
        lookup_advice_columns: params.lookup_advice_columns() as u32,
        fixed_columns: params.fixed_columns() as u32,
        advice_cells: c.circuit.advice_cells as u64,
        lookup_cells: c.circuit.lookup_cells as u64,
        vk_hash: hex::encode(Sha256::digest(cipherproof_prover::keys::vk_bytes(&c.vk))),
        input_visibility: c.circuit.input_visibility,
        input_name: m.input().name.clone(),
        input_shape: m.input().shape.clone(),
        output_name: m.output_info().name.clone(),
        output_shape: m.output_info().shape.clone(),
        compile_seconds,
    }
}

fn lock_err<T>(_: T) -> GatewayError {
    GatewayError::Internal("model registry lock poisoned".into())
}

impl Registry {
    pub fn new(data_dir: &Path, srs: Option<PathBuf>, max_k: u32, store: JobStore) -> Result<Self> {
        let models_dir = data_dir.join("models");
        std::fs::create_dir_all(&models_dir).map_err(GatewayError::io(&models_dir))?;
        Ok(Self {
            models_dir,
            cache_dir: data_dir.join("cache"),
            srs: srs.map_or(SrsSource::UnsafeDev, SrsSource::File),
            max_k,
            store,
            loaded: RwLock::default(),
            names: RwLock::default(),
        })
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Imports, quantizes and compiles an ONNX model (blocking: run it off the async runtime).
    pub fn compile_onnx(&self, onnx: &[u8], opts: &RegisterOptions) -> Result<Arc<LoadedModel>> {
        check_name(&opts.name)?;
        let start = std::time::Instant::now();
        let import = ImportOptions {
            output: opts.output.clone(),
        };
        let graph = import_onnx_with(onnx, &import)?;
        let config = &opts.quant;
        let model = if opts.calibration.is_empty() {
            let range = if opts.input_range > 0.0 {
                opts.input_range
            } else {
                DEFAULT_INPUT_RANGE
            };
            if !range.is_finite() {
                return Err(GatewayError::invalid(
                    "input_range",
                    "must be a finite positive number",
                ));
            }
            quantize_for_range(&graph, range, config)?
        } else {
            quantize(&graph, &opts.calibration, config)?
        };
        let tmp = self
            .models_dir
            .join(format!(".incoming-{}", rand::random::<u64>()));
        let compile_opts = CompileOptions {
            srs: self.srs.clone(),
            cache_dir: self.cache_dir.clone(),
            max_k: self.max_k,
            max_advice: cipherproof_circuits::planner::DEFAULT_MAX_ADVICE,
            input_visibility: opts.input_visibility,
            tune: 0,
        };
        let compiled = compile::compile(&model, &tmp, &compile_opts);
        let (compiled, _) = match compiled {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e.into());
            }
        };
        let graph_json =
            serde_json::to_vec(&graph).map_err(|e| GatewayError::Internal(e.to_string()))?;
        std::fs::write(tmp.join("graph.json"), graph_json).map_err(GatewayError::io(&tmp))?;
        let id = compiled.circuit.model_id.clone();
        let dir = self.models_dir.join(&id);
        if dir.is_dir() {
            let _ = std::fs::remove_dir_all(&tmp);
        } else {
            std::fs::rename(&tmp, &dir).map_err(GatewayError::io(&dir))?;
        }
        if let Some(m) = self.loaded.read().map_err(lock_err)?.get(&id) {
            return Ok(m.clone());
        }
        let compiled = compile::load(&dir)?;
        let meta = meta_of(&compiled, start.elapsed().as_secs_f64());
        let loaded = Arc::new(LoadedModel::new(compiled, meta)?);
        self.loaded
            .write()
            .map_err(lock_err)?
            .insert(id, loaded.clone());
        Ok(loaded)
    }

    /// Records a compiled model as `tenant`'s `name`.
    pub async fn bind(&self, tenant: &str, name: &str, model: &LoadedModel) -> Result<ModelRecord> {
        let record = ModelRecord {
            tenant: tenant.into(),
            name: name.into(),
            model_id: model.meta.model_id.clone(),
            meta: serde_json::to_string(&model.meta)
                .map_err(|e| GatewayError::Internal(e.to_string()))?,
            created_ms: now_ms(),
        };
        self.store.put_model(&record).await?;
        let mut names = self.names.write().map_err(lock_err)?;
        names.retain(|(t, _), _| t != tenant);
        Ok(record)
    }

    /// A tenant's model by name or id (NOT_FOUND for unknown names and other tenants' models).
    pub async fn resolve(&self, tenant: &str, name_or_id: &str) -> Result<Arc<LoadedModel>> {
        let key = (tenant.to_string(), name_or_id.to_string());
        let cached = self.names.read().map_err(lock_err)?.get(&key).cloned();
        let id = match cached {
            Some(id) => id,
            None => {
                let record = self
                    .store
                    .find_model(tenant, name_or_id)
                    .await?
                    .ok_or_else(|| GatewayError::not_found("model", name_or_id))?;
                self.names
                    .write()
                    .map_err(lock_err)?
                    .insert(key, record.model_id.clone());
                record.model_id
            }
        };
        self.load(&id).await
    }

    /// A model by id, from memory or its directory.
    pub async fn load(&self, id: &str) -> Result<Arc<LoadedModel>> {
        if let Some(m) = self.loaded.read().map_err(lock_err)?.get(id) {
            return Ok(m.clone());
        }
        let dir = self.models_dir.join(id);
        let compiled = tokio::task::spawn_blocking(move || compile::load(&dir))
            .await
            .map_err(|e| GatewayError::Internal(e.to_string()))??;
        let meta = meta_of(&compiled, 0.0);
        let loaded = Arc::new(LoadedModel::new(compiled, meta)?);
        Ok(self
            .loaded
            .write()
            .map_err(lock_err)?
            .entry(id.to_string())
            .or_insert(loaded)
            .clone())
    }

    pub async fn list(&self, tenant: &str) -> Result<Vec<(ModelRecord, ModelMeta)>> {
        self.store
            .list_models(tenant)
            .await?
            .into_iter()
            .map(|r| {
                let meta = serde_json::from_str(&r.meta).map_err(|e| GatewayError::Corrupt {
                    what: format!("model record {}", r.name),
                    reason: e.to_string(),
                })?;
                Ok((r, meta))
            })
            .collect()
    }

    pub async fn record(&self, tenant: &str, name_or_id: &str) -> Result<(ModelRecord, ModelMeta)> {
        let r = self
            .store
            .find_model(tenant, name_or_id)
            .await?
            .ok_or_else(|| GatewayError::not_found("model", name_or_id))?;
        let meta = serde_json::from_str(&r.meta).map_err(|e| GatewayError::Corrupt {
            what: format!("model record {}", r.name),
            reason: e.to_string(),
        })?;
        Ok((r, meta))
    }
}
