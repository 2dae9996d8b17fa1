//! Runs a loaded workflow: states in order of their transitions, data
//! flowing as in Direktiv.
//!
//! - An instance starts with its input (an object; anything else is
//!   wrapped as `{"input": …}`).
//! - A `noop` passes its data on. An `action` calls its function and puts
//!   the result under `.return`; a `foreach` calls it once per element of
//!   its array (`.` bound to the element, `{"value": element}` for one that
//!   is not an object; at most `max_parallel` at once) and puts the
//!   returns, in order, under `.return`; a `parallel` calls all its actions
//!   at once and puts the returns in action order under `.return`
//!   (`mode: and`: all must succeed; `mode: or`: the first success wins,
//!   the other slots are `null`, and the others are cancelled, their
//!   processes killed). A
//!   `switch` goes where its first truthy condition says, a `delay` waits,
//!   an `error` raises its code. A `transform` then replaces the state's
//!   data with its value, which must be an object.
//! - A state's error whose code a `catch` glob matches goes to that entry's
//!   state with the error under `.error` (`code`, `msg`, scrubbed, as Direktiv);
//!   any other fails the instance with its code.
//! - For an action with `secrets`, each is fetched once per instance (the
//!   audit log records the workflow, instance and state of the first use),
//!   added to the instance's scrub set, and placed under `.secrets` only
//!   while the action's `input` is evaluated; the enriched data is then
//!   wiped. An action without `input` gets the state data, which never
//!   holds `.secrets`.
//! - An instance visits at most `max_states` states (a `switch` loop ends).
//! - Subflows are instances of their own, sharing the scrub set and log.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};

use std::collections::HashMap;

use futures_util::StreamExt;

use crate::definition::{Action, FunctionKind, ParallelMode, State, StateKind, Workflow};
use crate::failure::{Failure, code};
use crate::functions::container::{self, ContainerCall, Podman};
use crate::functions::{child, http_request};
use crate::log::Log;
use crate::output_check;
use crate::secrets::FetchedSecret;
use crate::secrets::SecretSource;
use crate::template::EvalError;

/// Deepest subflow nesting.
pub const MAX_DEPTH: usize = 10;
/// Most instances (the first and every subflow call) one run starts.
pub const MAX_INSTANCES: usize = 1000;
/// How many calls a `foreach` makes at once unless told.
pub const DEFAULT_MAX_PARALLEL: usize = 10;
/// How many states one instance may visit unless told.
pub const DEFAULT_MAX_STATES: usize = 10_000;

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
    max_parallel: usize,
    max_states: usize,
}

/// One instance: where it runs, and the secrets it has fetched (each once,
/// kept as zeroizing bytes until the instance ends).
struct Instance<'a> {
    workflow: &'a Arc<Workflow>,
    log: Log,
    id: String,
    depth: usize,
    secrets: tokio::sync::Mutex<HashMap<String, Arc<FetchedSecret>>>,
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
        Ok(Runner {
            source,
            log,
            http: http_request::client()?,
            podman,
            instances: AtomicUsize::new(0),
            max_parallel: DEFAULT_MAX_PARALLEL,
            max_states: DEFAULT_MAX_STATES,
        })
    }

    /// The same runner making at most `n` (at least 1) calls of one `foreach` at once.
    pub fn with_max_parallel(mut self, n: usize) -> Runner {
        self.max_parallel = n.max(1);
        self
    }

    /// The same runner letting an instance visit at most `n` states.
    pub fn with_max_states(mut self, n: usize) -> Runner {
        self.max_states = n.max(1);
        self
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
            let instance = Instance { workflow, log, id, depth, secrets: Default::default() };
            let result = self.states(&instance, Value::Object(as_object(input))).await;
            if result.is_ok() {
                instance.log.info(None, &format!("instance {} finished", instance.id));
            }
            result
        })
    }

    /// Runs the instance's states from the start, catching what `catch` covers.
    async fn states(&self, instance: &Instance<'_>, mut data: Value) -> Result<Value, Failure> {
        let workflow = instance.workflow;
        let mut at = Some(workflow.start);
        let mut visits = 0usize;
        while let Some(index) = at {
            let state = &workflow.states[index];
            visits += 1;
            if visits > self.max_states {
                let message = format!("the instance visited more than {} states", self.max_states);
                return Err(Failure::new(code::LIMITS_STATES, message).at(&workflow.id, &state.id));
            }
            let ran = match state.timeout {
                None => self.state(instance, state, data.clone()).await,
                Some(limit) => match tokio::time::timeout(limit, self.state(instance, state, data.clone())).await {
                    Ok(ran) => ran,
                    Err(_) => Err(Failure::new(
                        code::TIMEOUT,
                        format!("the state took longer than {}", humantime::format_duration(limit)),
                    )),
                },
            };
            match ran {
                Ok((next_data, next)) => {
                    data = next_data;
                    at = next;
                }
                Err(failure) => match state.catch.iter().find(|c| c.covers(&failure.code)) {
                    Some(catch) => {
                        let message = self.scrub(&failure.message);
                        instance
                            .log
                            .warn(Some(&state.id), &format!("caught {} ({}): {message}", failure.code, catch.pattern));
                        if let Value::Object(map) = &mut data {
                            let error = serde_json::json!({ "code": failure.code, "msg": message });
                            map.insert("error".to_owned(), error);
                        }
                        at = catch.transition;
                    }
                    None => return Err(failure.at(&workflow.id, &state.id)),
                },
            }
        }
        Ok(data)
    }

    /// Runs one state: its new data and the next state.
    async fn state(
        &self,
        instance: &Instance<'_>,
        state: &State,
        mut data: Value,
    ) -> Result<(Value, Option<usize>), Failure> {
        let log = &instance.log;
        if let Some(line) = &state.log {
            let text = match line.eval(&data).map_err(jq_failure)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            log.info(Some(&state.id), &text);
        }
        let mut next = state.transition;
        let mut transform = state.transform.as_ref();
        match &state.kind {
            StateKind::Noop => {}
            StateKind::Action(action) => {
                let result = self.action(instance, state, action, &data).await?;
                put_return(&mut data, result);
            }
            StateKind::Foreach { array, action } => {
                let elements = match array.eval(&data).map_err(jq_failure)? {
                    Value::Array(elements) => elements,
                    other => {
                        return Err(Failure::new(
                            code::FOREACH_BAD_ARRAY,
                            format!("the foreach array is {}, not a list", json_kind(&other)),
                        ));
                    }
                };
                log.info(
                    Some(&state.id),
                    &format!("{} iterations, at most {} at once", elements.len(), self.max_parallel),
                );
                // Direktiv turns an element that is not an object into `{}`;
                // hush keeps it, as `.value`.
                let scopes: Vec<Value> = elements
                    .into_iter()
                    .map(|e| if e.is_object() { e } else { serde_json::json!({ "value": e }) })
                    .collect();
                let mut calls = Vec::with_capacity(scopes.len());
                for scope in &scopes {
                    calls.push(self.action(instance, state, action, scope));
                }
                let results: Vec<Value> = futures_util::stream::iter(calls)
                    .buffered(self.max_parallel)
                    .collect::<Vec<Result<Value, Failure>>>()
                    .await
                    .into_iter()
                    .collect::<Result<_, _>>()?;
                put_return(&mut data, Value::Array(results));
            }
            StateKind::Parallel { actions, mode } => {
                let mut calls = Vec::with_capacity(actions.len());
                for action in actions {
                    calls.push(Box::pin(self.action(instance, state, action, &data)));
                }
                let result = match mode {
                    ParallelMode::And => Value::Array(futures_util::future::try_join_all(calls).await?),
                    // The losers are dropped: their processes are killed (kill_on_drop).
                    ParallelMode::Or => {
                        let (winner, index) = first_success(calls).await?;
                        let mut slots = vec![Value::Null; actions.len()];
                        slots[index] = winner;
                        Value::Array(slots)
                    }
                };
                put_return(&mut data, result);
            }
            StateKind::Switch { conditions, default_transition, default_transform } => {
                next = *default_transition;
                transform = default_transform.as_ref();
                for condition in conditions {
                    if truthy(&condition.condition.eval(&data).map_err(jq_failure)?) {
                        next = condition.transition;
                        transform = condition.transform.as_ref();
                        break;
                    }
                }
            }
            StateKind::Delay { duration } => {
                log.info(Some(&state.id), &format!("waiting {}", humantime::format_duration(*duration)));
                tokio::time::sleep(*duration).await;
            }
            StateKind::Validate { schema, subject } => {
                let subject = match subject {
                    Some(template) => template.eval(&data).map_err(jq_failure)?,
                    None => data.clone(),
                };
                let problems = schema_problems(schema, &subject);
                if !problems.is_empty() {
                    return Err(Failure::new(
                        code::SCHEMA_FAILED,
                        format!("the subject fails its JSON Schema: {}", problems.join("; ")),
                    ));
                }
            }
            StateKind::Error { code, message, args } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(arg.eval(&data).map_err(jq_failure)?);
                }
                return Err(Failure::new(code, fill_message(message, &values)));
            }
        }
        if let Some(transform) = transform {
            data = match transform.eval(&data).map_err(jq_failure)? {
                v @ Value::Object(_) => v,
                other => {
                    return Err(Failure::new(
                        code::JQ_NOT_OBJECT,
                        format!("the transform produced {}, not an object", json_kind(&other)),
                    ));
                }
            };
        }
        Ok((data, next))
    }

    /// One call of an action: its input built against `scope` (the state's
    /// data, or a foreach element), the call made with retries, the
    /// secret-enriched input wiped afterwards.
    async fn action(
        &self,
        instance: &Instance<'_>,
        state: &State,
        action: &Action,
        scope: &Value,
    ) -> Result<Value, Failure> {
        let context = format!(
            "workflow={} instance={} state={}",
            context_safe(&instance.workflow.id),
            instance.id,
            context_safe(&state.id)
        );
        let mut input = self.action_input(instance, action, scope, &context, &state.id).await?;
        let result = self.call_with_retries(instance, state, action, &input, &context).await;
        // The evaluated input may hold secret values: wiped once the call is over.
        hush_client::wipe(&mut input);
        result
    }

    /// A secret of the instance: fetched on first use, then from memory.
    async fn instance_secret(
        &self,
        instance: &Instance<'_>,
        name: &str,
        context: &str,
    ) -> Result<Arc<FetchedSecret>, Failure> {
        let mut cache = instance.secrets.lock().await;
        if let Some(found) = cache.get(name) {
            return Ok(Arc::clone(found));
        }
        let fetched = self.source.secret(name, context).await.map_err(|e| match e {
            crate::secrets::SourceError::NotFound(m) => Failure::new(code::SECRET_NOT_FOUND, m),
            crate::secrets::SourceError::Failed(m) => Failure::new(code::SECRET_UNAVAILABLE, m),
        })?;
        instance
            .log
            .secrets()
            .add(fetched.sensitive())
            .map_err(|e| Failure::new(code::SECRET_UNAVAILABLE, format!("secret {name:?}: {e}")))?;
        let fetched = Arc::new(fetched);
        cache.insert(name.to_owned(), Arc::clone(&fetched));
        Ok(fetched)
    }

    /// The function's input: the template evaluated against the data with
    /// `.secrets` added, or the data as it is.
    async fn action_input(
        &self,
        instance: &Instance<'_>,
        action: &Action,
        data: &Value,
        context: &str,
        state: &str,
    ) -> Result<Value, Failure> {
        let log = &instance.log;
        let mut secrets = Map::new();
        for name in &action.secrets {
            let fetched = self.instance_secret(instance, name, context).await?;
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

    async fn call_with_retries(
        &self,
        instance: &Instance<'_>,
        state: &State,
        action: &Action,
        input: &Value,
        context: &str,
    ) -> Result<Value, Failure> {
        let log = &instance.log;
        let mut attempt = 0u32;
        let mut delay = action.retries.as_ref().map(|r| r.delay).unwrap_or_default();
        loop {
            let call = self.call(instance, state, action, input, context);
            let result = match tokio::time::timeout(action.timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(Failure::new(
                    code::TIMEOUT,
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
                    Some(r) if r.covers(&f.code) => {
                        return Err(Failure::new(
                            code::RETRIES_EXCEEDED,
                            format!("maximum retries exceeded; the last attempt failed with {f}"),
                        ));
                    }
                    _ => return Err(f),
                },
            }
        }
    }

    async fn call(
        &self,
        instance: &Instance<'_>,
        state: &State,
        action: &Action,
        input: &Value,
        context: &str,
    ) -> Result<Value, Failure> {
        let (workflow, log, depth) = (instance.workflow, &instance.log, instance.depth);
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

/// The first of `calls` to succeed, with its index; the others are dropped
/// (cancelled: their processes are killed). If all fail, the last failure
/// is named.
async fn first_success<F>(calls: Vec<F>) -> Result<(Value, usize), Failure>
where
    F: Future<Output = Result<Value, Failure>> + Unpin,
{
    let indexed: Vec<_> =
        calls.into_iter().enumerate().map(|(i, call)| Box::pin(async move { call.await.map(|v| (v, i)) })).collect();
    futures_util::future::select_ok(indexed)
        .await
        .map(|(won, _rest)| won)
        .map_err(|last| Failure::new(code::PARALLEL_ALL_FAILED, format!("every action failed; the last with {last}")))
}

/// Most schema problems named in one message.
const MAX_SCHEMA_PROBLEMS: usize = 5;

/// Where `subject` fails `schema`: the path in the subject and the schema
/// keyword it fails (`at /age: type`), never the value found there, which
/// may have come from a secret.
fn schema_problems(schema: &jsonschema::Validator, subject: &Value) -> Vec<String> {
    let mut problems: Vec<String> = schema
        .iter_errors(subject)
        .take(MAX_SCHEMA_PROBLEMS + 1)
        .map(|e| {
            let at = e.instance_path().as_str();
            let keyword = e.schema_path().as_str().rsplit('/').next().unwrap_or("").to_owned();
            format!("at {}: {keyword}", if at.is_empty() { "/" } else { at })
        })
        .collect();
    if problems.len() > MAX_SCHEMA_PROBLEMS {
        problems.truncate(MAX_SCHEMA_PROBLEMS);
        problems.push("…".to_owned());
    }
    problems
}

/// Puts a call's result under `.return`.
fn put_return(data: &mut Value, result: Value) {
    if let Value::Object(map) = data {
        map.insert("return".to_owned(), result);
    }
}

/// jq's truth: everything but `false` and `null`.
fn truthy(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::Bool(false))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a list",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Object(_) => "an object",
        Value::Null => "null",
    }
}

/// An `error` state's message: each `%s` or `%v` replaced by the next arg
/// (strings as themselves, other values as JSON), as Direktiv formats it.
fn fill_message(message: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut args = args.iter();
    let mut rest = message;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let verb = rest[at + 1..].chars().next();
        match verb {
            Some('s' | 'v') => {
                match args.next() {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(other) => out.push_str(&other.to_string()),
                    None => out.push_str("%!v(MISSING)"),
                }
                rest = &rest[at + 2..];
            }
            Some('%') => {
                out.push('%');
                rest = &rest[at + 2..];
            }
            _ => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_messages_are_filled_as_direktiv_formats_them() {
        let table = [
            ("plain", vec![], "plain"),
            ("missing %s in %v", vec![json!("name"), json!({"a": 1})], r#"missing name in {"a":1}"#),
            ("100%% sure: %s", vec![json!(3)], "100% sure: 3"),
            ("%s and %s", vec![json!("one")], "one and %!v(MISSING)"),
            ("50% off", vec![], "50% off"),
        ];
        for (message, args, expected) in table {
            assert_eq!(fill_message(message, &args), expected, "{message}");
        }
    }

    #[test]
    fn truth_is_jqs() {
        for (value, expected) in [(json!(null), false), (json!(false), false), (json!(0), true), (json!(""), true)] {
            assert_eq!(truthy(&value), expected, "{value}");
        }
    }
}
