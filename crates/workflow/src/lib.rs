//! The workflow runner: Direktiv-style workflow files run locally, with
//! secrets referenced by name and every resolved value scrubbed from logs.
//!
//! - [`load`]: YAML files into validated [`definition::Workflow`]s (subflows
//!   loaded too);
//! - [`jq`]: jq expressions (the `jaq` crates) with a safe function set;
//! - [`jq_sandbox`]: their evaluation in worker processes with time and memory limits;
//! - [`template`]: `jq(...)` inside JSON templates (action input, transforms);
//! - [`runner`]: states, data flow, secrets, retries and subflows;
//! - [`functions`]: the built-in HTTP request, processes and podman containers;
//! - [`secrets`] and [`server_source`]: where secrets come from, and the set
//!   every log line is scrubbed with;
//! - [`log`]: the scrubbed instance log (text or JSON lines);
//! - [`output_check`]: secret values in an instance's output;
//! - [`failure`]: error codes.
//!
//! docs/workflows.md describes the format for users.

pub mod definition;
pub mod failure;
pub mod functions;
pub mod jq;
pub mod jq_sandbox;
pub mod load;
pub mod log;
pub mod output_check;
pub mod runner;
pub mod secrets;
pub mod server_source;
pub mod template;

pub use definition::Workflow;
pub use failure::Failure;
pub use load::{LoadError, load};
pub use log::{Level, Log, LogFormat};
pub use runner::{Outcome, Runner};
pub use secrets::{SecretSet, SecretSource};
pub use server_source::ServerSource;
