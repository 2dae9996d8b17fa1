//! Query strings, parsed strictly: unknown parameters are refused by name and
//! numbers get a message saying what they should be.

use std::collections::HashMap;

use axum::extract::RawQuery;

use crate::ApiError;

/// Largest integer accepted anywhere in a request: the stores keep integers
/// as signed 64-bit values.
pub const MAX_INTEGER: u64 = i64::MAX as u64;

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

    /// Removes a positive integer parameter (at most 2^63 - 1, what the stores hold).
    pub fn take_u64(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().ok().filter(|n| (1..=MAX_INTEGER).contains(n)).map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("query parameter '{name}' must be an integer from 1 to {MAX_INTEGER}"),
                )
            }),
        }
    }

    /// Removes a `true`/`false` parameter (absent: false).
    pub fn take_bool(&mut self, name: &str) -> Result<bool, ApiError> {
        match self.0.remove(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => {
                Err(ApiError::bad_request("invalid_query", format!("query parameter '{name}' must be true or false")))
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<QueryParams, ApiError> {
        QueryParams::parse(&RawQuery(Some(q.to_owned())))
    }

    #[test]
    fn integers_are_bounded_and_positive() {
        let table: &[(&str, Option<u64>)] = &[
            ("version=1", Some(1)),
            ("version=9223372036854775807", Some(MAX_INTEGER)),
            ("version=9223372036854775808", None),
            ("version=18446744073709551615", None),
            ("version=0", None),
            ("version=-1", None),
            ("version=1e3", None),
            ("version=", None),
        ];
        for (q, expected) in table {
            let got = parse(q).unwrap().take_u64("version");
            match expected {
                Some(n) => assert_eq!(got.unwrap(), Some(*n), "{q}"),
                None => assert!(got.is_err(), "{q}"),
            }
        }
    }

    #[test]
    fn decoding_duplicates_and_unknowns() {
        let mut q = parse("prefix=a%2Fb+c&limit=5").unwrap();
        assert_eq!(q.take("prefix").as_deref(), Some("a/b c"));
        assert_eq!(q.take_u64("limit").unwrap(), Some(5));
        q.finish(&["prefix", "limit"]).unwrap();
        assert!(parse("a=1&a=2").is_err());
        assert!(parse("x=%FF").is_err());
        let e = parse("verison=1").unwrap().finish(&["version"]).unwrap_err();
        assert!(e.message().contains("'verison'"), "{}", e.message());
    }
}
