//! One module per command, plus the input-file formats they share.

pub mod chain_cmd;
pub mod inputs;
pub mod inspect;
pub mod prove_cmds;
pub mod run;
pub mod verifier_cmd;
