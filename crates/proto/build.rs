//! Compiles the `.proto` with protox (pure Rust: no system `protoc`) and
//! generates the tonic server and client with tonic-prost-build. The
//! descriptor set is kept for gRPC reflection.

use std::path::PathBuf;

use prost::Message;

/// Messages holding secret values (their Debug is written by hand).
const SECRET_MESSAGES: [&str; 7] = [
    "GenericSecret",
    "GitSecret",
    "RegistrySecret",
    "SecretValue",
    "Secret",
    "CreateSecretRequest",
    "SecretValue.value",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/hush/v1/secret_service.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("hush_descriptor.bin"), fds.encode_to_vec())?;
    // Messages that carry values get a Debug that prints no value (src/lib.rs).
    tonic_prost_build::configure()
        .build_client(true)
        .build_transport(false)
        .build_server(true)
        .skip_debug(SECRET_MESSAGES.map(|m| format!("hush.v1.{m}")))
        .compile_fds(fds)?;
    Ok(())
}
