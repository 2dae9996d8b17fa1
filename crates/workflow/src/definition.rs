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
    /// Where errors of the state go instead of failing the instance.
    pub catch: Vec<Catch>,
    /// How long the whole state may take.
    pub timeout: Option<Duration>,
}

/// One `catch` entry: errors whose code matches `pattern` go to `transition`
/// (or end the instance successfully without one), with the error under `.error`.
#[derive(Debug)]
pub struct Catch {
    /// The glob as written (`*` matches any run of characters).
    pub pattern: String,
    /// The glob compiled.
    pub matcher: regex_lite::Regex,
    /// Index of the state to go to.
    pub transition: Option<usize>,
}

impl Catch {
    /// Whether an error with `code` is caught here.
    pub fn covers(&self, code: &str) -> bool {
        self.matcher.is_match(code)
    }
}

/// One `switch` condition.
#[derive(Debug)]
pub struct Condition {
    /// Taken when this is truthy (neither `false` nor `null`).
    pub condition: Template,
    /// Where to go then.
    pub transition: Option<usize>,
    /// Replaces the data then.
    pub transform: Option<Template>,
}

/// How a `parallel` state's actions must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParallelMode {
    /// All must succeed.
    And,
    /// The first to succeed wins; the others are cancelled.
    Or,
}

/// What a state does.
#[derive(Debug)]
pub enum StateKind {
    /// Passes its data on.
    Noop,
    /// Calls a function.
    Action(Action),
    /// Calls a function once per element of an array, `.` bound to it.
    Foreach {
        /// The array.
        array: Template,
        /// The call.
        action: Action,
    },
    /// Calls several functions at once.
    Parallel {
        /// The calls, in file order.
        actions: Vec<Action>,
        /// How they must end.
        mode: ParallelMode,
    },
    /// Picks the next state by the first truthy condition.
    Switch {
        /// The conditions, in order.
        conditions: Vec<Condition>,
        /// Where to go when none holds.
        default_transition: Option<usize>,
        /// Replaces the data when none holds.
        default_transform: Option<Template>,
    },
    /// Waits.
    Delay {
        /// How long.
        duration: Duration,
    },
    /// Checks data against a JSON Schema.
    Validate {
        /// The schema, compiled.
        schema: Arc<jsonschema::Validator>,
        /// What is checked; without one, the state's data.
        subject: Option<Template>,
    },
    /// Raises an error (catchable).
    Error {
        /// Its code.
        code: String,
        /// Its message; `%s` and `%v` are filled from `args` in order.
        message: String,
        /// Values for the message.
        args: Vec<Template>,
    },
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

impl State {
    /// The calls this state makes.
    pub fn actions(&self) -> Vec<&Action> {
        match &self.kind {
            StateKind::Action(a) | StateKind::Foreach { action: a, .. } => vec![a],
            StateKind::Parallel { actions, .. } => actions.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The states it may go to next: its transition, its conditions', its catches'.
    pub fn next_states(&self) -> Vec<usize> {
        let mut next: Vec<usize> = self.transition.into_iter().collect();
        if let StateKind::Switch { conditions, default_transition, .. } = &self.kind {
            next.extend(conditions.iter().filter_map(|c| c.transition));
            next.extend(*default_transition);
        }
        next.extend(self.catch.iter().filter_map(|c| c.transition));
        next
    }
}

impl Workflow {
    /// Secret names the file's actions list, sorted, subflows not included.
    pub fn secrets(&self) -> BTreeSet<&str> {
        self.states.iter().flat_map(|s| s.actions()).flat_map(|a| a.secrets.iter().map(String::as_str)).collect()
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
