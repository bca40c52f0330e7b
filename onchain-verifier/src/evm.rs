//! An in-process EVM (revm, mainnet rules, EIP-170 enforced) for verifier
//! checks, gas measurement and fast contract tests without a node.

use crate::error::{OnchainError, Result};
use revm::context::TxEnv;
use revm::context::result::{ExecutionResult, Output};
use revm::database::InMemoryDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::{Address, TxKind};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

/// Gas limit of every transaction (a mainnet-sized block).
pub const TX_GAS_LIMIT: u64 = 30_000_000;

/// What a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    pub success: bool,
    /// Total gas of the transaction (21,000 intrinsic + calldata + execution).
    pub gas_used: u64,
    pub output: Vec<u8>,
}

/// A private chain in memory with one funded-by-nothing sender (gas price 0).
#[allow(missing_debug_implementations)]
pub struct LocalEvm {
    evm: MainnetEvm<MainnetContext<InMemoryDB>>,
    nonce: u64,
}

impl Default for LocalEvm {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalEvm {
    pub fn new() -> Self {
        Self {
            evm: Context::mainnet()
                .with_db(InMemoryDB::default())
                .build_mainnet(),
            nonce: 0,
        }
    }

    fn transact(&mut self, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult> {
        let tx = TxEnv {
            gas_limit: TX_GAS_LIMIT,
            kind,
            data: data.into(),
            nonce: self.nonce,
            ..Default::default()
        };
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|e| OnchainError::Deploy {
                contract: "transaction".into(),
                reason: format!("{e:?}"),
            })?;
        self.nonce += 1;
        Ok(result)
    }

    /// Deploys `creation` code; returns the contract address and the deployment gas.
    pub fn deploy(&mut self, name: &str, creation: Vec<u8>) -> Result<(Address, u64)> {
        let fail = |reason: String| OnchainError::Deploy {
            contract: name.into(),
            reason,
        };
        match self.transact(TxKind::Create, creation)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                gas_used,
                ..
            } => Ok((address, gas_used)),
            ExecutionResult::Success { .. } => Err(fail("no contract was created".into())),
            ExecutionResult::Revert { gas_used, output } => Err(fail(format!(
                "reverted after {gas_used} gas (0x{})",
                hex::encode(output)
            ))),
            ExecutionResult::Halt { reason, gas_used } => {
                Err(fail(format!("halted after {gas_used} gas: {reason:?}")))
            }
        }
    }

    /// Calls `to` with `data` as a transaction; reverts are outcomes, not errors.
    pub fn call(&mut self, to: Address, data: Vec<u8>) -> Result<CallOutcome> {
        Ok(match self.transact(TxKind::Call(to), data)? {
            ExecutionResult::Success {
                gas_used, output, ..
            } => CallOutcome {
                success: true,
                gas_used,
                output: output.into_data().to_vec(),
            },
            ExecutionResult::Revert { gas_used, output } => CallOutcome {
                success: false,
                gas_used,
                output: output.to_vec(),
            },
            ExecutionResult::Halt { gas_used, .. } => CallOutcome {
                success: false,
                gas_used,
                output: Vec::new(),
            },
        })
    }
}
