//! The `WWW-Authenticate` challenge of a registry's `401`.
//!
//! Written here because the only piece needed is the scheme and two
//! parameters of one challenge (`Basic realm="…"` or `Bearer
//! realm="…",service="…",scope="…"`); the crates that parse the full
//! RFC 9110 grammar are unmaintained or pull in much more.

/// How the registry wants to be authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// Basic auth on every request.
    Basic,
    /// A token from `realm`, asked for with Basic auth.
    Bearer {
        /// The token service URL.
        realm: String,
        /// The `service` parameter to pass on, if any.
        service: Option<String>,
    },
}

impl Challenge {
    /// Parses one challenge; anything that is not a usable `Bearer` is
    /// treated as `Basic`, which registries that speak neither will refuse.
    pub(crate) fn parse(header: &str) -> Challenge {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Challenge::Basic;
        }
        let params = parameters(params);
        let get = |key: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
        match get("realm") {
            Some(realm) if realm.starts_with("https://") || realm.starts_with("http://") => {
                Challenge::Bearer { realm, service: get("service") }
            }
            _ => Challenge::Basic,
        }
    }
}

/// `key="value", key=value, …` (quoted values may hold commas and `\"`).
fn parameters(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            return out;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_owned();
        }
        out.push((key.trim().to_owned(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#;
        assert_eq!(
            Challenge::parse(hub),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            }
        );
        let table: &[(&str, Challenge)] = &[
            (r#"Basic realm="test-realm""#, Challenge::Basic),
            ("", Challenge::Basic),
            ("Bearer", Challenge::Basic),
            (r#"Bearer realm="ftp://x""#, Challenge::Basic),
            (
                r#"bearer service="a,b", realm=https://t.example/token , scope="repository:x:pull""#,
                Challenge::Bearer { realm: "https://t.example/token".into(), service: Some("a,b".into()) },
            ),
            (r#"Bearer realm="http://h/t\"q""#, Challenge::Bearer { realm: "http://h/t\"q".into(), service: None }),
        ];
        for (header, expected) in table {
            assert_eq!(Challenge::parse(header), *expected, "{header}");
        }
    }

    #[test]
    fn odd_headers_do_not_panic() {
        for header in
            ["Bearer ,,,", "Bearer realm", "Bearer realm=\"unterminated", "Bearer =x", "Bearer a=b=c", "\u{1f600}"]
        {
            let _ = Challenge::parse(header);
        }
    }
}
