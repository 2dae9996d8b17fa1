//! Compiles the `.proto` with protox (pure Rust: no system `protoc`) and
//! generates the tonic server and client with tonic-prost-build. The
//! descriptor set is kept for gRPC reflection.

use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/hush/v1/secret_service.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("hush_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().build_client(true).build_transport(false).build_server(true).compile_fds(fds)?;
    Ok(())
}
