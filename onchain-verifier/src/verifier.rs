//! A compiled model's EVM verifier: source, bytecode, files, and checks in the
//! in-process EVM.
//!
//! ```text
//! OUT/Verifier.sol            Solidity source (contract Halo2Verifier)
//! OUT/Verifier.bin            runtime bytecode, hex (what EIP-170 limits)
//! OUT/Verifier.creation.bin   deployment bytecode, hex
//! ```

use crate::error::{Result, io_err};
use crate::evm::{CallOutcome, LocalEvm};
use crate::solc::{CompiledContract, SolcSettings, compile_one};
use crate::solidity::{calldata, model_verifier_source};
use cipherproof_prover::artifact::ProofFile;
use cipherproof_prover::compile::Compiled;
use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use std::path::Path;

/// The contract name snark-verifier gives the verifier.
pub const CONTRACT: &str = "Halo2Verifier";

#[derive(Debug, Clone)]
pub struct ModelVerifier {
    pub source: String,
    pub contract: CompiledContract,
}

/// Generates and compiles the verifier of `c`, refusing one too large to deploy.
pub fn build(
    c: &Compiled,
    params: &ParamsKZG<Bn256>,
    settings: SolcSettings,
) -> Result<ModelVerifier> {
    let source = model_verifier_source(c, params)?;
    let contract = compile_one("Verifier.sol", &source, CONTRACT, settings)?;
    contract.check_size()?;
    Ok(ModelVerifier { source, contract })
}

impl ModelVerifier {
    /// Writes the source and both bytecodes to `out`.
    pub fn write(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out).map_err(io_err(out))?;
        for (name, text) in [
            ("Verifier.sol", self.source.clone()),
            ("Verifier.bin", hex::encode(&self.contract.runtime)),
            (
                "Verifier.creation.bin",
                hex::encode(&self.contract.creation),
            ),
        ] {
            let path = out.join(name);
            std::fs::write(&path, text).map_err(io_err(&path))?;
        }
        Ok(())
    }

    /// Deploys the verifier in a fresh in-process EVM and calls it with `proof`.
    pub fn check(&self, proof: &ProofFile) -> Result<CallOutcome> {
        let instances = proof.instance_values()?;
        let column = instances.first().cloned().unwrap_or_default();
        let data = calldata(&column, &proof.proof_bytes()?);
        self.check_calldata(data)
    }

    /// Deploys the verifier in a fresh in-process EVM and calls it with raw calldata.
    pub fn check_calldata(&self, data: Vec<u8>) -> Result<CallOutcome> {
        let mut evm = LocalEvm::new();
        let (address, _) = evm.deploy(CONTRACT, self.contract.creation.clone())?;
        evm.call(address, data)
    }
}
