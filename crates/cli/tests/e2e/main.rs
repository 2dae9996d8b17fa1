//! End-to-end tests: the real `hush` binary, a real server process on a
//! loopback port, real SQLite files, driven through the CLI and raw HTTP.
#![allow(missing_debug_implementations)]

mod components;
mod harness;
pub mod oidc_issuer;
mod pki;

mod at_rest;
mod audit;
mod audit_retention;
mod backup;
mod cli;
mod compat_http;
mod config_file;
mod durability;
mod errors;
mod git_clients;
mod grpc_clients;
mod hygiene;
mod identity;
mod inject;
mod isolation;
mod kms;
mod limits;
mod metrics;
mod onepassword;
mod packaging;
mod registries;
mod registry_clients;
mod replicas;
mod rotation;
mod startup;
mod tls;
mod tokens;
mod ui;
mod vault;
mod vault_api;
mod vault_client_replay;
mod workflows;
