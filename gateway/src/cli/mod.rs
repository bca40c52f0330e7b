//! One module per command, plus the input-file formats they share.

pub mod chain_cmd;
pub mod client_cmd;
pub mod client_study;
pub mod fhe_cmd;
pub mod gpu_cmd;
pub mod inputs;
pub mod inspect;
pub mod load_cmd;
pub mod prove_backend;
pub mod prove_cmds;
pub mod run;
pub mod serve_cmd;
pub mod study_cmd;
pub mod verifier_cmd;
