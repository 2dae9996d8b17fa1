//! How an instance fails: an error code, as Direktiv reports them, and a
//! message. Messages are scrubbed before anyone sees them.
//!
//! Codes Direktiv has (`direktiv.jq.badCommand`, `direktiv.retries.exceeded`,
//! …) are Direktiv's, so its workflows' `catch` patterns work; the rest are
//! hush's own. Direktiv has no code for a missing secret (its instance
//! crashes, uncatchably); hush raises a catchable `direktiv.secrets.notFound`.

use std::fmt;

/// Codes the runner itself raises.
pub mod code {
    /// A secret the action lists does not exist.
    pub const SECRET_NOT_FOUND: &str = "direktiv.secrets.notFound";
    /// A secret could not be read (denied, unreachable, not text).
    pub const SECRET_UNAVAILABLE: &str = "secret.unavailable";
    /// A jq expression failed.
    pub const JQ_FAILED: &str = "direktiv.jq.badCommand";
    /// A transform did not produce an object.
    pub const JQ_NOT_OBJECT: &str = "direktiv.jq.notObject";
    /// A function exited with a failure or could not start.
    pub const FUNCTION_FAILED: &str = "function.failed";
    /// A function printed something that is not JSON.
    pub const FUNCTION_OUTPUT: &str = "function.badOutput";
    /// A function needs a tool that is not installed (podman).
    pub const FUNCTION_UNAVAILABLE: &str = "function.unavailable";
    /// An HTTP request could not be made or its input is wrong.
    pub const REQUEST_FAILED: &str = "request.failed";
    /// An HTTP request was answered with an error status.
    pub const REQUEST_STATUS: &str = "request.status";
    /// A call took longer than its action's `timeout`, or a state than its own.
    pub const TIMEOUT: &str = "direktiv.cancels.timeout.soft";
    /// An action's retries were used up (the message names the last failure).
    pub const RETRIES_EXCEEDED: &str = "direktiv.retries.exceeded";
    /// Every action of a `parallel` state in `mode: or` failed.
    pub const PARALLEL_ALL_FAILED: &str = "direktiv.parallel.allFailed";
    /// Subflows nest too deep.
    pub const LIMITS_DEPTH: &str = "limits.depth";
    /// An instance tree started too many instances.
    pub const LIMITS_INSTANCES: &str = "limits.instances";
    /// An instance visited too many states (a `switch` loop).
    pub const LIMITS_STATES: &str = "limits.states";
    /// A `validate` state's subject fails its schema.
    pub const SCHEMA_FAILED: &str = "direktiv.schema.failed";
    /// A `foreach` array is not a list.
    pub const FOREACH_BAD_ARRAY: &str = "direktiv.foreach.badArray";
}

/// A failed state or instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error code (`secret.notFound`, `function.failed`, …).
    pub code: String,
    /// What happened.
    pub message: String,
    /// The workflow and state it happened in, innermost subflow first.
    pub trace: Vec<String>,
}

impl Failure {
    /// A failure with a code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Failure {
        Failure { code: code.to_owned(), message: message.into(), trace: Vec::new() }
    }

    /// Adds where it happened.
    pub fn at(mut self, workflow: &str, state: &str) -> Failure {
        self.trace.push(format!("{workflow}[{state}]"));
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(place) = self.trace.first() {
            write!(f, "{place}: ")?;
        }
        write!(f, "{}: {}", self.code, self.message)?;
        if self.trace.len() > 1 {
            write!(f, " (in {})", self.trace[1..].join(" <- "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}
