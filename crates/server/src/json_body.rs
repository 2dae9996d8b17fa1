//! Reading JSON request bodies with a size limit and precise, value-free
//! error messages.
//!
//! Bodies are parsed to a JSON object and fields are taken out one by one, so
//! every error names the field and what it should be (`cas must be a
//! non-negative integer`), unknown fields are refused by name, and a string
//! taken for a secret is moved, not copied, into a zeroizing container. serde's
//! derived errors would quote the offending value, which may be a secret.

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::ApiError;
use crate::query_params::MAX_INTEGER;

/// A request body's top-level JSON object. Whatever is left in it when it
/// is dropped (a handler returning early with an error) is wiped.
#[derive(Debug)]
pub struct JsonObject(Map<String, Value>);

impl Drop for JsonObject {
    fn drop(&mut self) {
        for (_, v) in self.0.iter_mut() {
            wipe_value(v);
        }
    }
}

/// Reads at most `limit` bytes and parses a JSON object, then wipes the raw bytes.
pub async fn read_object(body: Body, limit: usize) -> Result<JsonObject, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The body's own error is a few wrappers down.
        let causes = || std::iter::successors(std::error::Error::source(&e), |c| c.source());
        if causes().any(|c| c.is::<tower_http::timeout::TimeoutError>()) {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body stopped arriving; the server stopped waiting",
            );
        }
        if causes().any(|c| c.is::<http_body_util::LengthLimitError>()) {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
        } else {
            ApiError::bad_request("malformed_body", "the request body could not be read")
        }
    })?;
    let parsed = parse(&bytes);
    wipe(bytes);
    parsed
}

fn parse(bytes: &[u8]) -> Result<JsonObject, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("malformed_body", "the request body is empty; a JSON object is expected"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(JsonObject(map)),
        Ok(_) => Err(ApiError::bad_request("malformed_body", "the request body must be a JSON object")),
        // serde_json's syntax errors say what was expected and where, never what was found.
        Err(e) => Err(ApiError::bad_request("malformed_body", format!("the request body is not valid JSON: {e}"))),
    }
}

/// Overwrites the body buffer when this handler holds the only reference.
fn wipe(bytes: Bytes) {
    if let Ok(mut owned) = bytes.try_into_mut() {
        owned.as_mut().zeroize();
    }
}

fn wrong_type(field: &str, expected: &str) -> ApiError {
    ApiError::bad_request("malformed_body", format!("field '{field}' must be {expected}"))
}

impl JsonObject {
    /// Removes a string field.
    pub fn take_string(&mut self, field: &str) -> Result<Option<String>, ApiError> {
        match self.0.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(mut other) => {
                wipe_value(&mut other);
                Err(wrong_type(field, "a string"))
            }
        }
    }

    /// Removes a non-negative integer field.
    pub fn take_u64(&mut self, field: &str) -> Result<Option<u64>, ApiError> {
        match self.0.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= MAX_INTEGER) => Ok(n.as_u64()),
            Some(mut other) => {
                wipe_value(&mut other);
                Err(wrong_type(field, "an integer from 0 to 9223372036854775807"))
            }
        }
    }

    /// Removes a field that is a list of strings.
    pub fn take_string_list(&mut self, field: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.0.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(wrong_type(field, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(field, "a list of strings")),
        }
    }

    /// Removes a duration field: a number of seconds, or text such as `"90m"`.
    pub fn take_duration(&mut self, field: &str) -> Result<Option<std::time::Duration>, ApiError> {
        let expected = || wrong_type(field, "a duration such as \"15m\" or \"1h\", or a number of seconds");
        match self.0.remove(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(std::time::Duration::from_secs).map(Some).ok_or_else(expected),
            Some(Value::String(s)) => humantime::parse_duration(&s).map(Some).map_err(|_| expected()),
            Some(_) => Err(expected()),
        }
    }

    /// Removes a field whatever its type.
    pub fn take_value(&mut self, field: &str) -> Option<Value> {
        self.0.remove(field)
    }

    /// Drops (and wipes) the fields not taken: for compatibility routes
    /// whose clients may send more than hush reads.
    pub fn ignore_rest(mut self) {
        for (_, v) in self.0.iter_mut() {
            wipe_value(v);
        }
    }

    /// Fails if fields remain that were not taken: they are unknown here.
    pub fn finish(mut self, expected: &[&str]) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.0.keys().map(|k| format!("'{}'", shorten(k))).collect();
        for (_, v) in self.0.iter_mut() {
            wipe_value(v);
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_request(
                "malformed_body",
                format!("unknown field {}; expected {}", unknown.join(", "), expected.join(", ")),
            ))
        }
    }
}

/// A field name as shown in a message: field names are not secret, but keep
/// a pasted blob from filling the message.
fn shorten(name: &str) -> String {
    if name.chars().count() <= 40 {
        name.to_owned()
    } else {
        format!("{}…", name.chars().take(40).collect::<String>())
    }
}

/// Wipes the strings inside a value that is about to be dropped.
pub(crate) fn wipe_value(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_value),
        Value::Object(map) => map.iter_mut().for_each(|(_, v)| wipe_value(v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_fields_not_values() {
        let mut obj = parse(br#"{"cas":"hunter2-secret","value":42}"#).unwrap();
        let e = obj.take_u64("cas").unwrap_err();
        assert!(e.message().contains("'cas'"));
        assert!(!e.message().contains("hunter2"));
        let e = obj.take_string("value").unwrap_err();
        assert!(!e.message().contains("42"));
    }

    #[test]
    fn syntax_errors_do_not_echo_input() {
        for body in [
            &br#"{"value":"hunter2-secret"#[..],
            br#"{"value":"hunter2-secret" x}"#,
            b"hunter2-secret",
            br#"["hunter2-secret"]"#,
        ] {
            let e = parse(body).unwrap_err();
            assert!(!e.message().contains("hunter2"), "{}", e.message());
        }
    }

    #[test]
    fn unknown_fields_are_named() {
        let mut obj = parse(br#"{"type":"generic","valeu":"x"}"#).unwrap();
        obj.take_string("type").unwrap();
        let e = obj.finish(&["type", "value"]).unwrap_err();
        assert!(e.message().contains("'valeu'"), "{}", e.message());
    }
}
