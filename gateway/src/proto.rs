//! Generated protobuf and tonic code (build.rs, protox: no protoc needed).

#![allow(missing_docs, missing_debug_implementations, clippy::all, clippy::pedantic)]

/// cipherproof's own API, version 1.
pub mod v1 {
    tonic::include_proto!("cipherproof.v1");
}

/// KServe v2 / Triton's `inference.GRPCInferenceService` (the served subset).
pub mod inference {
    tonic::include_proto!("inference");
}

/// Encoded descriptors of every served proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
