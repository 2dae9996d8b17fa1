//! Container registry addresses and image references, normalized so that
//! one registry has one key (DESIGN.md, "Registry credential").
//!
//! Docker Hub goes by many names: `docker.io`, `index.docker.io`,
//! `registry-1.docker.io`, `https://index.docker.io/v1/`, and the empty
//! server address. They are all [`DOCKER_HUB`] here. A trailing `/v1` or
//! `/v2` (the API root people paste from a login prompt) is dropped. An
//! image reference (`alpine`, `127.0.0.1:5000/ns/app:v1`,
//! `ghcr.io/o/a@sha256:…`, `docker://…`) becomes its registry host and
//! repository path, the way docker and skopeo read it.

use crate::location::{Location, LocationError};

/// The one key of Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";

/// Host names that all mean Docker Hub.
const DOCKER_HUB_ALIASES: [&str; 5] =
    ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com"];

const SCHEMES: &[&str] = &["http", "https"];

/// A registry entry's address: a host and an optional repository prefix.
/// The scheme is kept aside: a registry is the same over either, and only
/// a connection test needs to know that it speaks plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryAddress {
    location: Location,
    scheme: Option<String>,
}

impl RegistryAddress {
    /// Parses a server address or URL as people write it (`ghcr.io`,
    /// `https://index.docker.io/v1/`, `127.0.0.1:5000/team`). Empty means
    /// Docker Hub.
    pub fn parse(text: &str) -> Result<Self, LocationError> {
        if text.trim().is_empty() {
            return Ok(Self::docker_hub());
        }
        let mut location = Location::parse(text, SCHEMES, "registry address")?;
        // `https://host/v2/` is an API root pasted from a login prompt; without
        // a scheme, `host/v2` is a repository prefix (an organisation named v2).
        if location.scheme().is_some() && matches!(location.path(), [only] if only == "v1" || only == "v2") {
            location.path_mut().clear();
        }
        Ok(Self::normalized(location))
    }

    /// The registry and repository an image reference pulls from.
    pub fn from_image(image: &str) -> Result<Self, LocationError> {
        let what = "image reference";
        let mut text = image.trim();
        if let Some(rest) = text.strip_prefix("docker://") {
            text = rest.trim_start_matches('/');
        }
        if text.contains("://") {
            return Err(LocationError::Scheme { what, expected: "a plain image reference (or docker://)" });
        }
        if text.is_empty() {
            return Err(LocationError::NoHost { what });
        }
        // A digest, then a tag (a ':' after the last '/').
        let text = text.split_once('@').map_or(text, |(name, _)| name);
        let text = match (text.rfind(':'), text.rfind('/')) {
            (Some(colon), slash) if slash.is_none_or(|s| colon > s) => &text[..colon],
            _ => text,
        };
        let (first, rest) = text.split_once('/').unwrap_or((text, ""));
        if first.is_empty() {
            return Err(LocationError::NoHost { what });
        }
        // docker's rule: the first component is a registry host if it has a
        // '.' or a ':', is `localhost`, or has an upper-case letter (which a
        // Docker Hub namespace cannot have).
        let is_host =
            first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase());
        let (host, repository) =
            if is_host && !rest.is_empty() { (first, rest.to_owned()) } else { (DOCKER_HUB, text.to_owned()) };
        // Official images: `alpine` and `docker.io/alpine` are `docker.io/library/alpine`.
        let repository =
            if DOCKER_HUB_ALIASES.contains(&host.to_ascii_lowercase().as_str()) && !repository.contains('/') {
                format!("library/{repository}")
            } else {
                repository
            };
        if repository.is_empty() || host.is_empty() {
            return Err(LocationError::NoHost { what });
        }
        let location = Location::parse(&format!("{host}/{repository}"), &[], what)?;
        Ok(Self::normalized(location))
    }

    /// Docker Hub.
    pub fn docker_hub() -> Self {
        Self::normalized(Location::parse(DOCKER_HUB, &[], "registry address").expect("a valid host"))
    }

    fn normalized(location: Location) -> Self {
        let (scheme, mut location) = location.take_scheme();
        if DOCKER_HUB_ALIASES.contains(&location.host()) {
            location.set_host(DOCKER_HUB);
        }
        // Repository names are lowercase (OCI distribution spec).
        for segment in location.path_mut() {
            *segment = segment.to_ascii_lowercase();
        }
        RegistryAddress { location, scheme }
    }

    /// `host[/path]`: equal for every spelling of one registry.
    pub fn key(&self) -> String {
        self.location.key()
    }

    /// The registry host (with port).
    pub fn host(&self) -> &str {
        self.location.host()
    }

    /// The scheme written, if any (`http` marks a plain-HTTP registry).
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    /// Whether this is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.location.host() == DOCKER_HUB
    }

    /// How specifically this entry covers `target` (see [`Location::prefix_len`]).
    pub fn prefix_len(&self, target: &RegistryAddress) -> Option<usize> {
        self.location.prefix_len(&target.location)
    }

    /// The address as a location without scheme, for [`crate::best_match`].
    pub fn location(&self) -> &Location {
        &self.location
    }
}

/// A username as registry listings show it: `admin` becomes `ad***in`, as
/// Direktiv shows it. Short names show less (`bob` is `b***`).
pub fn obfuscate_user(user: &str) -> String {
    let chars: Vec<char> = user.chars().collect();
    match chars.len() {
        0..=2 => "***".to_owned(),
        3..=4 => format!("{}***", chars[0]),
        n => format!("{}{}***{}{}", chars[0], chars[1], chars[n - 2], chars[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_docker_hub_is_one_key() {
        for text in [
            "",
            "  ",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
            "https://index.docker.io",
            "https://registry-1.docker.io/v2/",
            "DOCKER.IO",
        ] {
            let a = RegistryAddress::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(a.key(), DOCKER_HUB, "{text:?}");
            assert!(a.is_docker_hub());
        }
    }

    #[test]
    fn addresses() {
        let table: &[(&str, &str)] = &[
            ("ghcr.io", "ghcr.io"),
            ("https://ghcr.io/", "ghcr.io"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("http://127.0.0.1:5000/v2/", "127.0.0.1:5000"),
            ("127.0.0.1:5000/Team/", "127.0.0.1:5000/team"),
            ("registry.example.com/v1/sub", "registry.example.com/v1/sub"),
            // Without a scheme, /v2 is an organisation, not the API root.
            ("ghcr.io/v2", "ghcr.io/v2"),
            ("https://ghcr.io/v2/", "ghcr.io"),
            ("docker.io/v1", "docker.io/v1"),
        ];
        for (text, key) in table {
            assert_eq!(RegistryAddress::parse(text).unwrap().key(), *key, "{text}");
        }
        assert!(RegistryAddress::parse("ftp://x").is_err());
        assert!(RegistryAddress::parse("https://u:p@x").is_err());
    }

    #[test]
    fn image_references() {
        let table: &[(&str, &str)] = &[
            ("alpine", "docker.io/library/alpine"),
            ("alpine:3.20", "docker.io/library/alpine"),
            ("library/alpine@sha256:abc", "docker.io/library/alpine"),
            ("bitnami/redis:7", "docker.io/bitnami/redis"),
            ("docker.io/bitnami/redis", "docker.io/bitnami/redis"),
            ("index.docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu"),
            ("127.0.0.1:5000/ns/app:v1", "127.0.0.1:5000/ns/app"),
            ("docker://127.0.0.1:5000/ns/app:v1", "127.0.0.1:5000/ns/app"),
            ("localhost/app", "localhost/app"),
            ("localhost:5000/app@sha256:0123", "localhost:5000/app"),
            ("ghcr.io/Org/App:latest", "ghcr.io/org/app"),
            ("direktiv/request:v1", "docker.io/direktiv/request"),
            // An upper-case first component is a host, as docker reads it.
            ("MyHost/app", "myhost/app"),
            ("Intranet/team/app:v1", "intranet/team/app"),
            ("docker.io/alpine", "docker.io/library/alpine"),
            ("index.docker.io/alpine:3", "docker.io/library/alpine"),
        ];
        for (image, key) in table {
            assert_eq!(RegistryAddress::from_image(image).unwrap().key(), *key, "{image}");
        }
        for bad in ["", "https://ghcr.io/x", "a b", "/v1//", "/alpine"] {
            assert!(RegistryAddress::from_image(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entries_cover_images_by_host_and_repository_prefix() {
        let table: &[(&str, &str, Option<usize>)] = &[
            ("127.0.0.1:5000", "127.0.0.1:5000/ns/app:v1", Some(0)),
            ("http://127.0.0.1:5000/ns", "127.0.0.1:5000/ns/app:v1", Some(1)),
            ("127.0.0.1:5000/other", "127.0.0.1:5000/ns/app", None),
            ("127.0.0.1:5001", "127.0.0.1:5000/ns/app", None),
            ("https://index.docker.io/v1/", "alpine", Some(0)),
            ("docker.io/library", "alpine", Some(1)),
            ("ghcr.io", "alpine", None),
        ];
        for (entry, image, expected) in table {
            let entry = RegistryAddress::parse(entry).unwrap();
            let image = RegistryAddress::from_image(image).unwrap();
            assert_eq!(entry.prefix_len(&image), *expected, "{entry:?} vs {image:?}");
        }
    }

    #[test]
    fn users_are_obfuscated_as_direktiv_shows_them() {
        for (user, shown) in [
            ("admin", "ad***in"),
            ("alice", "al***ce"),
            ("bob", "b***"),
            ("ab", "***"),
            ("", "***"),
            ("ünïcødé", "ün***dé"),
        ] {
            assert_eq!(obfuscate_user(user), shown, "{user}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_keys_are_stable(text in "\\PC{0,80}") {
            // Regression: the fuzzer's `/v1//` gave a key that parsed to another one.
            for address in [RegistryAddress::parse(&text), RegistryAddress::from_image(&text)].into_iter().flatten() {
                let again = RegistryAddress::parse(&address.key()).expect("a key parses");
                proptest::prop_assert_eq!(again.key(), address.key());
            }
        }
    }
}
