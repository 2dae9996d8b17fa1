//! Query strings, parsed strictly: unknown parameters are refused by name and
//! numbers get a message saying what they should be.

use std::collections::HashMap;

use axum::extract::RawQuery;

use crate::ApiError;

/// A request's query parameters.
#[derive(Debug, Default)]
pub struct QueryParams(HashMap<String, String>);

impl QueryParams {
    /// Parses `a=1&b=2` (percent-decoded, `+` as space).
    pub fn parse(raw: &RawQuery) -> Result<Self, ApiError> {
        let Some(q) = raw.0.as_deref() else { return Ok(Self::default()) };
        let mut map = HashMap::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| ApiError::bad_request("invalid_query", "the query string is not valid UTF-8"))
            };
            let key = decode(k)?;
            if map.insert(key.clone(), decode(v)?).is_some() {
                return Err(ApiError::bad_request("invalid_query", format!("query parameter '{key}' is given twice")));
            }
        }
        Ok(Self(map))
    }

    /// Removes a text parameter.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Removes a positive integer parameter.
    pub fn take_u64(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).map(Some).ok_or_else(|| {
                ApiError::bad_request("invalid_query", format!("query parameter '{name}' must be a positive integer"))
            }),
        }
    }

    /// Fails if parameters remain that were not taken.
    pub fn finish(self, expected: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&String> = self.0.keys().collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort();
        let names: Vec<String> =
            unknown.iter().map(|k| format!("'{}'", k.chars().take(40).collect::<String>())).collect();
        let allowed = if expected.is_empty() { "none".to_owned() } else { expected.join(", ") };
        Err(ApiError::bad_request(
            "invalid_query",
            format!("unknown query parameter {}; allowed: {allowed}", names.join(", ")),
        ))
    }
}
