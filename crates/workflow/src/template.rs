//! JSON templates with `jq(EXPR)` in their strings, as Direktiv writes
//! action input and transforms.
//!
//! A string that is exactly `jq(EXPR)` (surrounding whitespace aside)
//! becomes EXPR's JSON value. `jq(EXPR)` inside a longer string is replaced
//! by its value as text: strings raw, anything else as compact JSON. Other
//! strings, numbers, booleans and null stay as written; arrays and objects
//! are templates all the way down (object keys are not evaluated).
//!
//! Where an expression ends is found by counting parentheses outside jq
//! string literals, so `jq(.a | ("(" + .b))` and `jq("\(.a)")` work.

use serde_json::{Map, Value};

use crate::jq::{Jq, JqError};

/// A compiled template.
#[derive(Debug)]
pub enum Template {
    /// A value without expressions.
    Literal(Value),
    /// A string that is one whole expression.
    Whole(Jq),
    /// A string with expressions inside text.
    Interpolated(Vec<Piece>),
    /// An array of templates.
    Array(Vec<Template>),
    /// An object of templates.
    Object(Vec<(String, Template)>),
}

/// Part of an interpolated string.
#[derive(Debug)]
pub enum Piece {
    /// Text as written.
    Text(String),
    /// An expression whose value is spliced in.
    Expr(Jq),
}

/// Why a template does not compile: the expression and jq's reason.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `jq(` without its closing parenthesis.
    #[error("`jq(` at offset {0} has no closing parenthesis")]
    Unclosed(usize),
    /// The expression does not compile.
    #[error("jq({expr}): {reason}")]
    Compile {
        /// The expression.
        expr: String,
        /// jq's reason.
        reason: String,
    },
}

/// An expression failed while evaluating a template.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("jq({expr}): {reason}")]
pub struct EvalError {
    /// The expression.
    pub expr: String,
    /// jq's reason.
    pub reason: String,
}

const OPEN: &str = "jq(";

impl Template {
    /// Compiles a JSON value into a template.
    pub fn compile(value: &Value) -> Result<Template, TemplateError> {
        Ok(match value {
            Value::String(s) => compile_string(s)?,
            Value::Array(items) => Template::Array(items.iter().map(Template::compile).collect::<Result<_, _>>()?),
            Value::Object(map) => Template::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Template::compile(v)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => Template::Literal(other.clone()),
        })
    }

    /// Evaluates against `data`.
    pub fn eval(&self, data: &Value) -> Result<Value, EvalError> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Whole(jq) => run(jq, data)?,
            Template::Interpolated(pieces) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => out.push_str(t),
                        Piece::Expr(jq) => match run(jq, data)? {
                            Value::String(s) => out.push_str(&s),
                            other => out.push_str(&other.to_string()),
                        },
                    }
                }
                Value::String(out)
            }
            Template::Array(items) => Value::Array(items.iter().map(|t| t.eval(data)).collect::<Result<_, _>>()?),
            Template::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, t)| Ok((k.clone(), t.eval(data)?)))
                    .collect::<Result<Map<_, _>, EvalError>>()?,
            ),
        })
    }
}

fn run(jq: &Jq, data: &Value) -> Result<Value, EvalError> {
    jq.run(data).map_err(|JqError(reason)| EvalError { expr: jq.source().to_owned(), reason })
}

fn compile_expr(expr: &str) -> Result<Jq, TemplateError> {
    Jq::compile(expr).map_err(|JqError(reason)| TemplateError::Compile { expr: expr.to_owned(), reason })
}

fn compile_string(s: &str) -> Result<Template, TemplateError> {
    let spans = expression_spans(s)?;
    if spans.is_empty() {
        return Ok(Template::Literal(Value::String(s.to_owned())));
    }
    let trimmed_start = s.len() - s.trim_start().len();
    let trimmed_end = s.trim_end().len();
    if let [(open, close)] = spans[..]
        && open == trimmed_start
        && close + 1 == trimmed_end
    {
        return Ok(Template::Whole(compile_expr(&s[open + OPEN.len()..close])?));
    }
    let mut pieces = Vec::new();
    let mut at = 0;
    for (open, close) in spans {
        if open > at {
            pieces.push(Piece::Text(s[at..open].to_owned()));
        }
        pieces.push(Piece::Expr(compile_expr(&s[open + OPEN.len()..close])?));
        at = close + 1;
    }
    if at < s.len() {
        pieces.push(Piece::Text(s[at..].to_owned()));
    }
    Ok(Template::Interpolated(pieces))
}

/// Byte offsets of each `jq(` and its closing `)`.
fn expression_spans(s: &str) -> Result<Vec<(usize, usize)>, TemplateError> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = s[from..].find(OPEN) {
        let open = from + found;
        let close = closing_paren(s.as_bytes(), open + OPEN.len()).ok_or(TemplateError::Unclosed(open))?;
        spans.push((open, close));
        from = close + 1;
    }
    Ok(spans)
}

/// The offset of the `)` that closes an expression starting at `start`.
/// Parentheses inside jq string literals do not count, except inside a
/// literal's `\( … )` interpolation, which is code again.
fn closing_paren(bytes: &[u8], start: usize) -> Option<usize> {
    enum Frame {
        Code(usize),
        Str,
    }
    let mut stack = vec![Frame::Code(0)];
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        match stack.last_mut()? {
            Frame::Code(depth) => match b {
                b'(' => *depth += 1,
                b')' if *depth == 0 => {
                    stack.pop();
                    if stack.is_empty() {
                        return Some(i);
                    }
                }
                b')' => *depth -= 1,
                b'"' => stack.push(Frame::Str),
                _ => {}
            },
            Frame::Str => match b {
                b'\\' if bytes.get(i + 1) == Some(&b'(') => {
                    stack.push(Frame::Code(0));
                    i += 1;
                }
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn eval(template: Value, data: Value) -> Value {
        Template::compile(&template).unwrap().eval(&data).unwrap()
    }

    #[test]
    fn evaluates_templates() {
        let data = json!({"a": "x", "n": 2, "o": {"k": [1]}, "secrets": {"t": "tok"}});
        let cases = [
            (json!("jq(.a)"), json!("x")),
            (json!("  jq(.n)  "), json!(2)),
            (json!("jq(.o)"), json!({"k": [1]})),
            (json!("bearer jq(.secrets.t)"), json!("bearer tok")),
            (json!("n=jq(.n) o=jq(.o)"), json!("n=2 o={\"k\":[1]}")),
            (json!("jq(.a)jq(.a)"), json!("xx")),
            (json!("jq(.a | (\"(\" + .))"), json!("(x")),
            (json!("jq(\"\\(.a))\")"), json!("x)")),
            (json!("jq((.n + 1))"), json!(3)),
            (json!("plain (text)"), json!("plain (text)")),
            (
                json!({"h": {"Authorization": "bearer jq(.secrets.t)"}, "l": [1, "jq(.n)"]}),
                json!({"h": {"Authorization": "bearer tok"}, "l": [1, 2]}),
            ),
            (json!(5), json!(5)),
            (json!("jq(.missing)"), json!(null)),
            (json!("v=jq(.missing)"), json!("v=null")),
        ];
        for (template, expected) in cases {
            assert_eq!(eval(template.clone(), data.clone()), expected, "{template}");
        }
    }

    #[test]
    fn compile_errors_name_the_expression() {
        let e = Template::compile(&json!({"a": ["ok", "x jq(.a |) y"]})).unwrap_err();
        assert!(matches!(&e, TemplateError::Compile { expr, .. } if expr == ".a |"), "{e}");
        assert_eq!(Template::compile(&json!("jq(.a")).unwrap_err(), TemplateError::Unclosed(0));
        assert_eq!(Template::compile(&json!("x jq(\")\"")).unwrap_err(), TemplateError::Unclosed(2));
    }

    #[test]
    fn eval_errors_name_the_expression() {
        let t = Template::compile(&json!("jq(.a + 1)")).unwrap();
        let e = t.eval(&json!({"a": "s"})).unwrap_err();
        assert_eq!(e.expr, ".a + 1");
    }

    proptest! {
        /// Text without `jq(` is a literal, whatever it holds.
        #[test]
        fn text_without_expressions_is_kept(s in "[^j]*") {
            prop_assert_eq!(eval(json!(s.clone()), json!({})), json!(s));
        }

        /// No string makes compiling or evaluating panic: jq( fragments,
        /// quotes, escapes and parentheses in any order, any UTF-8.
        #[test]
        fn any_string_compiles_or_is_refused(parts in proptest::collection::vec(
            prop_oneof![
                Just("jq(".to_owned()), Just(")".to_owned()), Just("(".to_owned()), Just("\"".to_owned()),
                Just("\\(".to_owned()), Just("\\".to_owned()), Just(".a".to_owned()), "\\PC{0,3}",
            ],
            0..12,
        )) {
            let s: String = parts.concat();
            if let Ok(t) = Template::compile(&json!(s)) {
                let _ = t.eval(&json!({"a": "x"}));
            }
        }

        /// Any string value spliced into text comes back as written.
        #[test]
        fn interpolation_keeps_string_values(v in "\\PC*", prefix in "[a-z ]{0,5}") {
            let out = eval(json!(format!("{prefix}jq(.v)!")), json!({"v": v.clone()}));
            prop_assert_eq!(out, json!(format!("{prefix}{v}!")));
        }
    }
}
