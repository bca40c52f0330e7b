//! `cipherproof client ...`: a gRPC client of a running gateway.

use super::inputs::{read_batch, read_single};
use anyhow::{Context, Result, bail};
use cipherproof_gateway::proto::v1::inference_service_client::InferenceServiceClient;
use cipherproof_gateway::proto::v1::job_service_client::JobServiceClient;
use cipherproof_gateway::proto::v1::model_service_client::ModelServiceClient;
use cipherproof_gateway::proto::v1::register_model_request::Part;
use cipherproof_gateway::proto::v1::*;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;

#[derive(Debug, Args)]
pub struct ClientArgs {
    #[command(subcommand)]
    pub command: ClientCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Upload an ONNX model; prints its id and circuit as JSON.
    Register(RegisterArgs),
    /// Run a registered model on one input (optionally proven); prints JSON.
    Infer(InferArgs),
    /// Show a job (optionally waiting for it and saving its proof); prints JSON.
    Job(JobArgs),
    /// Multi-party studies on the gateway: create, submit, aggregate, share, result.
    Study(super::client_study::StudyClientArgs),
    /// Bounded load test: concurrent Infer calls; prints throughput and latency percentiles.
    Load(super::load_cmd::LoadArgs),
}

#[derive(Debug, Args)]
pub struct Conn {
    /// The gateway, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    pub addr: String,
    /// API key (sent as authorization: Bearer KEY).
    #[arg(long, env = "CIPHERPROOF_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Visibility {
    Private,
    Public,
    Hashed,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The ONNX file.
    #[arg(long)]
    pub model: PathBuf,
    /// The name to address the model by (also its KServe model name).
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum, default_value_t = Visibility::Private)]
    pub input_visibility: Visibility,
    /// Calibration samples ({"inputs": [...]} or {"input_data": [...]}).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    /// |x| bound of inputs when no calibration is given.
    #[arg(long)]
    pub input_range: Option<f32>,
    /// Which graph output to compute and prove, for models with several (several
    /// separated by commas are proven together, flattened and joined in that order).
    #[arg(long)]
    pub output: Option<String>,
    /// Signed bits of each weight [default: the gateway's, as `compile`].
    #[arg(long)]
    pub weight_bits: Option<u32>,
    /// Signed bits of every activation [default: the gateway's, as `compile`].
    #[arg(long)]
    pub activation_bits: Option<u32>,
    /// Signed bits of the model's output [default: --activation-bits].
    #[arg(long)]
    pub output_bits: Option<u32>,
    /// Bits of range kept above each calibrated maximum [default: the gateway's, as `compile`].
    #[arg(long)]
    pub headroom_bits: Option<u32>,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Model name or id.
    #[arg(long)]
    pub model: String,
    /// Input in EZKL's format {"input_data": [[...]]}.
    #[arg(long)]
    pub input: PathBuf,
    /// Also queue a proof of this inference.
    #[arg(long)]
    pub prove: bool,
    /// With --prove: wait until the proof job ends.
    #[arg(long, requires = "prove")]
    pub wait: bool,
    /// With --wait: write the proof file (as `cipherproof prove` writes it) here.
    #[arg(long, requires = "wait")]
    pub proof_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(flatten)]
    pub conn: Conn,
    #[arg(long)]
    pub job: String,
    #[arg(long)]
    pub wait: bool,
    #[arg(long)]
    pub proof_out: Option<PathBuf>,
    /// Cancel the job instead of showing it.
    #[arg(long, conflicts_with_all = ["wait", "proof_out"])]
    pub cancel: bool,
}

/// Adds `authorization: Bearer KEY` to every call.
#[derive(Debug, Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub(super) type Intercepted = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

impl Conn {
    pub(super) async fn channel(&self) -> Result<(Channel, Bearer)> {
        let channel = Channel::from_shared(self.addr.clone())
            .with_context(|| format!("{:?} is not a gateway URL", self.addr))?
            .connect()
            .await
            .with_context(|| format!("cannot reach the gateway at {}", self.addr))?;
        let bearer = match &self.api_key {
            Some(k) => Some(format!("Bearer {k}").parse().context("the API key is not ASCII")?),
            None => None,
        };
        Ok((channel, Bearer(bearer)))
    }

    async fn models(&self) -> Result<ModelServiceClient<Intercepted>> {
        let (c, b) = self.channel().await?;
        Ok(ModelServiceClient::with_interceptor(c, b).max_decoding_message_size(64 << 20))
    }

    pub async fn inference(&self) -> Result<InferenceServiceClient<Intercepted>> {
        let (c, b) = self.channel().await?;
        Ok(InferenceServiceClient::with_interceptor(c, b))
    }

    async fn jobs(&self) -> Result<JobServiceClient<Intercepted>> {
        let (c, b) = self.channel().await?;
        Ok(JobServiceClient::with_interceptor(c, b).max_decoding_message_size(64 << 20))
    }
}

pub(super) fn status(e: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", e.code(), e.message())
}

pub fn client_cmd(args: &ClientArgs) -> Result<()> {
    if let ClientCommand::Load(a) = &args.command {
        return super::load_cmd::load_cmd(a);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match &args.command {
            ClientCommand::Register(a) => register(a).await,
            ClientCommand::Infer(a) => infer(a).await,
            ClientCommand::Job(a) => job(a).await,
            ClientCommand::Study(a) => super::client_study::study_client(a).await,
            ClientCommand::Load(_) => unreachable_load(),
        }
    })
}

fn unreachable_load() -> Result<()> {
    bail!("the load generator runs on its own runtime")
}

/// Upload chunk size.
pub(super) const CHUNK: usize = 1 << 20;

async fn register(a: &RegisterArgs) -> Result<()> {
    let onnx = std::fs::read(&a.model).with_context(|| format!("cannot read {}", a.model.display()))?;
    let calibration = match &a.calibration {
        Some(p) => read_batch(p)?.into_iter().map(|values| Sample { values }).collect(),
        None => Vec::new(),
    };
    let options = RegisterModelOptions {
        name: a.name.clone(),
        input_visibility: match a.input_visibility {
            Visibility::Private => InputVisibility::Private,
            Visibility::Public => InputVisibility::Public,
            Visibility::Hashed => InputVisibility::Hashed,
        } as i32,
        calibration,
        input_range: a.input_range.unwrap_or(0.0),
        output: a.output.clone().unwrap_or_default(),
        quantization: Some(Quantization {
            weight_bits: a.weight_bits,
            activation_bits: a.activation_bits,
            output_bits: a.output_bits,
            headroom_bits: a.headroom_bits,
        }),
    };
    let mut messages = vec![RegisterModelRequest {
        part: Some(Part::Options(options)),
    }];
    messages.extend(onnx.chunks(CHUNK).map(|c| RegisterModelRequest {
        part: Some(Part::OnnxChunk(c.to_vec())),
    }));
    let info = a
        .conn
        .models()
        .await?
        .register_model(tokio_stream::iter(messages))
        .await
        .map_err(status)?
        .into_inner()
        .model
        .context("the gateway answered without a model")?;
    let c = info.circuit.unwrap_or_default();
    println!(
        "{}",
        serde_json::json!({
            "model_id": info.model_id, "name": info.name, "vk_hash": info.vk_hash,
            "k": c.k, "rows": c.rows, "advice_columns": c.advice_columns,
            "input_shape": info.input_shape, "output_shape": info.output_shape,
            "compile_seconds": info.compile_seconds,
        })
    );
    Ok(())
}

fn state_name(state: i32) -> String {
    JobState::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("JOB_STATE_").to_lowercase())
        .unwrap_or_else(|_| format!("unknown({state})"))
}

fn job_json(j: &Job) -> serde_json::Value {
    let mut v = serde_json::json!({
        "job_id": j.job_id, "model_id": j.model_id, "state": state_name(j.state),
        "attempts": j.attempts, "prove_seconds": j.prove_seconds,
        "quantized_outputs": j.quantized_outputs,
    });
    if !j.error.is_empty() {
        v["error"] = serde_json::json!(j.error);
    }
    if let Some(c) = &j.chain {
        v["chain"] = serde_json::json!({
            "chain_id": c.chain_id, "tx_hash": c.tx_hash, "status": c.status,
            "gas_used": c.gas_used, "error": c.error,
        });
    }
    v
}

/// Follows a job to its end (WatchJob) and returns its last state.
async fn wait_for(conn: &Conn, id: &str) -> Result<Job> {
    let mut stream = conn
        .jobs()
        .await?
        .watch_job(GetJobRequest { job_id: id.into() })
        .await
        .map_err(status)?
        .into_inner();
    let mut last = None;
    while let Some(j) = stream.message().await.map_err(status)? {
        eprintln!("job {id}: {}", state_name(j.state));
        last = Some(j);
    }
    last.context("the job stream ended without a state")
}

async fn finish_job(conn: &Conn, job: &Job, proof_out: Option<&PathBuf>) -> Result<serde_json::Value> {
    let v = job_json(job);
    if let Some(path) = proof_out {
        let proof = conn
            .jobs()
            .await?
            .get_proof(GetJobRequest {
                job_id: job.job_id.clone(),
            })
            .await
            .map_err(status)?
            .into_inner();
        std::fs::write(path, &proof.proof_file).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(v)
}

fn ended_ok(job: &Job) -> Result<()> {
    match JobState::try_from(job.state) {
        Ok(JobState::Succeeded) => Ok(()),
        _ => bail!("job {} ended {}: {}", job.job_id, state_name(job.state), job.error),
    }
}

async fn infer(a: &InferArgs) -> Result<()> {
    let input = read_single(&a.input)?;
    let mode = if a.prove {
        InferenceMode::Proven
    } else {
        InferenceMode::Plain
    };
    let started = std::time::Instant::now();
    let r = a
        .conn
        .inference()
        .await?
        .infer(InferRequest {
            model: a.model.clone(),
            input,
            mode: mode as i32,
        })
        .await
        .map_err(status)?
        .into_inner();
    let mut out = serde_json::json!({
        "model_id": r.model_id, "quantized_outputs": r.quantized_outputs,
        "dequantized_outputs": r.dequantized_outputs, "argmax": r.argmax,
    });
    if !r.job_id.is_empty() {
        out["job_id"] = serde_json::json!(r.job_id);
    }
    if a.wait {
        let job = wait_for(&a.conn, &r.job_id).await?;
        // From sending Infer to seeing the job end: what a client waits for its proof.
        out["wall_s"] = serde_json::json!(started.elapsed().as_secs_f64());
        let proof_out = if JobState::try_from(job.state) == Ok(JobState::Succeeded) {
            a.proof_out.as_ref()
        } else {
            None
        };
        out["job"] = finish_job(&a.conn, &job, proof_out).await?;
        println!("{out}");
        return ended_ok(&job);
    }
    println!("{out}");
    Ok(())
}

async fn job(a: &JobArgs) -> Result<()> {
    let req = GetJobRequest { job_id: a.job.clone() };
    let job = if a.cancel {
        a.conn.jobs().await?.cancel_job(req).await.map_err(status)?.into_inner()
    } else if a.wait {
        wait_for(&a.conn, &a.job).await?
    } else {
        a.conn.jobs().await?.get_job(req).await.map_err(status)?.into_inner()
    };
    println!("{}", finish_job(&a.conn, &job, a.proof_out.as_ref()).await?);
    Ok(())
}
