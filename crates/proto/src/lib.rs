//! The gRPC contract: `hush.v1.SecretService`, generated at build time from
//! `proto/hush/v1/secret_service.proto` (in this crate; also in docs/api.md).
//!
//! Codegen lives in its own crate so the build script reruns only when the
//! `.proto` changes.
#![allow(missing_docs, missing_debug_implementations, clippy::all)]

/// `hush.v1`: messages, the server trait and a client.
pub mod v1 {
    tonic::include_proto!("hush.v1");
}

/// The encoded file descriptor set, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hush_descriptor.bin"));

/// The `.proto` source, as served in the docs.
pub const PROTO: &str = include_str!("../proto/hush/v1/secret_service.proto");
