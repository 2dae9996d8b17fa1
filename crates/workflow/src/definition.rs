//! A workflow as the runner uses it: functions and states, validated, with
//! every template compiled and every subflow loaded.
//!
//! [`crate::load`] builds these from YAML files.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::template::Template;

/// A loaded workflow file.
#[derive(Debug)]
pub struct Workflow {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its `id`, or the file name without extension.
    pub id: String,
    /// Functions, in file order.
    pub functions: Vec<Function>,
    /// States, in file order.
    pub states: Vec<State>,
    /// Index of the first state.
    pub start: usize,
}

/// A function states call.
#[derive(Debug)]
pub struct Function {
    /// Its id.
    pub id: String,
    /// What it runs.
    pub kind: FunctionKind,
}

/// What a function runs.
#[derive(Debug)]
pub enum FunctionKind {
    /// The built-in HTTP request function (images named `direktiv/request`).
    Request {
        /// The image as written.
        image: String,
    },
    /// A container run with podman.
    Container {
        /// The image reference.
        image: String,
        /// A command replacing the image's.
        cmd: Option<Vec<String>>,
    },
    /// A local command.
    Process {
        /// Program and arguments.
        cmd: Vec<String>,
    },
    /// Another workflow file.
    Subflow {
        /// The loaded file.
        workflow: Arc<Workflow>,
    },
}

/// A state.
#[derive(Debug)]
pub struct State {
    /// Its id.
    pub id: String,
    /// What it does.
    pub kind: StateKind,
    /// Replaces the state's data after it ran.
    pub transform: Option<Template>,
    /// Index of the next state; `None` ends the instance.
    pub transition: Option<usize>,
    /// A line written to the instance log when the state starts.
    pub log: Option<Template>,
}

/// What a state does.
#[derive(Debug)]
pub enum StateKind {
    /// Passes its data on.
    Noop,
    /// Calls a function.
    Action(Action),
}

/// An action state's call.
#[derive(Debug)]
pub struct Action {
    /// Index into the workflow's functions.
    pub function: usize,
    /// Secrets added under `.secrets` while `input` is evaluated.
    pub secrets: Vec<String>,
    /// The function's input; without one the function gets the state data.
    pub input: Option<Template>,
    /// Retry policy for failed calls.
    pub retries: Option<Retries>,
    /// How long one call may take.
    pub timeout: Duration,
}

/// When and how often a failed call is tried again.
#[derive(Debug)]
pub struct Retries {
    /// Attempts after the first.
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub delay: Duration,
    /// Factor the wait grows by after each retry.
    pub multiplier: f64,
    /// Error codes that are retried (regular expressions, whole-code
    /// matches); empty means every code.
    pub codes: Vec<regex_lite::Regex>,
}

impl Retries {
    /// Whether a failure with `code` is retried.
    pub fn covers(&self, code: &str) -> bool {
        self.codes.is_empty() || self.codes.iter().any(|re| re.is_match(code))
    }
}

impl Workflow {
    /// Secret names the file's actions list, sorted, subflows not included.
    pub fn secrets(&self) -> BTreeSet<&str> {
        self.states
            .iter()
            .filter_map(|s| match &s.kind {
                StateKind::Action(a) => Some(a.secrets.iter().map(String::as_str)),
                StateKind::Noop => None,
            })
            .flatten()
            .collect()
    }

    /// This file and every subflow file it reaches, each once, in the order
    /// first met.
    pub fn files(self: &Arc<Self>) -> Vec<Arc<Workflow>> {
        let mut out: Vec<Arc<Workflow>> = Vec::new();
        let mut stack = vec![Arc::clone(self)];
        while let Some(w) = stack.pop() {
            if out.iter().any(|seen| seen.path == w.path) {
                continue;
            }
            for f in w.functions.iter().rev() {
                if let FunctionKind::Subflow { workflow } = &f.kind {
                    stack.push(Arc::clone(workflow));
                }
            }
            out.push(w);
        }
        out
    }
}
