//! An in-process EVM (revm at Osaka, the rules mainnet runs since the Fusaka
//! upgrade and anvil 1.7.1's default; EIP-170 enforced) for verifier checks,
//! gas measurement and fast contract tests without a node.

use crate::error::{OnchainError, Result};
use revm::context::TxEnv;
use revm::context::result::{ExecutionResult, Output};
use revm::context_interface::ContextTr;
use revm::database::InMemoryDB;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address, Log, TxKind, U256, address};
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use std::collections::HashMap;

/// Gas limit of every transaction: Osaka's per-transaction cap (EIP-7825).
pub const TX_GAS_LIMIT: u64 = 16_777_216;

/// The account that deploys and calls unless told otherwise.
pub const DEFAULT_SENDER: Address = address!("0x00000000000000000000000000000000c1a1c1a1");

/// What a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    pub success: bool,
    /// Total gas of the transaction (21,000 intrinsic + calldata + execution).
    pub gas_used: u64,
    /// Return data, or revert data.
    pub output: Vec<u8>,
    pub logs: Vec<Log>,
}

/// A private chain in memory; gas price 0, balances set with [`LocalEvm::fund`].
#[allow(missing_debug_implementations)]
pub struct LocalEvm {
    evm: MainnetEvm<MainnetContext<InMemoryDB>>,
    nonces: HashMap<Address, u64>,
}

impl Default for LocalEvm {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalEvm {
    pub fn new() -> Self {
        let mut evm = Context::mainnet()
            .modify_cfg_chained(|cfg| cfg.spec = SpecId::OSAKA)
            .with_db(InMemoryDB::default())
            .build_mainnet();
        evm.ctx.block.timestamp = U256::from(1_700_000_000u64);
        Self {
            evm,
            nonces: HashMap::new(),
        }
    }

    /// Gives `who` a balance of `wei`.
    pub fn fund(&mut self, who: Address, wei: U256) {
        self.evm.ctx.db_mut().insert_account_info(
            who,
            AccountInfo {
                balance: wei,
                nonce: self.nonces.get(&who).copied().unwrap_or(0),
                ..Default::default()
            },
        );
    }

    pub fn balance(&mut self, who: Address) -> U256 {
        use revm::Database;
        self.evm
            .ctx
            .db_mut()
            .basic(who)
            .ok()
            .flatten()
            .map_or(U256::ZERO, |a| a.balance)
    }

    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.saturating_to()
    }

    /// Moves the block clock to `t` (seconds).
    pub fn set_timestamp(&mut self, t: u64) {
        self.evm.ctx.block.timestamp = U256::from(t);
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Vec<u8>,
        value: U256,
    ) -> Result<ExecutionResult> {
        let nonce = self.nonces.entry(from).or_insert(0);
        let tx = TxEnv {
            caller: from,
            gas_limit: TX_GAS_LIMIT,
            kind,
            data: data.into(),
            value,
            nonce: *nonce,
            ..Default::default()
        };
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|e| OnchainError::Deploy {
                contract: "transaction".into(),
                reason: format!("{e:?}"),
            })?;
        *nonce += 1;
        Ok(result)
    }

    /// Deploys `creation` code (constructor arguments appended) from the default sender;
    /// returns the contract address and the deployment gas.
    pub fn deploy(&mut self, name: &str, creation: Vec<u8>) -> Result<(Address, u64)> {
        let fail = |reason: String| OnchainError::Deploy {
            contract: name.into(),
            reason,
        };
        match self.transact(DEFAULT_SENDER, TxKind::Create, creation, U256::ZERO)? {
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

    /// Calls `to` with `data` from the default sender; reverts are outcomes, not errors.
    pub fn call(&mut self, to: Address, data: Vec<u8>) -> Result<CallOutcome> {
        self.call_from(DEFAULT_SENDER, to, data, U256::ZERO)
    }

    /// Calls `to` from `from`, sending `value` wei.
    pub fn call_from(
        &mut self,
        from: Address,
        to: Address,
        data: Vec<u8>,
        value: U256,
    ) -> Result<CallOutcome> {
        Ok(match self.transact(from, TxKind::Call(to), data, value)? {
            ExecutionResult::Success {
                gas_used,
                output,
                logs,
                ..
            } => CallOutcome {
                success: true,
                gas_used,
                output: output.into_data().to_vec(),
                logs,
            },
            ExecutionResult::Revert { gas_used, output } => CallOutcome {
                success: false,
                gas_used,
                output: output.to_vec(),
                logs: Vec::new(),
            },
            ExecutionResult::Halt { gas_used, .. } => CallOutcome {
                success: false,
                gas_used,
                output: Vec::new(),
                logs: Vec::new(),
            },
        })
    }
}
