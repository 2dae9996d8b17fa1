//! Secret references and what is done with them outside the server.
//!
//! - [`reference`]: parsing `hush://`, `env://`, `file://`, `cmd://`,
//!   `vault://` and `op://` URIs (with an optional `?cacheKey=`);
//! - [`resolver`]: turning a reference into its value, `hush://` through the
//!   REST client;
//! - [`vault`]: `vault://` from Vault or OpenBao (KV v2);
//! - [`onepassword`]: `op://` from 1Password Connect or the `op` CLI;
//! - [`cache_key`]: keys that follow a secret's value without revealing it;
//! - [`dotenv`]: `--env-file` files whose values may be references;
//! - [`process`]: running a child with values injected and its output scrubbed
//!   (`hush-redact`).
//!
//! The server, the store and the CLI's argument parsing live elsewhere.

pub mod cache_key;
pub mod dotenv;
pub mod onepassword;
pub mod process;
pub mod reference;
pub mod resolver;
pub mod vault;

pub use reference::{Reference, ReferenceError, Source};
pub use resolver::{ResolveError, Resolver};
