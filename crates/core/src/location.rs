//! Where a credential applies: `[scheme://]host[:port][/path]`, and the
//! longest-prefix rule that picks one credential for a target.
//!
//! Registry entries and git secrets both say "use me for this host, or this
//! part of it". A [`Location`] is such a prefix, parsed once; a target (an
//! image's repository, a git remote) is parsed the same way, and
//! [`Location::prefix_len`] says whether and how specifically the entry
//! covers it. Paths match on whole segments, so `host/team` covers
//! `host/team/app` but not `host/teamster`.

/// A location that does not parse. Messages describe the problem, never the
/// text (a password pasted into the wrong field must not be echoed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// Nothing but a scheme, or an empty host.
    #[error("{what} has no host")]
    NoHost {
        /// `registry address`, `image reference` or `url`.
        what: &'static str,
    },
    /// A scheme other than the ones accepted here.
    #[error("{what} has an unsupported scheme; use {expected}")]
    Scheme {
        /// What was parsed.
        what: &'static str,
        /// The schemes accepted.
        expected: &'static str,
    },
    /// `user:password@` in the text.
    #[error("{what} must not contain credentials (user@ or user:password@); give them separately")]
    Credentials {
        /// What was parsed.
        what: &'static str,
    },
    /// A character that cannot be in a host or path.
    #[error("{what} has a character that is not allowed at position {position}")]
    BadCharacter {
        /// What was parsed.
        what: &'static str,
        /// 1-based character position.
        position: usize,
    },
    /// A `.` or `..` path segment (also percent-encoded).
    #[error("{what} has a '.' or '..' path segment (segment {position})")]
    DotSegment {
        /// What was parsed.
        what: &'static str,
        /// 1-based segment index.
        position: usize,
    },
    /// Longer than any real address.
    #[error("{what} is {len} characters long; the limit is {max}")]
    TooLong {
        /// What was parsed.
        what: &'static str,
        /// Length found.
        len: usize,
        /// Limit.
        max: usize,
    },
}

/// Longest location accepted, in bytes.
const MAX_LOCATION_LEN: usize = 512;

/// `[scheme://]host[:port][/path]`, normalized: scheme and host lowercase,
/// empty path segments dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    scheme: Option<String>,
    host: String,
    path: Vec<String>,
}

impl Location {
    /// Parses `text`, which may start with one of `schemes` (`http`,
    /// `https`, …). `what` names the input in errors. A `?query` or
    /// `#fragment` is refused: neither means anything for a prefix.
    pub fn parse(text: &str, schemes: &[&'static str], what: &'static str) -> Result<Self, LocationError> {
        let text = text.trim();
        if text.len() > MAX_LOCATION_LEN {
            return Err(LocationError::TooLong { what, len: text.len(), max: MAX_LOCATION_LEN });
        }
        let (scheme, rest, offset) = match text.find("://") {
            Some(i) => {
                let scheme = text[..i].to_ascii_lowercase();
                if !schemes.contains(&scheme.as_str()) {
                    return Err(LocationError::Scheme { what, expected: scheme_list(schemes) });
                }
                (Some(scheme), &text[i + 3..], i + 3)
            }
            None => (None, text, 0),
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.contains('@') {
            return Err(LocationError::Credentials { what });
        }
        if host.is_empty() {
            return Err(LocationError::NoHost { what });
        }
        for (i, c) in rest.chars().enumerate() {
            let in_host = i < host.chars().count();
            let ok = c.is_ascii_alphanumeric()
                || matches!(c, '.' | '-' | '_')
                || (in_host && matches!(c, ':' | '[' | ']'))
                || (!in_host && matches!(c, '/' | '~' | '+' | '%' | ':' | '@' | '='));
            if !ok {
                return Err(LocationError::BadCharacter { what, position: offset + i + 1 });
            }
        }
        let path: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        // `team/../other` would be covered by an entry for `team` while the
        // client (git, curl) goes to `other`: refuse dot segments, also
        // percent-encoded or hidden behind an encoded separator.
        for (i, segment) in path.iter().enumerate() {
            let decoded = percent_decoded(segment);
            if decoded.split(['/', '\\']).any(|part| part == "." || part == "..") {
                return Err(LocationError::DotSegment { what, position: i + 1 });
            }
        }
        Ok(Location { scheme, host: host.to_ascii_lowercase(), path })
    }

    /// An `http://` or `https://` URL, or a scheme-less `host[/path]`
    /// (git secrets' `url`, git remotes).
    pub fn parse_url(text: &str) -> Result<Self, LocationError> {
        Location::parse(text, &["http", "https"], "url")
    }

    /// The scheme, if one was given.
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// Host and port, lowercase.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Path segments.
    pub fn path(&self) -> &[String] {
        &self.path
    }

    /// `host[/path]`, the key entries are compared and shown by.
    pub fn key(&self) -> String {
        let mut key = self.host.clone();
        for segment in &self.path {
            key.push('/');
            key.push_str(segment);
        }
        key
    }

    /// Splits off the scheme.
    pub fn take_scheme(mut self) -> (Option<String>, Location) {
        (self.scheme.take(), self)
    }

    pub(crate) fn set_host(&mut self, host: &str) {
        self.host = host.to_owned();
    }

    pub(crate) fn path_mut(&mut self) -> &mut Vec<String> {
        &mut self.path
    }

    /// If this entry covers `target` (same host, the same scheme when both
    /// name one, and a path that is a whole-segment prefix of the target's),
    /// how specific it is: the number of path segments. The caller keeps
    /// the entry with the largest value. A trailing `.git` is ignored on
    /// both sides, so `host/org/repo` covers `host/org/repo.git`.
    pub fn prefix_len(&self, target: &Location) -> Option<usize> {
        if self.host != target.host {
            return None;
        }
        if let (Some(a), Some(b)) = (&self.scheme, &target.scheme)
            && a != b
        {
            return None;
        }
        if self.path.len() > target.path.len() {
            return None;
        }
        let strip = |s: &str| s.strip_suffix(".git").unwrap_or(s).to_owned();
        let covers = self.path.iter().zip(&target.path).all(|(a, b)| strip(a) == strip(b));
        covers.then_some(self.path.len())
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are), for the
/// dot-segment check only.
fn percent_decoded(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn scheme_list(schemes: &[&'static str]) -> &'static str {
    match schemes {
        ["http", "https"] | ["https", "http"] => "http:// or https://",
        ["docker"] => "docker://",
        _ => "a supported scheme",
    }
}

/// Picks the entry that covers `target` most specifically. Ties go to the
/// first entry, so callers order entries by precedence.
pub fn best_match<'a, T>(
    entries: impl IntoIterator<Item = (&'a Location, T)>,
    target: &Location,
) -> Option<(T, usize)> {
    let mut best: Option<(T, usize)> = None;
    for (location, item) in entries {
        if let Some(len) = location.prefix_len(target)
            && best.as_ref().is_none_or(|(_, b)| len > *b)
        {
            best = Some((item, len));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &[&str] = &["http", "https"];

    fn loc(text: &str) -> Location {
        Location::parse(text, WEB, "url").unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_and_normalizes() {
        let table: &[(&str, Option<&str>, &str, &[&str])] = &[
            ("git.example.com", None, "git.example.com", &[]),
            ("https://Git.Example.com/", Some("https"), "git.example.com", &[]),
            ("HTTP://h:8080/org//repo.git/", Some("http"), "h:8080", &["org", "repo.git"]),
            ("  127.0.0.1:5000/ns  ", None, "127.0.0.1:5000", &["ns"]),
            ("[::1]:5000", None, "[::1]:5000", &[]),
        ];
        for (text, scheme, host, path) in table {
            let l = loc(text);
            assert_eq!(l.scheme(), *scheme, "{text}");
            assert_eq!(l.host(), *host, "{text}");
            assert_eq!(l.path(), *path, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_location_without_echoing_it() {
        let table: &[(&str, &str)] = &[
            ("", "no host"),
            ("https://", "no host"),
            ("ftp://h", "unsupported scheme"),
            ("https://user:hunter2@h", "credentials"),
            ("h/a b", "position 4"),
            ("h?x=1", "position 2"),
            ("h/#frag", "position 3"),
            ("h\nx", "position 2"),
            ("https://h/team/../other", "'..' path segment"),
            ("https://h/team/%2e%2E/other", "'..' path segment"),
            ("https://h/team/./x", "'.' or '..'"),
            ("https://h/team%2F..%2Fother", "'.' or '..'"),
            ("https://h/team/%2e", "'.' or '..'"),
        ];
        for (text, message) in table {
            let e = Location::parse(text, WEB, "url").unwrap_err().to_string();
            assert!(e.contains(message), "{text:?}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let long = "h/".repeat(300);
        assert!(matches!(Location::parse(&long, WEB, "url"), Err(LocationError::TooLong { .. })));
    }

    #[test]
    fn prefixes_match_on_whole_segments() {
        let table: &[(&str, &str, Option<usize>)] = &[
            ("h", "h/a/b", Some(0)),
            ("h/a", "h/a/b", Some(1)),
            ("h/a/b", "h/a/b", Some(2)),
            ("h/a/b", "h/a", None),
            ("h/team", "h/teamster/x", None),
            ("h", "other/a", None),
            ("h:5000", "h/a", None),
            ("https://h", "http://h/a", None),
            ("https://h", "h/a", Some(0)),
            ("h", "https://h/a", Some(0)),
            ("h/org/repo", "h/org/repo.git", Some(2)),
            ("h/org/repo.git", "h/org/repo", Some(2)),
        ];
        for (entry, target, expected) in table {
            assert_eq!(loc(entry).prefix_len(&loc(target)), *expected, "{entry} vs {target}");
        }
    }

    #[test]
    fn the_longest_prefix_wins_and_ties_go_to_the_first() {
        let entries = [loc("h"), loc("h/a"), loc("h/a/b"), loc("h/a")];
        let pick = |target: &str| best_match(entries.iter().zip(0..), &loc(target)).map(|(i, _)| i);
        assert_eq!(pick("h/a/b/c"), Some(2));
        assert_eq!(pick("h/a/x"), Some(1));
        assert_eq!(pick("h/z"), Some(0));
        assert_eq!(pick("x/a"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,80}") {
            let _ = Location::parse(&text, WEB, "url");
        }

        #[test]
        fn an_entry_covers_every_target_under_it(
            host in "[a-z0-9.-]{1,20}",
            base in proptest::collection::vec("[a-z0-9_-]{1,8}", 0..4),
            extra in proptest::collection::vec("[a-z0-9_-]{1,8}", 0..4),
        ) {
            let entry = loc(&format!("{host}/{}", base.join("/")));
            let target = loc(&format!("{host}/{}/{}", base.join("/"), extra.join("/")));
            proptest::prop_assert_eq!(entry.prefix_len(&target), Some(base.len()));
        }
    }
}
