//! jq expressions, compiled once with the `jaq` crates and run against
//! JSON values.
//!
//! The function set is jaq's standard library with four exceptions, because
//! a workflow's expressions must not reach past the data they are given:
//! `env` (the runner's environment holds `HUSH_TOKEN`) and `halt` fail, and
//! `debug` / `stderr` print nothing (they would write values, secrets
//! included, around the scrubbed instance log).
//!
//! jaq has no execution limits: a run keeps at most [`MAX_OUTPUTS`] outputs,
//! and `hush workflow run` evaluates in limited worker processes
//! ([`crate::jq_sandbox`]).

use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{Fun, bome, run, v};
use jaq_core::{Compiler, Ctx, Error as JaqError, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde::Deserialize;
use serde_json::Value;

/// Most outputs one expression may produce.
pub const MAX_OUTPUTS: usize = 10_000;

type Data = data::JustLut<Val>;

/// A compiled jq expression.
pub struct Jq {
    source: String,
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for Jq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Jq").field(&self.source).finish()
    }
}

/// An expression that does not compile, or failed when run. The message
/// names what jq reported; a runtime message may quote data (it goes only
/// through the scrubbed log and the scrubbed error output).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct JqError(pub String);

fn functions() -> impl Iterator<Item = Fun<Data>> {
    const REPLACED: [&str; 4] = ["env", "halt", "debug_empty", "stderr_empty"];
    let standard = jaq_core::funs::<Data>()
        .chain(jaq_std::funs::<Data>())
        .chain(jaq_json::funs::<Data>())
        .filter(|(name, _, _)| !REPLACED.contains(name));
    let replaced: [Fun<Data>; 4] = [
        run(("env", v(0), |_| bome(Err(JaqError::str("env is not available in workflow expressions"))))),
        run(("halt", v(1), |_| bome(Err(JaqError::str("halt is not available in workflow expressions"))))),
        run(("debug_empty", v(0), |_| Box::new(std::iter::empty()))),
        run(("stderr_empty", v(0), |_| Box::new(std::iter::empty()))),
    ];
    standard.chain(replaced)
}

impl Jq {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Jq, JqError> {
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code: source, path: () })
            .map_err(|errors| JqError(describe_load_errors(source, errors)))?;
        let filter = Compiler::default().with_funs(functions()).compile(modules).map_err(|errors| {
            let names: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, undefined)| undefined)
                .map(|(name, kind)| format!("undefined {} `{name}`", kind.as_str()))
                .collect();
            JqError(names.join(", "))
        })?;
        Ok(Jq { source: source.to_owned(), filter })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Runs against `input`: one output is that value, several an array of
    /// them, none `null`. In a worker process with time and memory limits
    /// when a [`crate::jq_sandbox`] is installed, else here.
    pub fn run(&self, input: &Value) -> Result<Value, JqError> {
        match crate::jq_sandbox::installed() {
            Some(sandbox) => sandbox.run(&self.source, input),
            None => self.run_here(input),
        }
    }

    /// Runs against `input` in this process, without limits but on outputs.
    pub fn run_here(&self, input: &Value) -> Result<Value, JqError> {
        let input = Val::deserialize(input).map_err(|e| JqError(format!("cannot read input: {e}")))?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = Vec::new();
        for out in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            let out = out.map_err(|e| JqError(e.to_string()))?;
            if outputs.len() == MAX_OUTPUTS {
                return Err(JqError(format!("more than {MAX_OUTPUTS} outputs")));
            }
            outputs.push(to_json(&out));
        }
        Ok(match outputs.len() {
            0 => Value::Null,
            1 => outputs.pop().unwrap_or(Value::Null),
            _ => Value::Array(outputs),
        })
    }
}

fn describe_load_errors<P>(source: &str, errors: jaq_core::load::Errors<&str, P>) -> String {
    use jaq_core::load::Error;
    // A lexer error's position is the rest of the expression from there on.
    let offset = |at: &str| source.len().saturating_sub(at.len());
    let mut messages = Vec::new();
    for (_, error) in errors {
        match error {
            Error::Io(list) => messages.extend(list.into_iter().map(|(path, e)| format!("cannot load {path}: {e}"))),
            Error::Lex(list) => messages.extend(
                list.into_iter().map(|(expect, at)| format!("expected {} at offset {}", expect.as_str(), offset(at))),
            ),
            Error::Parse(list) => messages.extend(list.into_iter().map(|(expect, found)| {
                let found = if found.is_empty() { "end of expression".to_owned() } else { format!("`{found}`") };
                format!("expected {}, found {found}", expect.as_str())
            })),
        }
    }
    messages.join("; ")
}

/// A jq value as JSON. Byte strings become (lossy) UTF-8 text, non-string
/// object keys their JSON text, numbers JSON cannot hold (NaN, infinities) `null`.
fn to_json(value: &Val) -> Value {
    match value {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::Null),
        Val::BStr(b) | Val::TStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::BStr(b) | Val::TStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn runs_expressions() {
        let cases = [
            (".a", json!({"a": 1}), json!(1)),
            (".a.b", json!({"a": {"b": "x"}}), json!("x")),
            (".[]", json!([1, 2]), json!([1, 2])),
            ("empty", json!(null), json!(null)),
            ("{x: .a + 1}", json!({"a": 1}), json!({"x": 2})),
            ("\"\\(.a)-\\(.b)\"", json!({"a": "p", "b": 2}), json!("p-2")),
            ("[.[] | select(. > 1)]", json!([1, 2, 3]), json!([2, 3])),
            ("@base64", json!("hi"), json!("aGk=")),
            ("tojson", json!({"a": [1]}), json!("{\"a\":[1]}")),
            ("1.5", json!(null), json!(1.5)),
            ("debug", json!(3), json!(3)),
            ("stderr", json!(3), json!(3)),
        ];
        for (source, input, expected) in cases {
            let jq = Jq::compile(source).unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(jq.run(&input), Ok(expected), "{source}");
        }
    }

    #[test]
    fn refuses_bad_expressions_with_a_reason() {
        for (source, reason) in
            [(".a |", "expected"), ("nosuchfn", "undefined"), (".a[", "expected"), ("$x", "undefined")]
        {
            let e = Jq::compile(source).unwrap_err();
            assert!(e.0.contains(reason), "{source}: {e}");
        }
    }

    #[test]
    fn env_and_halt_fail_instead_of_reaching_the_process() {
        for source in ["env", "env.HOME", "halt", "halt_error", "$ENV"] {
            match Jq::compile(source) {
                Ok(jq) => {
                    let e = jq.run(&json!({})).unwrap_err();
                    assert!(e.0.contains("not available"), "{source}: {e}");
                }
                Err(e) => assert!(e.0.contains("undefined"), "{source}: {e}"),
            }
        }
    }

    #[test]
    fn runtime_errors_are_reported() {
        let jq = Jq::compile(".a + 1").unwrap();
        assert!(jq.run(&json!({"a": "x"})).is_err());
        let jq = Jq::compile("error(\"boom\")").unwrap();
        assert!(jq.run(&json!({})).unwrap_err().0.contains("boom"));
    }

    #[test]
    fn caps_outputs() {
        let jq = Jq::compile("range(100000)").unwrap();
        assert!(jq.run(&json!(null)).unwrap_err().0.contains("more than"));
    }
}
