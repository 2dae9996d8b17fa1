//! Which URLs hush fetches an issuer's keys from: `https`, or plain `http`
//! to a loopback address only (a local issuer, a test). Keys fetched in the
//! clear from anywhere else could be swapped by anyone on the path.

use reqwest::Url;

/// Parses `text` as a URL keys may be fetched from, or says why not.
pub(crate) fn key_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{text:?} has credentials in it"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!("{text:?} is plain http: keys are fetched over https (http only to a loopback address)")),
        other => Err(format!("{text:?} has scheme {other:?}: use https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::key_url;

    #[test]
    fn https_anywhere_and_http_only_to_loopback() {
        for ok in [
            "https://token.actions.githubusercontent.com",
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://localhost:1",
        ] {
            assert!(key_url(ok).is_ok(), "{ok}");
        }
        for bad in ["http://example.com", "ftp://127.0.0.1", "not a url", "https://u:p@example.com", "http://10.0.0.1"]
        {
            assert!(key_url(bad).is_err(), "{bad}");
        }
    }
}
