//! Solidity compilation with the pinned solc-js (npm `solc` 0.8.19, installed
//! by `scripts/node-tools.sh` into `tools/node/node_modules`), driven through
//! its standard-JSON interface by Node.js. Never downloads a compiler.
//!
//! The tools directory is `$CIPHERPROOF_NODE_TOOLS` if set, else the first
//! `tools/node` with `node_modules/solc` found above the current directory or
//! above the running executable.

use crate::error::{OnchainError, Result};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The only compiler version we accept (snark-verifier's verifiers pin `pragma solidity 0.8.19`).
pub const SOLC_VERSION: &str = "0.8.19";

/// EIP-170: the largest runtime bytecode a contract may deploy.
pub const EIP170_LIMIT: usize = 24_576;

const DRIVER: &str = include_str!("../../tools/node/solc-compile.js");

/// One compiled contract.
#[derive(Debug, Clone)]
pub struct CompiledContract {
    pub name: String,
    pub abi: Value,
    /// Creation (deployment) bytecode.
    pub creation: Vec<u8>,
    /// Runtime bytecode (what EIP-170 limits).
    pub runtime: Vec<u8>,
}

impl CompiledContract {
    /// Fails if the runtime code would not deploy on a chain enforcing EIP-170.
    pub fn check_size(&self) -> Result<()> {
        if self.runtime.len() > EIP170_LIMIT {
            return Err(OnchainError::CodeTooLarge {
                contract: self.name.clone(),
                size: self.runtime.len(),
                limit: EIP170_LIMIT,
            });
        }
        Ok(())
    }
}

/// Optimizer settings.
#[derive(Debug, Clone, Copy)]
pub struct SolcSettings {
    pub optimize: bool,
    pub runs: u32,
}

/// The default is snark-verifier's own setting, no optimizer: its verifier is one
/// large inline-assembly block, on which solc 0.8.19's legacy optimizer fails
/// with "stack too deep".
impl Default for SolcSettings {
    fn default() -> Self {
        Self {
            optimize: false,
            runs: 200,
        }
    }
}

/// The directory holding `node_modules/solc`.
pub fn tools_dir() -> Result<PathBuf> {
    let has_solc = |d: &Path| d.join("node_modules/solc/package.json").is_file();
    if let Some(d) = std::env::var_os("CIPHERPROOF_NODE_TOOLS") {
        let d = PathBuf::from(d);
        return if has_solc(&d) {
            Ok(d)
        } else {
            Err(OnchainError::SolcMissing {
                reason: format!(
                    "CIPHERPROOF_NODE_TOOLS={} has no node_modules/solc",
                    d.display()
                ),
            })
        };
    }
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    starts
        .into_iter()
        .flatten()
        .flat_map(|s| {
            s.ancestors()
                .map(|a| a.join("tools/node"))
                .collect::<Vec<_>>()
        })
        .find(|d| has_solc(d))
        .ok_or_else(|| OnchainError::SolcMissing {
            reason: "no tools/node/node_modules/solc above the current directory or the executable"
                .into(),
        })
}

/// Compiles `sources` (file name, content) and returns every contract they define.
pub fn compile(sources: &[(&str, &str)], settings: SolcSettings) -> Result<Vec<CompiledContract>> {
    let dir = tools_dir()?;
    let input = json!({
        "language": "Solidity",
        "sources": sources.iter().map(|(n, c)| (n.to_string(), json!({ "content": c })))
            .collect::<serde_json::Map<_, _>>(),
        "settings": {
            "optimizer": { "enabled": settings.optimize, "runs": settings.runs },
            "outputSelection": { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } }
        }
    });
    let what = sources
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ");
    let fail = |reason: String| OnchainError::Solc {
        contract: what.clone(),
        reason,
    };
    let mut child = Command::new("node")
        .arg("-e")
        .arg(DRIVER)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| OnchainError::SolcMissing {
            reason: format!("cannot run node: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.to_string().as_bytes())
            .map_err(|e| fail(format!("writing to solc: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for solc: {e}")))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let output: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("unreadable output: {e}")))?;
    let version = output["solcVersion"].as_str().unwrap_or_default();
    if !version.starts_with(&format!("{SOLC_VERSION}+")) {
        return Err(fail(format!(
            "solc {version} is installed but {SOLC_VERSION} is pinned; run scripts/node-tools.sh"
        )));
    }
    let errors: Vec<String> = output["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .map(|e| {
            e["formattedMessage"]
                .as_str()
                .unwrap_or("?")
                .trim()
                .to_string()
        })
        .collect();
    if !errors.is_empty() {
        return Err(fail(errors.join("\n")));
    }
    let mut contracts = Vec::new();
    for (_, file) in output["contracts"].as_object().into_iter().flatten() {
        for (name, c) in file.as_object().into_iter().flatten() {
            let code = |key: &str| -> Result<Vec<u8>> {
                hex::decode(c["evm"][key]["object"].as_str().unwrap_or_default())
                    .map_err(|e| fail(format!("{name} {key}: {e}")))
            };
            contracts.push(CompiledContract {
                name: name.clone(),
                abi: c["abi"].clone(),
                creation: code("bytecode")?,
                runtime: code("deployedBytecode")?,
            });
        }
    }
    Ok(contracts)
}

/// Compiles one source and returns the contract called `name`.
pub fn compile_one(
    file: &str,
    source: &str,
    name: &str,
    settings: SolcSettings,
) -> Result<CompiledContract> {
    compile(&[(file, source)], settings)?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| OnchainError::Solc {
            contract: name.into(),
            reason: format!("{file} defines no contract {name}"),
        })
}
