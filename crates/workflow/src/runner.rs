//! Runs a loaded workflow: states in order of their transitions, data
//! flowing as in Direktiv.
//!
//! - An instance starts with its input (an object; anything else is
//!   wrapped as `{"input": …}`).
//! - A `noop` passes its data on. An `action` calls its function and puts
//!   the result under `.return`. A `transform` then replaces the state's
//!   data with its value, which must be an object.
//! - For an action with `secrets`, each is fetched (the audit log records
//!   the workflow, instance and state), added to the instance's scrub set,
//!   and placed under `.secrets` only while the action's `input` is
//!   evaluated; the enriched data is then wiped. An action without `input`
//!   gets the state data, which never holds `.secrets`.
//! - Subflows are instances of their own, sharing the scrub set and log.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::definition::{Action, FunctionKind, State, StateKind, Workflow};
use crate::failure::{Failure, code};
use crate::functions::container::{self, ContainerCall, Podman};
use crate::functions::{child, http_request};
use crate::log::Log;
use crate::output_check;
use crate::secrets::SecretSource;
use crate::template::EvalError;

/// Deepest subflow nesting.
pub const MAX_DEPTH: usize = 10;
/// Most instances (the first and every subflow call) one run starts.
pub const MAX_INSTANCES: usize = 1000;

/// What a finished instance produced.
#[derive(Debug)]
pub struct Outcome {
    /// The output (masked if strict).
    pub output: Value,
    /// Where the output held a resolved secret value.
    pub secret_paths: Vec<String>,
}

/// Runs workflows against one namespace.
#[derive(Debug)]
pub struct Runner {
    source: Arc<dyn SecretSource>,
    log: Log,
    http: reqwest::Client,
    podman: Option<Podman>,
    instances: AtomicUsize,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn instance_id() -> String {
    let mut bytes = [0u8; 8];
    // Ids only tell instances apart in logs and the audit trail.
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A workflow id as it can travel in `X-Hush-Context` (printable ASCII).
fn context_safe(id: &str) -> String {
    id.chars().take(64).map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect()
}

fn jq_failure(e: EvalError) -> Failure {
    Failure::new(code::JQ_FAILED, e.to_string())
}

fn as_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => Map::from_iter([("input".to_owned(), other)]),
    }
}

impl Runner {
    /// A runner reading secrets from `source`, logging to `log`, running
    /// containers with `podman` when there is one.
    pub fn new(source: Arc<dyn SecretSource>, log: Log, podman: Option<Podman>) -> Result<Runner, Failure> {
        Ok(Runner { source, log, http: http_request::client()?, podman, instances: AtomicUsize::new(0) })
    }

    /// Runs `workflow` with `input`. With `strict`, secret values in the
    /// output are replaced by `***`; either way they are reported.
    pub async fn run(&self, workflow: &Arc<Workflow>, input: Value, strict: bool) -> Result<Outcome, Failure> {
        let output = self.instance(workflow, input, 0).await?;
        let secret_paths = output_check::find(&output, self.log.secrets());
        if !secret_paths.is_empty() {
            let what = if strict { "they are replaced by ***" } else { "use --strict to mask them" };
            self.log
                .for_instance(&workflow.id, "")
                .warn(None, &format!("the output holds resolved secret values at {}; {what}", secret_paths.join(", ")));
        }
        let output = if strict { output_check::mask(output, self.log.secrets()) } else { output };
        Ok(Outcome { output, secret_paths })
    }

    /// `message` with every resolved value masked: for errors shown to users.
    pub fn scrub(&self, message: &str) -> String {
        self.log.secrets().scrub(message)
    }

    fn instance<'a>(
        &'a self,
        workflow: &'a Arc<Workflow>,
        input: Value,
        depth: usize,
    ) -> BoxFuture<'a, Result<Value, Failure>> {
        Box::pin(async move {
            if depth > MAX_DEPTH {
                return Err(Failure::new(code::LIMITS_DEPTH, format!("subflows nest deeper than {MAX_DEPTH}")));
            }
            if self.instances.fetch_add(1, Ordering::Relaxed) >= MAX_INSTANCES {
                return Err(Failure::new(
                    code::LIMITS_INSTANCES,
                    format!("one run may start at most {MAX_INSTANCES} instances"),
                ));
            }
            let id = instance_id();
            let log = self.log.for_instance(&workflow.id, &id);
            log.info(None, &format!("instance {id} of {} started", workflow.path.display()));
            let mut data = Value::Object(as_object(input));
            let mut at = Some(workflow.start);
            while let Some(index) = at {
                let state = &workflow.states[index];
                data = self
                    .state(workflow, state, data, &log, &id, depth)
                    .await
                    .map_err(|f| f.at(&workflow.id, &state.id))?;
                at = state.transition;
            }
            log.info(None, &format!("instance {id} finished"));
            Ok(data)
        })
    }

    async fn state(
        &self,
        workflow: &Arc<Workflow>,
        state: &State,
        mut data: Value,
        log: &Log,
        instance: &str,
        depth: usize,
    ) -> Result<Value, Failure> {
        if let Some(line) = &state.log {
            let text = match line.eval(&data).map_err(jq_failure)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            log.info(Some(&state.id), &text);
        }
        if let StateKind::Action(action) = &state.kind {
            let context = format!(
                "workflow={} instance={instance} state={}",
                context_safe(&workflow.id),
                context_safe(&state.id)
            );
            let mut input = self.action_input(action, &data, &context, &state.id, log).await?;
            let result = self.call_with_retries(workflow, state, action, &input, &context, log, depth).await;
            // The evaluated input may hold secret values: wiped once the call is over.
            hush_client::wipe(&mut input);
            let result = result?;
            if let Value::Object(map) = &mut data {
                map.insert("return".to_owned(), result);
            }
        }
        if let Some(transform) = &state.transform {
            data = match transform.eval(&data).map_err(jq_failure)? {
                v @ Value::Object(_) => v,
                other => {
                    let kind = match other {
                        Value::Array(_) => "a list",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        Value::Bool(_) => "a boolean",
                        _ => "null",
                    };
                    return Err(Failure::new(
                        code::JQ_NOT_OBJECT,
                        format!("the transform produced {kind}, not an object"),
                    ));
                }
            };
        }
        Ok(data)
    }

    /// The function's input: the template evaluated against the data with
    /// `.secrets` added, or the data as it is.
    async fn action_input(
        &self,
        action: &Action,
        data: &Value,
        context: &str,
        state: &str,
        log: &Log,
    ) -> Result<Value, Failure> {
        let mut secrets = Map::new();
        for name in &action.secrets {
            let fetched = self.source.secret(name, context).await.map_err(|e| match e {
                crate::secrets::SourceError::NotFound(m) => Failure::new(code::SECRET_NOT_FOUND, m),
                crate::secrets::SourceError::Failed(m) => Failure::new(code::SECRET_UNAVAILABLE, m),
            })?;
            log.secrets()
                .add(fetched.sensitive())
                .map_err(|e| Failure::new(code::SECRET_UNAVAILABLE, format!("secret {name:?}: {e}")))?;
            let value = fetched.to_json().ok_or_else(|| {
                Failure::new(code::SECRET_UNAVAILABLE, format!("secret {name:?} is not text, so jq cannot use it"))
            })?;
            secrets.insert(name.clone(), value);
        }
        if !action.secrets.is_empty() {
            log.info(Some(state), &format!("read secrets {}", action.secrets.join(", ")));
        }
        let Some(template) = &action.input else {
            hush_client::wipe(&mut Value::Object(secrets));
            return Ok(data.clone());
        };
        let mut enriched = data.clone();
        if let Value::Object(map) = &mut enriched {
            map.insert("secrets".to_owned(), Value::Object(secrets));
        }
        let input = template.eval(&enriched).map_err(jq_failure);
        hush_client::wipe(&mut enriched);
        input
    }

    #[allow(clippy::too_many_arguments)]
    async fn call_with_retries(
        &self,
        workflow: &Arc<Workflow>,
        state: &State,
        action: &Action,
        input: &Value,
        context: &str,
        log: &Log,
        depth: usize,
    ) -> Result<Value, Failure> {
        let mut attempt = 0u32;
        let mut delay = action.retries.as_ref().map(|r| r.delay).unwrap_or_default();
        loop {
            let call = self.call(workflow, state, action, input, context, log, depth);
            let result = match tokio::time::timeout(action.timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(Failure::new(
                    code::FUNCTION_TIMEOUT,
                    format!("the call took longer than {}", humantime::format_duration(action.timeout)),
                )),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(f) => match &action.retries {
                    Some(r) if attempt < r.max_attempts && r.covers(&f.code) => {
                        attempt += 1;
                        log.warn(
                            Some(&state.id),
                            &format!(
                                "{f}; retry {attempt} of {} in {}",
                                r.max_attempts,
                                humantime::format_duration(delay)
                            ),
                        );
                        tokio::time::sleep(delay).await;
                        delay = Duration::from_secs_f64((delay.as_secs_f64() * r.multiplier).min(3600.0));
                    }
                    _ => return Err(f),
                },
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        workflow: &Arc<Workflow>,
        state: &State,
        action: &Action,
        input: &Value,
        context: &str,
        log: &Log,
        depth: usize,
    ) -> Result<Value, Failure> {
        let function = &workflow.functions[action.function];
        let what = format!("function {:?}", function.id);
        let dir = workflow.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        log.info(Some(&state.id), &format!("calling {what}"));
        match &function.kind {
            FunctionKind::Request { .. } => http_request::call(&self.http, input).await,
            FunctionKind::Process { cmd } => {
                let stream = log.stream(&state.id, &format!("{}: ", function.id));
                child::run_json(Path::new(&cmd[0]), &cmd[1..], dir, input, stream, &what).await
            }
            FunctionKind::Container { image, cmd } => {
                let login = match &self.podman {
                    Some(_) => self.source.registry_login(image, context).await.map_err(|e| {
                        Failure::new(code::FUNCTION_FAILED, format!("registry credentials for {image:?}: {e}"))
                    })?,
                    None => None,
                };
                if let Some(l) = &login {
                    log.secrets().add([&l.password]).map_err(|e| {
                        Failure::new(code::FUNCTION_FAILED, format!("registry credentials for {image:?}: {e}"))
                    })?;
                }
                match &login {
                    Some(l) => log.info(
                        Some(&state.id),
                        &format!("image {image} is pulled with the credentials of registry {}", l.registry),
                    ),
                    None => log.info(Some(&state.id), &format!("image {image}: no registry credentials apply")),
                }
                let streams = (log.stream(&state.id, "pull: "), log.stream(&state.id, &format!("{}: ", function.id)));
                let call = ContainerCall { image, cmd: cmd.as_deref(), login: login.as_ref() };
                container::call(self.podman.as_ref(), call, input, dir, streams, &what).await
            }
            FunctionKind::Subflow { workflow: child } => self.instance(child, input.clone(), depth + 1).await,
        }
    }
}
