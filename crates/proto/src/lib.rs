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

/// Debug for the messages that carry values (their derived Debug is
/// skipped in build.rs): names and types only, `[REDACTED]` for values.
mod redacted_debug {
    use std::fmt;

    use super::v1::*;

    const REDACTED: &str = "[REDACTED]";

    impl fmt::Debug for GenericSecret {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("GenericSecret").field("value", &REDACTED).finish()
        }
    }

    impl fmt::Debug for GitSecret {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("GitSecret").field("username", &self.username).field("token", &REDACTED).finish()
        }
    }

    impl fmt::Debug for RegistrySecret {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RegistrySecret")
                .field("username", &self.username)
                .field("password", &REDACTED)
                .field("server_address", &self.server_address)
                .finish()
        }
    }

    impl fmt::Debug for secret_value::Value {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                secret_value::Value::GenericSecret(v) => v.fmt(f),
                secret_value::Value::GitSecret(v) => v.fmt(f),
                secret_value::Value::RegistrySecret(v) => v.fmt(f),
            }
        }
    }

    impl fmt::Debug for SecretValue {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SecretValue").field("value", &self.value).finish()
        }
    }

    impl fmt::Debug for Secret {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Secret").field("metadata", &self.metadata).field("value", &self.value).finish()
        }
    }

    impl fmt::Debug for CreateSecretRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("CreateSecretRequest")
                .field("name", &self.name)
                .field("value", &self.value)
                .field("cas", &self.cas)
                .finish()
        }
    }
}

/// The messages holding values wipe them when dropped (tonic drops a
/// response once it is encoded, a request once the handler is done).
mod wipe_on_drop {
    use zeroize::Zeroize;

    use super::v1::*;

    impl Drop for GenericSecret {
        fn drop(&mut self) {
            self.value.zeroize();
        }
    }

    impl Drop for GitSecret {
        fn drop(&mut self) {
            self.token.zeroize();
            self.username.zeroize();
        }
    }

    impl Drop for RegistrySecret {
        fn drop(&mut self) {
            self.password.zeroize();
            self.username.zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::v1::*;

    #[test]
    fn messages_with_values_never_print_them() {
        let request = CreateSecretRequest {
            name: "n".into(),
            value: Some(SecretValue {
                value: Some(secret_value::Value::RegistrySecret(RegistrySecret {
                    username: "u".into(),
                    password: "PROTO-pw".into(),
                    server_address: "h".into(),
                })),
            }),
            cas: None,
        };
        let shown = format!(
            "{request:?} {:?} {:?}",
            GitSecret { username: "u".into(), token: "PROTO-tok".into() },
            GenericSecret { value: b"PROTO-bytes".to_vec() }
        );
        assert!(!shown.contains("PROTO-"), "{shown}");
        assert!(shown.contains("[REDACTED]") && shown.contains("username"), "{shown}");
    }
}

/// The encoded file descriptor set, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hush_descriptor.bin"));

/// The `.proto` source, as served in the docs.
pub const PROTO: &str = include_str!("../proto/hush/v1/secret_service.proto");
