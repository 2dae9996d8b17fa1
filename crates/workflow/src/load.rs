//! Reads workflow files (YAML) into [`Workflow`]s, checking everything
//! before anything runs: unknown fields and state or function types, bad
//! jq, functions and states that do not exist, transitions that loop, and
//! subflow files (loaded too, relative to the file naming them; a file
//! reaching itself again is refused).
//!
//! Every problem in a file is reported, each naming the file, the state or
//! function, and the field.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::definition::{
    Action, Catch, Condition, Function, FunctionKind, ParallelMode, Retries, State, StateKind, Workflow,
};
use crate::template::Template;

/// Largest workflow file read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// How long an action's call may take unless it says (Direktiv's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The longest `timeout` accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Image names served by the built-in HTTP request function.
const REQUEST_IMAGE: &str = "direktiv/request";

/// One thing wrong in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// Where in it: `state "getter" field "action.input"`, or empty.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.place, self.message)
        }
    }
}

/// A workflow that cannot be loaded: every problem found.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub struct LoadError(pub Vec<Problem>);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

/// Loads `path` and every subflow it names.
pub fn load(path: &Path) -> Result<Arc<Workflow>, LoadError> {
    Loader::default().load(path, &mut Vec::new())
}

#[derive(Default)]
struct Loader {
    loaded: HashMap<PathBuf, Arc<Workflow>>,
    /// The first file's directory: every subflow file must be under it.
    root: Option<PathBuf>,
}

/// A regular file's text, at most [`MAX_FILE_BYTES`] (devices, FIFOs and
/// `/proc` files report no size, so the read itself is bounded).
fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(|e| format!("cannot read: {e}"))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("the file is over {MAX_FILE_BYTES} bytes"));
    }
    Ok(text)
}

/// Problems of one file, gathered while it is read.
struct Problems {
    file: PathBuf,
    list: Vec<Problem>,
}

impl Problems {
    fn add(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem { file: self.file.clone(), place: place.into(), message: message.into() });
    }
}

fn state_place(id: &str, field: &str) -> String {
    if field.is_empty() { format!("state {id:?}") } else { format!("state {id:?} field {field:?}") }
}

fn function_place(id: &str, field: &str) -> String {
    if field.is_empty() { format!("function {id:?}") } else { format!("function {id:?} field {field:?}") }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Unknown keys of `map`, each reported.
fn unknown_fields(map: &Map<String, Value>, allowed: &[&str], place: impl Fn(&str) -> String, problems: &mut Problems) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.add(place(""), format!("unknown field {key:?} (expected one of: {})", allowed.join(", ")));
        }
    }
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
}

/// Whether `image` is the built-in request function's: its repository path
/// ends in `direktiv/request`, whatever registry and tag.
fn is_request_image(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last_slash = without_digest.rfind('/').unwrap_or(0);
    let without_tag = match without_digest[last_slash..].rfind(':') {
        Some(colon) => &without_digest[..last_slash + colon],
        None => without_digest,
    };
    without_tag == REQUEST_IMAGE || without_tag.ends_with(&format!("/{REQUEST_IMAGE}"))
}

impl Loader {
    fn load(&mut self, path: &Path, chain: &mut Vec<PathBuf>) -> Result<Arc<Workflow>, LoadError> {
        let one = |message: String| LoadError(vec![Problem { file: path.to_owned(), place: String::new(), message }]);
        let canonical = std::fs::canonicalize(path).map_err(|e| one(format!("cannot read: {e}")))?;
        if let Some(w) = self.loaded.get(&canonical) {
            return Ok(Arc::clone(w));
        }
        if chain.contains(&canonical) {
            let names: Vec<String> = chain.iter().chain([&canonical]).map(|p| p.display().to_string()).collect();
            return Err(one(format!("subflows call each other in a loop: {}", names.join(" -> "))));
        }
        let root = self.root.get_or_insert_with(|| canonical.parent().map(Path::to_owned).unwrap_or_default());
        if !canonical.starts_with(&*root) {
            return Err(one(format!(
                "subflow files must be inside the workflow's directory {} (after following links)",
                root.display()
            )));
        }
        let text = read_limited(&canonical).map_err(one)?;
        // Without a snippet: a file that is not YAML must not be quoted back.
        let doc: Value =
            serde_saphyr::from_str(&text).map_err(|e| one(format!("not valid YAML: {}", e.without_snippet())))?;
        chain.push(canonical.clone());
        let result = self.build(path, &doc, chain);
        chain.pop();
        let workflow = Arc::new(result?);
        self.loaded.insert(canonical, Arc::clone(&workflow));
        Ok(workflow)
    }

    fn build(&mut self, path: &Path, doc: &Value, chain: &mut Vec<PathBuf>) -> Result<Workflow, LoadError> {
        let mut problems = Problems { file: path.to_owned(), list: Vec::new() };
        let Some(top) = doc.as_object() else {
            problems.add("", format!("a workflow is a mapping with `states`, not {}", kind_of(doc)));
            return Err(LoadError(problems.list));
        };
        unknown_fields(
            top,
            &["direktiv_api", "id", "description", "functions", "states", "start"],
            |_| String::new(),
            &mut problems,
        );
        if let Some(api) = top.get("direktiv_api")
            && api.as_str() != Some("workflow/v1")
        {
            problems.add("field \"direktiv_api\"", "only workflow/v1 is understood");
        }
        let id = match top.get("id") {
            None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(other) => {
                problems.add("field \"id\"", format!("expected a non-empty string, found {}", kind_of(other)));
                String::new()
            }
        };

        let functions = self.functions(path, top.get("functions"), &mut problems, chain);
        let raw_states: Vec<&Map<String, Value>> = match top.get("states") {
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let map = s.as_object();
                    if map.is_none() {
                        problems.add(format!("states[{i}]"), format!("expected a mapping, found {}", kind_of(s)));
                    }
                    map
                })
                .collect(),
            Some(Value::Array(_)) | None => {
                problems.add("field \"states\"", "a workflow needs at least one state");
                Vec::new()
            }
            Some(other) => {
                problems.add("field \"states\"", format!("expected a list, found {}", kind_of(other)));
                Vec::new()
            }
        };
        let mut ids: Vec<String> = Vec::new();
        for (i, s) in raw_states.iter().enumerate() {
            match s.get("id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => {
                    if ids.iter().any(|seen| seen == id) {
                        problems.add(state_place(id, "id"), "another state has this id");
                    }
                    ids.push(id.to_owned());
                }
                _ => {
                    problems.add(format!("states[{i}]"), "every state needs a string `id`");
                    ids.push(format!("#{i}"));
                }
            }
        }
        let states: Vec<State> =
            raw_states.iter().zip(&ids).filter_map(|(s, id)| state(id, s, &ids, &functions, &mut problems)).collect();
        let start = start_state(top.get("start"), &ids, &mut problems);
        if problems.list.is_empty() {
            check_loops(&states, &mut problems);
        }
        if !problems.list.is_empty() {
            return Err(LoadError(problems.list));
        }
        Ok(Workflow { path: path.to_owned(), id, functions, states, start })
    }

    fn functions(
        &mut self,
        path: &Path,
        value: Option<&Value>,
        problems: &mut Problems,
        chain: &mut Vec<PathBuf>,
    ) -> Vec<Function> {
        let list = match value {
            None => return Vec::new(),
            Some(Value::Array(list)) => list,
            Some(other) => {
                problems.add("field \"functions\"", format!("expected a list, found {}", kind_of(other)));
                return Vec::new();
            }
        };
        let mut out: Vec<Function> = Vec::new();
        for (i, f) in list.iter().enumerate() {
            let Some(map) = f.as_object() else {
                problems.add(format!("functions[{i}]"), format!("expected a mapping, found {}", kind_of(f)));
                continue;
            };
            let Some(id) = map.get("id").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
                problems.add(format!("functions[{i}]"), "every function needs a string `id`");
                continue;
            };
            if out.iter().any(|seen| seen.id == id) {
                problems.add(function_place(id, "id"), "another function has this id");
            }
            let place = |field: &str| function_place(id, field);
            let kind = match map.get("type").and_then(Value::as_str) {
                Some("reusable" | "isolated" | "knative-workflow" | "knative-namespace" | "knative-global") => {
                    unknown_fields(map, &["id", "type", "image", "cmd", "size"], place, problems);
                    let cmd = match map.get("cmd") {
                        None => None,
                        Some(v) => {
                            let cmd = string_list(v).filter(|c| !c.is_empty());
                            if cmd.is_none() {
                                problems.add(place("cmd"), "expected a non-empty list of strings");
                            }
                            cmd
                        }
                    };
                    match map.get("image").and_then(Value::as_str).filter(|s| !s.trim().is_empty()) {
                        Some(image) if is_request_image(image) => {
                            if cmd.is_some() {
                                problems.add(place("cmd"), "the built-in request function takes no command");
                            }
                            Some(FunctionKind::Request { image: image.to_owned() })
                        }
                        Some(image) => Some(FunctionKind::Container { image: image.to_owned(), cmd }),
                        None => {
                            problems.add(place("image"), "this function type needs an image");
                            None
                        }
                    }
                }
                Some("process") => {
                    unknown_fields(map, &["id", "type", "cmd"], place, problems);
                    match map.get("cmd").and_then(string_list).filter(|c| !c.is_empty()) {
                        Some(cmd) => Some(FunctionKind::Process { cmd }),
                        None => {
                            problems.add(place("cmd"), "expected a non-empty list of strings: program and arguments");
                            None
                        }
                    }
                }
                Some("subflow") => {
                    unknown_fields(map, &["id", "type", "workflow"], place, problems);
                    match map.get("workflow").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                        Some(file) => {
                            // Relative to the calling file; `/x.yaml` (Direktiv's
                            // namespace paths) is relative to the first file's directory.
                            let base = match (file.starts_with('/'), &self.root) {
                                (true, Some(root)) => root.clone(),
                                _ => path.parent().map(Path::to_owned).unwrap_or_default(),
                            };
                            let child = base.join(file.trim_start_matches('/'));
                            match self.load(&child, chain) {
                                Ok(workflow) => Some(FunctionKind::Subflow { workflow }),
                                Err(LoadError(child_problems)) => {
                                    problems.add(place("workflow"), format!("cannot load {}", child.display()));
                                    problems.list.extend(child_problems);
                                    None
                                }
                            }
                        }
                        None => {
                            problems.add(place("workflow"), "a subflow needs `workflow`: the file's path");
                            None
                        }
                    }
                }
                Some(other) => {
                    problems.add(
                        place("type"),
                        format!(
                            "unknown function type {other:?} (expected reusable, knative-workflow, knative-namespace, \
                             knative-global, process or subflow)"
                        ),
                    );
                    None
                }
                None => {
                    problems.add(place("type"), "every function needs a `type`");
                    None
                }
            };
            if let Some(kind) = kind {
                out.push(Function { id: id.to_owned(), kind });
            }
        }
        out
    }
}

fn start_state(value: Option<&Value>, ids: &[String], problems: &mut Problems) -> usize {
    let Some(value) = value else { return 0 };
    let Some(map) = value.as_object() else {
        problems.add("field \"start\"", format!("expected a mapping with `state`, found {}", kind_of(value)));
        return 0;
    };
    unknown_fields(map, &["type", "state"], |_| "field \"start\"".to_owned(), problems);
    if let Some(t) = map.get("type")
        && t.as_str() != Some("default")
    {
        problems.add("field \"start.type\"", "only the `default` start is supported");
    }
    match map.get("state").and_then(Value::as_str) {
        Some(id) => ids.iter().position(|s| s == id).unwrap_or_else(|| {
            problems.add("field \"start.state\"", format!("no state has the id {id:?}"));
            0
        }),
        None => 0,
    }
}

fn template(value: &Value, place: String, problems: &mut Problems) -> Option<Template> {
    Template::compile(value).map_err(|e| problems.add(place, e.to_string())).ok()
}

/// The fields every state may have, besides its type's own.
const COMMON_FIELDS: [&str; 7] = ["id", "type", "transform", "transition", "log", "catch", "timeout"];

/// State types Direktiv has that hush does not run, and why.
const REFUSED_STATES: [(&str, &str); 6] = [
    ("consumeEvent", "events need Direktiv's event bus; hush runs workflows locally"),
    ("eventAnd", "events need Direktiv's event bus; hush runs workflows locally"),
    ("eventXor", "events need Direktiv's event bus; hush runs workflows locally"),
    ("generateEvent", "events need Direktiv's event bus; hush runs workflows locally"),
    ("getter", "variables need Direktiv's variable store; pass values in the input instead"),
    ("setter", "variables need Direktiv's variable store; pass values in the output instead"),
];

/// Longest `delay` accepted.
const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

fn state(
    id: &str,
    map: &Map<String, Value>,
    ids: &[String],
    functions: &[Function],
    problems: &mut Problems,
) -> Option<State> {
    let place = |field: &str| state_place(id, field);
    let fields = |own: &[&str], problems: &mut Problems| {
        let allowed: Vec<&str> = COMMON_FIELDS.iter().chain(own).copied().collect();
        unknown_fields(map, &allowed, place, problems);
    };
    let target =
        |value: &Value, field: &str, problems: &mut Problems| transition_of(value, ids, &place(field), problems);
    let kind = match map.get("type").and_then(Value::as_str) {
        Some("noop") => {
            fields(&[], problems);
            Some(StateKind::Noop)
        }
        Some("action") => {
            fields(&["action"], problems);
            match map.get("action") {
                Some(Value::Object(action)) => {
                    action_of(id, "action", action, functions, problems).map(StateKind::Action)
                }
                Some(other) => {
                    problems.add(place("action"), format!("expected a mapping, found {}", kind_of(other)));
                    None
                }
                None => {
                    problems.add(place("action"), "an action state needs `action`");
                    None
                }
            }
        }
        Some("foreach") => {
            fields(&["array", "action"], problems);
            let array = match map.get("array") {
                Some(v @ Value::String(_)) => template(v, place("array"), problems),
                Some(other) => {
                    problems.add(place("array"), format!("expected jq(…) giving a list, found {}", kind_of(other)));
                    None
                }
                None => {
                    problems.add(place("array"), "a foreach state needs `array`: jq(…) giving a list");
                    None
                }
            };
            let action = match map.get("action") {
                Some(Value::Object(action)) => action_of(id, "action", action, functions, problems),
                _ => {
                    problems.add(place("action"), "a foreach state needs `action`, a mapping");
                    None
                }
            };
            Some(StateKind::Foreach { array: array?, action: action? })
        }
        Some("parallel") => {
            fields(&["actions", "mode"], problems);
            let mode = match map.get("mode").and_then(Value::as_str) {
                None | Some("and") => ParallelMode::And,
                Some("or") => ParallelMode::Or,
                Some(_) => {
                    problems.add(place("mode"), "expected `and` (all must succeed) or `or` (the first success wins)");
                    ParallelMode::And
                }
            };
            let actions: Vec<Option<Action>> = match map.get("actions") {
                Some(Value::Array(list)) if !list.is_empty() => list
                    .iter()
                    .enumerate()
                    .map(|(i, a)| match a {
                        Value::Object(a) => action_of(id, &format!("actions[{i}]"), a, functions, problems),
                        other => {
                            problems.add(
                                place(&format!("actions[{i}]")),
                                format!("expected a mapping, found {}", kind_of(other)),
                            );
                            None
                        }
                    })
                    .collect(),
                _ => {
                    problems.add(place("actions"), "a parallel state needs `actions`, a non-empty list");
                    Vec::new()
                }
            };
            let actions: Option<Vec<Action>> = actions.into_iter().collect();
            actions.filter(|a| !a.is_empty()).map(|actions| StateKind::Parallel { actions, mode })
        }
        Some("switch") => {
            fields(&["conditions", "defaultTransition", "defaultTransform"], problems);
            if map.contains_key("transition") {
                problems
                    .add(place("transition"), "a switch state goes where its conditions say: use defaultTransition");
            }
            let conditions = match map.get("conditions") {
                Some(Value::Array(list)) if !list.is_empty() => list
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| condition_of(c, id, &format!("conditions[{i}]"), ids, problems))
                    .collect(),
                _ => {
                    problems.add(place("conditions"), "a switch state needs `conditions`, a non-empty list");
                    Vec::new()
                }
            };
            let default_transition =
                map.get("defaultTransition").and_then(|v| target(v, "defaultTransition", problems));
            let default_transform =
                map.get("defaultTransform").and_then(|t| template(t, place("defaultTransform"), problems));
            Some(StateKind::Switch { conditions, default_transition, default_transform })
        }
        Some("delay") => {
            fields(&["duration"], problems);
            match map.get("duration").and_then(Value::as_str).and_then(parse_duration) {
                Some(duration) if duration <= MAX_DELAY => Some(StateKind::Delay { duration }),
                _ => {
                    problems.add(place("duration"), "expected an ISO 8601 duration up to a day (PT5S, PT1M)");
                    None
                }
            }
        }
        Some("validate") => {
            fields(&["schema", "subject"], problems);
            let subject = map.get("subject").and_then(|t| template(t, place("subject"), problems));
            match map.get("schema") {
                Some(schema @ (Value::Object(_) | Value::Bool(_))) => match jsonschema::validator_for(schema) {
                    Ok(validator) => Some(StateKind::Validate { schema: Arc::new(validator), subject }),
                    Err(e) => {
                        let at = e.schema_path().as_str();
                        let at = if at.is_empty() { String::new() } else { format!(" at {at}") };
                        problems.add(place("schema"), format!("not a valid JSON Schema{at}: {e}"));
                        None
                    }
                },
                Some(other) => {
                    problems.add(place("schema"), format!("expected a JSON Schema mapping, found {}", kind_of(other)));
                    None
                }
                None => {
                    problems.add(place("schema"), "a validate state needs `schema`");
                    None
                }
            }
        }
        Some("error") => {
            fields(&["error", "message", "args"], problems);
            let code = match map.get("error").and_then(Value::as_str) {
                Some(c) if is_error_code(c) => Some(c.to_owned()),
                _ => {
                    problems.add(place("error"), "expected an error code: letters, digits, '.', '_' and '-'");
                    None
                }
            };
            let message = match map.get("message") {
                None => String::new(),
                Some(Value::String(m)) => m.clone(),
                Some(other) => {
                    problems.add(place("message"), format!("expected a string, found {}", kind_of(other)));
                    String::new()
                }
            };
            let args = match map.get("args") {
                None => Vec::new(),
                Some(Value::Array(list)) => list
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| template(a, place(&format!("args[{i}]")), problems))
                    .collect(),
                Some(other) => {
                    problems.add(place("args"), format!("expected a list, found {}", kind_of(other)));
                    Vec::new()
                }
            };
            code.map(|code| StateKind::Error { code, message, args })
        }
        Some(refused) if REFUSED_STATES.iter().any(|(name, _)| *name == refused) => {
            let why = REFUSED_STATES.iter().find(|(name, _)| *name == refused).map_or("", |(_, why)| why);
            problems.add(place("type"), format!("{refused} states are not supported: {why}"));
            None
        }
        Some(other) => {
            problems.add(
                place("type"),
                format!(
                    "unknown state type {other:?} (expected action, foreach, parallel, switch, delay, validate, error or noop)"
                ),
            );
            None
        }
        None => {
            problems.add(place("type"), "every state needs a `type`");
            None
        }
    };
    let transform = map.get("transform").and_then(|t| template(t, place("transform"), problems));
    let log = map.get("log").and_then(|t| template(t, place("log"), problems));
    let transition = match map.get("transition") {
        None | Some(Value::Null) => None,
        Some(v) => target(v, "transition", problems),
    };
    let catch = match map.get("catch") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .filter_map(|(i, c)| catch_of(c, id, &format!("catch[{i}]"), ids, problems))
            .collect(),
        Some(other) => {
            problems.add(place("catch"), format!("expected a list, found {}", kind_of(other)));
            Vec::new()
        }
    };
    let timeout = map.get("timeout").and_then(|v| match v.as_str().and_then(parse_duration) {
        Some(d) if !d.is_zero() && d <= MAX_TIMEOUT => Some(d),
        _ => {
            problems.add(place("timeout"), "expected an ISO 8601 duration up to a day (PT15M, PT30S)");
            None
        }
    });
    Some(State { id: id.to_owned(), kind: kind?, transform, transition, log, catch, timeout })
}

/// A state id to go to.
fn transition_of(value: &Value, ids: &[String], place: &str, problems: &mut Problems) -> Option<usize> {
    match value {
        Value::String(next) => {
            let found = ids.iter().position(|s| s == next);
            if found.is_none() {
                problems.add(place, format!("no state has the id {next:?}"));
            }
            found
        }
        other => {
            problems.add(place, format!("expected a state id, found {}", kind_of(other)));
            None
        }
    }
}

fn condition_of(value: &Value, state: &str, at: &str, ids: &[String], problems: &mut Problems) -> Option<Condition> {
    let place =
        |field: &str| state_place(state, &if field.is_empty() { at.to_owned() } else { format!("{at}.{field}") });
    let Some(map) = value.as_object() else {
        problems.add(place(""), format!("expected a mapping, found {}", kind_of(value)));
        return None;
    };
    unknown_fields(map, &["condition", "transition", "transform"], |_| place(""), problems);
    let condition = match map.get("condition") {
        Some(c) => template(c, place("condition"), problems),
        None => {
            problems.add(place(""), "every condition needs `condition`: jq(…)");
            None
        }
    };
    let transition = map.get("transition").and_then(|t| transition_of(t, ids, &place("transition"), problems));
    let transform = map.get("transform").and_then(|t| template(t, place("transform"), problems));
    Some(Condition { condition: condition?, transition, transform })
}

fn catch_of(value: &Value, state: &str, at: &str, ids: &[String], problems: &mut Problems) -> Option<Catch> {
    let place =
        |field: &str| state_place(state, &if field.is_empty() { at.to_owned() } else { format!("{at}.{field}") });
    let Some(map) = value.as_object() else {
        problems.add(place(""), format!("expected a mapping, found {}", kind_of(value)));
        return None;
    };
    unknown_fields(map, &["error", "transition"], |_| place(""), problems);
    let Some(pattern) = map.get("error").and_then(Value::as_str).filter(|p| !p.is_empty()) else {
        problems.add(place(""), "every catch needs `error`: a code, or a glob such as \"*\" or \"direktiv.*\"");
        return None;
    };
    let transition = map.get("transition").and_then(|t| transition_of(t, ids, &place("transition"), problems));
    Some(Catch { pattern: pattern.to_owned(), matcher: glob(pattern), transition })
}

/// An error-code glob as a whole-code regular expression: `*` matches any
/// run of characters (dots included), everything else itself.
fn glob(pattern: &str) -> regex_lite::Regex {
    let body: Vec<String> = pattern.split('*').map(regex_lite::escape).collect();
    regex_lite::Regex::new(&format!("^{}$", body.join(".*"))).expect("escaped text and .* always compile")
}

fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 128
        && code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn action_of(
    id: &str,
    at: &str,
    map: &Map<String, Value>,
    functions: &[Function],
    problems: &mut Problems,
) -> Option<Action> {
    let place = |field: &str| state_place(id, &format!("{at}.{field}"));
    unknown_fields(map, &["function", "secrets", "input", "retries", "timeout"], |_| state_place(id, at), problems);
    let function = match map.get("function").and_then(Value::as_str) {
        Some(name) => {
            let found = functions.iter().position(|f| f.id == name);
            if found.is_none() {
                problems.add(place("function"), format!("no function has the id {name:?}"));
            }
            found
        }
        None => {
            problems.add(place("function"), "an action needs the id of a function");
            None
        }
    };
    let secrets = match map.get("secrets") {
        None => Vec::new(),
        Some(v) => match string_list(v) {
            Some(names) => {
                for name in &names {
                    if let Err(e) = hush_core::SecretName::parse(name) {
                        problems.add(place("secrets"), e.to_string());
                    }
                }
                names
            }
            None => {
                problems.add(place("secrets"), "expected a list of secret names");
                Vec::new()
            }
        },
    };
    let input = map.get("input").and_then(|t| template(t, place("input"), problems));
    let retries = map.get("retries").and_then(|r| retries(r, &place("retries"), problems));
    let timeout = match map.get("timeout") {
        None => DEFAULT_TIMEOUT,
        Some(v) => match v.as_str().and_then(parse_duration) {
            Some(d) if !d.is_zero() && d <= MAX_TIMEOUT => d,
            _ => {
                problems.add(place("timeout"), "expected a duration up to a day (PT15M, 90s)");
                DEFAULT_TIMEOUT
            }
        },
    };
    Some(Action { function: function?, secrets, input, retries, timeout })
}

fn retries(value: &Value, place: &str, problems: &mut Problems) -> Option<Retries> {
    let Some(map) = value.as_object() else {
        problems.add(place, format!("expected a mapping, found {}", kind_of(value)));
        return None;
    };
    unknown_fields(map, &["max_attempts", "delay", "multiplier", "codes"], |_| place.to_owned(), problems);
    let max_attempts = match map.get("max_attempts").map(Value::as_u64) {
        Some(Some(n @ 1..=100)) => n as u32,
        _ => {
            problems.add(place, "`max_attempts` must be a whole number from 1 to 100");
            return None;
        }
    };
    let delay = match map.get("delay") {
        None => Duration::ZERO,
        Some(Value::String(s)) => match parse_duration(s) {
            Some(d) if d <= Duration::from_secs(3600) => d,
            _ => {
                problems.add(place, format!("`delay` {s:?} is not a duration of at most an hour (PT5S, 5s)"));
                return None;
            }
        },
        Some(other) => {
            problems.add(place, format!("`delay` must be a duration string, found {}", kind_of(other)));
            return None;
        }
    };
    let multiplier = match map.get("multiplier") {
        None => 1.0,
        Some(v) => match v.as_f64() {
            Some(m) if (1.0..=10.0).contains(&m) => m,
            _ => {
                problems.add(place, "`multiplier` must be a number from 1 to 10");
                return None;
            }
        },
    };
    let mut codes = Vec::new();
    if let Some(v) = map.get("codes") {
        let Some(list) = string_list(v) else {
            problems.add(place, "`codes` must be a list of regular expressions");
            return None;
        };
        for code in list {
            match regex_lite::Regex::new(&format!("^(?:{code})$")) {
                Ok(re) => codes.push(re),
                Err(e) => problems.add(place, format!("code pattern {code:?}: {e}")),
            }
        }
    }
    Some(Retries { max_attempts, delay, multiplier, codes })
}

/// ISO 8601 durations as Direktiv writes them (`PT5S`, `PT1M30S`, `P1D`),
/// or humantime's (`5s`, `1m 30s`). Written here because the subset is a
/// few lines and no small crate reads both.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let Some(rest) = s.strip_prefix('P') else { return humantime::parse_duration(s).ok() };
    let mut seconds = 0f64;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' if !in_time && number.is_empty() => in_time = true,
            '0'..='9' | '.' => number.push(c),
            unit => {
                let n: f64 = number.parse().ok()?;
                number.clear();
                seconds += n * match (in_time, unit) {
                    (false, 'D') => 86_400.0,
                    (false, 'W') => 604_800.0,
                    (true, 'H') => 3_600.0,
                    (true, 'M') => 60.0,
                    (true, 'S') => 1.0,
                    _ => return None,
                };
                any = true;
            }
        }
    }
    if !any || !number.is_empty() {
        return None;
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// Refuses transitions that come back to a state: without conditions, such
/// an instance would never end.
fn check_loops(states: &[State], problems: &mut Problems) {
    for (i, s) in states.iter().enumerate() {
        let mut seen = HashSet::from([i]);
        let mut at = s.transition;
        while let Some(next) = at {
            if !seen.insert(next) {
                if next == i {
                    problems.add(state_place(&s.id, "transition"), "the transitions from here come back to this state");
                }
                break;
            }
            at = states.get(next).and_then(|n| n.transition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_images() {
        for image in [
            "direktiv/request",
            "direktiv/request:v1",
            "docker.io/direktiv/request:v4",
            "r.io/direktiv/request@sha256:ab",
        ] {
            assert!(is_request_image(image), "{image}");
        }
        for image in ["direktiv/requests", "alpine", "direktiv/request-x:v1", "evil/direktiv/requestx"] {
            assert!(!is_request_image(image), "{image}");
        }
    }

    #[test]
    fn error_globs() {
        for (pattern, code, caught) in [
            ("*", "direktiv.retries.exceeded", true),
            ("direktiv.*", "direktiv.secrets.notFound", true),
            ("direktiv.*", "validation.failed", false),
            ("my.code", "my.code", true),
            ("my.code", "my.codes", false),
            ("my.c?de", "my.code", false),
            ("*.timeout", "function.timeout", true),
        ] {
            assert_eq!(glob(pattern).is_match(code), caught, "{pattern} {code}");
        }
    }

    #[test]
    fn durations() {
        let cases = [
            ("PT5S", Some(5.0)),
            ("PT1M30S", Some(90.0)),
            ("PT0.5S", Some(0.5)),
            ("P1D", Some(86400.0)),
            ("P1DT1H", Some(90000.0)),
            ("5s", Some(5.0)),
            ("1m 30s", Some(90.0)),
            ("PT", None),
            ("P5", None),
            ("PT5X", None),
            ("P1M", None),
            ("soon", None),
            ("P99999999999999999999D", None),
        ];
        for (s, secs) in cases {
            assert_eq!(parse_duration(s).map(|d| d.as_secs_f64()), secs, "{s}");
        }
    }
}
