//! Generates the gateway's protobuf and tonic code from `proto/` with protox
//! (a pure-Rust protobuf compiler), so no `protoc` is needed anywhere, and
//! writes the encoded descriptor set that gRPC reflection serves.

use prost::Message;

const PROTOS: [&str; 2] = [
    "proto/cipherproof/v1/cipherproof.proto",
    "proto/inference/grpc_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptors.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
