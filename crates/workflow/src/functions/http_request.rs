//! The built-in HTTP request function, standing in for Direktiv's
//! `direktiv/request` image.
//!
//! Input: `method` (default `GET`), `url` (http or https), `headers` (a
//! mapping), `body` (a string is sent as it is; anything else as JSON, with
//! `Content-Type: application/json` unless a header says otherwise),
//! `username` and `password` (Basic auth), `timeout` (seconds, default 60)
//! and `ignoreErrors` (return 4xx/5xx answers instead of failing).
//!
//! Output: `status` (the number), `statusText`, `headers` (lower-case
//! names; repeated headers joined with `, `) and `body`: parsed JSON when
//! the answer is JSON, else the text, else base64 with
//! `"bodyEncoding": "base64"`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::failure::{Failure, code};

/// Largest answer body read.
pub const MAX_BODY_BYTES: usize = 16 << 20;

const FIELDS: [&str; 8] = ["method", "url", "headers", "body", "username", "password", "timeout", "ignoreErrors"];

/// The HTTP client requests go through.
pub fn client() -> Result<reqwest::Client, Failure> {
    hush_tls::http_client(&hush_tls::ClientTls::default())
        .map_err(|e| Failure::new(code::REQUEST_FAILED, format!("cannot set up HTTP: {e}")))?
        .redirect(same_origin_redirects())
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("hush-workflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::new(code::REQUEST_FAILED, format!("cannot set up HTTP: {e}")))
}

/// Redirects are followed within the first URL's origin (scheme, host and
/// port) only: headers built from secrets must not travel to another host
/// or over plain HTTP. A redirect elsewhere is the answer (a 3xx).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if attempt.previous().len() > 10 {
            attempt.error("more than 10 redirects")
        } else if first.is_some_and(|o| o != attempt.url().origin()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

fn bad_input(message: impl Into<String>) -> Failure {
    Failure::new(code::REQUEST_FAILED, format!("request input: {}", message.into()))
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Makes the request `input` describes.
pub async fn call(http: &reqwest::Client, input: &Value) -> Result<Value, Failure> {
    let Some(map) = input.as_object() else {
        return Err(bad_input("expected a mapping with `url`"));
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad_input(format!("unknown field {unknown:?} (expected one of: {})", FIELDS.join(", "))));
    }
    let method = match map.get("method") {
        None => reqwest::Method::GET,
        Some(Value::String(m)) => reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| bad_input(format!("{m:?} is not an HTTP method")))?,
        Some(_) => return Err(bad_input("`method` must be a string")),
    };
    let url = map.get("url").and_then(Value::as_str).ok_or_else(|| bad_input("`url` is required"))?;
    let parsed = reqwest::Url::parse(url).map_err(|e| bad_input(format!("`url` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad_input("`url` must be http or https"));
    }
    let mut request = http.request(method.clone(), parsed);
    let mut has_content_type = false;
    match map.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(headers)) => {
            for (name, value) in headers {
                let value = text_of(value).ok_or_else(|| bad_input(format!("header {name:?} must be a string")))?;
                let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| bad_input(format!("{name:?} is not a header name")))?;
                let value = reqwest::header::HeaderValue::from_str(&value)
                    .map_err(|_| bad_input(format!("header {name:?} has a character headers cannot carry")))?;
                has_content_type |= header == reqwest::header::CONTENT_TYPE;
                request = request.header(header, value);
            }
        }
        Some(_) => return Err(bad_input("`headers` must be a mapping of names to values")),
    }
    match map.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => request = request.body(s.clone()),
        Some(other) => {
            if !has_content_type {
                request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
            }
            request = request.body(other.to_string());
        }
    }
    match (map.get("username").and_then(text_of), map.get("password").and_then(text_of)) {
        (Some(user), password) => request = request.basic_auth(user, password),
        (None, Some(_)) => return Err(bad_input("`password` needs `username`")),
        (None, None) => {}
    }
    let timeout = match map.get("timeout") {
        None => 60.0,
        Some(v) => v
            .as_f64()
            .filter(|t| *t > 0.0 && *t <= 3600.0)
            .ok_or_else(|| bad_input("`timeout` must be 0-3600 seconds"))?,
    };
    let ignore_errors = map.get("ignoreErrors").and_then(Value::as_bool).unwrap_or(false);

    let shown = format!("{method} {}", redacted_url(url));
    let failed = |e: reqwest::Error| {
        // Without the URL: its query may carry a secret (the message names the URL without it).
        let e = e.without_url();
        let reason = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_else(|| e.to_string());
        Failure::new(code::REQUEST_FAILED, format!("{shown}: {reason}"))
    };
    let mut response = request.timeout(Duration::from_secs_f64(timeout)).send().await.map_err(failed)?;
    let status = response.status();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let is_json = headers
        .get("content-type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.split(';').next().is_some_and(|m| m.trim().ends_with("json")));
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Failure::new(
                code::REQUEST_FAILED,
                format!("{shown}: the answer is over {MAX_BODY_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let mut out = json!({
        "status": status.as_u16(),
        "statusText": status.canonical_reason().unwrap_or(""),
        "headers": headers,
    });
    match (is_json.then(|| serde_json::from_slice::<Value>(&body).ok()).flatten(), String::from_utf8(body)) {
        (Some(v), _) => out["body"] = v,
        (None, Ok(text)) => out["body"] = Value::String(text),
        (None, Err(e)) => {
            out["body"] = Value::String(STANDARD.encode(e.as_bytes()));
            out["bodyEncoding"] = json!("base64");
        }
    }
    if (status.is_client_error() || status.is_server_error()) && !ignore_errors {
        return Err(Failure::new(
            code::REQUEST_STATUS,
            format!("{shown} answered {status} (set ignoreErrors: true to get such answers as output)"),
        ));
    }
    Ok(out)
}

/// The URL without its query and user info, which may carry credentials.
fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?…");
            }
            s
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_lose_query_and_user_info() {
        assert_eq!(redacted_url("https://u:p@h.io/a?token=x"), "https://h.io/a?…");
        assert_eq!(redacted_url("http://127.0.0.1:8/x"), "http://127.0.0.1:8/x");
    }

    #[tokio::test]
    async fn refuses_bad_input_naming_the_field() {
        let http = client().unwrap();
        let cases = [
            (json!("x"), "mapping"),
            (json!({}), "`url` is required"),
            (json!({"url": "ftp://h/x"}), "http or https"),
            (json!({"url": "http://h", "method": "G ET"}), "not an HTTP method"),
            (json!({"url": "http://h", "headers": {"a b": "x"}}), "not a header name"),
            (json!({"url": "http://h", "headers": {"x": {"y": 1}}}), "must be a string"),
            (json!({"url": "http://h", "bogus": 1}), "unknown field \"bogus\""),
            (json!({"url": "http://h", "password": "p"}), "needs `username`"),
            (json!({"url": "http://h", "timeout": -1}), "timeout"),
        ];
        for (input, expected) in cases {
            let e = call(&http, &input).await.unwrap_err();
            assert_eq!(e.code, code::REQUEST_FAILED);
            assert!(e.message.contains(expected), "{input}: {}", e.message);
        }
    }
}
