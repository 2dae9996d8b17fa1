//! Masking secret option values for `--print-config` and errors.
//!
//! An option is secret when clap hides its variable's value
//! (`hide_env_values`): declared once, beside the flag. A URL keeps what
//! an operator needs to check (scheme, user, host, database, `sslmode`)
//! and loses its password; anything else secret is `****`.

use clap::Arg;

/// What stands for a hidden value.
pub(crate) const MASK: &str = "****";

/// Whether `arg`'s value is a secret.
pub(crate) fn is_secret(arg: &Arg) -> bool {
    arg.is_hide_env_values_set()
}

/// A secret value as shown: a URL with host without its password (in the
/// user part or a `password`/`sslpassword` parameter), anything else
/// entirely masked.
pub(crate) fn masked(value: &str) -> String {
    let Ok(mut url) = url::Url::parse(value) else { return MASK.to_owned() };
    if !url.has_host() {
        return MASK.to_owned();
    }
    if url.password().is_some() && url.set_password(Some(MASK)).is_err() {
        return MASK.to_owned();
    }
    if let Some(query) = url.query() {
        let query: Vec<String> = query
            .split('&')
            .map(|pair| {
                // The key as the driver reads it: percent-decoded.
                let key = url::form_urlencoded::parse(pair.as_bytes()).next().map(|(k, _)| k.to_ascii_lowercase());
                match (key, pair.split_once('=')) {
                    (Some(key), Some((raw_key, _))) if key.contains("password") => format!("{raw_key}={MASK}"),
                    _ => pair.to_owned(),
                }
            })
            .collect();
        url.set_query(Some(&query.join("&")));
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_all_but_their_passwords() {
        let table = [
            ("postgres://hush:hunter2@db1.internal:5432/hush_data", "postgres://hush:****@db1.internal:5432/hush_data"),
            (
                "postgres://hush:p%40ss@db1/hush?sslmode=verify-full&sslrootcert=/etc/hush/pg-ca.pem",
                "postgres://hush:****@db1/hush?sslmode=verify-full&sslrootcert=/etc/hush/pg-ca.pem",
            ),
            (
                "postgres://hush@db1/hush?password=hunter2&sslmode=require",
                "postgres://hush@db1/hush?password=****&sslmode=require",
            ),
            ("postgresql://u@h/d?sslpassword=hunter2", "postgresql://u@h/d?sslpassword=****"),
            ("postgres://u@h/d?pass%77ord=hunter2", "postgres://u@h/d?pass%77ord=****"),
            ("postgres://hush@db1/hush", "postgres://hush@db1/hush"),
            // Not a URL with a host: nothing of it is shown.
            ("hunter2", MASK),
            ("user:hunter2", MASK),
            ("", MASK),
        ];
        for (value, shown) in table {
            assert_eq!(masked(value), shown, "{value}");
            assert!(!masked(value).contains("hunter2"));
        }
    }
}
