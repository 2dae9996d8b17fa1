//! `op://VAULT/ITEM/[SECTION/]FIELD` references: a field of a 1Password
//! item, each part a name (compared ignoring case, as 1Password does) or an
//! id. With `OP_CONNECT_HOST` and `OP_CONNECT_TOKEN` set, the item is read
//! from a 1Password Connect server (`Authorization: Bearer`): the vault by id
//! (`GET /v1/vaults/{id}`, when the name looks like one) or by `GET
//! /v1/vaults?filter=name eq "…"`, the item the same way under
//! `/v1/vaults/{vault}/items`, then the whole item, whose `fields` carry
//! `id`, `label`, `value` and `section.id` and whose `sections` carry `id`
//! and `label`. Otherwise `op read --no-newline` of the 1Password CLI on
//! `PATH` reads it, signed in however `op` is (`OP_SERVICE_ACCOUNT_TOKEN`
//! in the environment, for a machine).
//!
//! Answers and `op`'s output are capped at [`MAX_VALUE_BYTES`], held in
//! buffers that are wiped, and the item is wiped once its field is taken
//! out. Messages name the reference and what Connect or `op` said, never a
//! value or the token.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hush_core::SecretBytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use zeroize::{Zeroize, Zeroizing};

use crate::resolver::{MAX_VALUE_BYTES, ResolveError};

/// Characters escaped in a path segment or a query value: all but RFC 3986's
/// unreserved ones (so a space is `%20`, never `+`).
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// How much of a message from Connect or `op` is quoted.
const MAX_MESSAGE_CHARS: usize = 200;

/// How much of `op`'s standard error is read.
const MAX_STDERR_BYTES: u64 = 64 * 1024;

/// Connect takes no client certificate; a certificate problem names the
/// variable that the system's roots honour.
const TLS_SETTINGS: hush_tls::SettingNames = hush_tls::SettingNames {
    ca_cert: "SSL_CERT_FILE",
    client_cert: "(none: hush sends 1Password Connect no client certificate)",
    client_key: "(none)",
};

fn fail(reference: &str, reason: impl Into<String>) -> ResolveError {
    ResolveError::OnePassword { reference: reference.to_owned(), reason: reason.into() }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads `field` (in `section`, if given) of `item` in `vault`. `reference`
/// is the reference as shown in messages, and what `op read` is given.
pub async fn read(
    reference: &str,
    vault: &str,
    item: &str,
    section: Option<&str>,
    field: &str,
) -> Result<SecretBytes, ResolveError> {
    let host = non_empty_env("OP_CONNECT_HOST");
    let token = non_empty_env("OP_CONNECT_TOKEN").map(Zeroizing::new);
    match (host, token) {
        (Some(host), Some(token)) => Connect::new(reference, &host, token)?.read(vault, item, section, field).await,
        (host, token) => match find_on_path("op") {
            Some(op) => read_with_cli(reference, &op).await,
            None => Err(fail(reference, not_configured(host.is_some(), token.is_some()))),
        },
    }
}

fn not_configured(host: bool, token: bool) -> String {
    let fix = "set OP_CONNECT_HOST and OP_CONNECT_TOKEN to read from 1Password Connect, or install the 1Password \
               CLI (op) on PATH and set OP_SERVICE_ACCOUNT_TOKEN";
    match (host, token) {
        (true, false) => {
            format!("OP_CONNECT_HOST is set but OP_CONNECT_TOKEN is not, and there is no op on PATH: {fix}")
        }
        (false, true) => {
            format!("OP_CONNECT_TOKEN is set but OP_CONNECT_HOST is not, and there is no op on PATH: {fix}")
        }
        _ => fix.to_owned(),
    }
}

/// A 1Password Connect server and the token to ask it with.
struct Connect<'a> {
    reference: &'a str,
    base: &'a str,
    tls: hush_tls::ClientTls,
    http: reqwest::Client,
    authorization: HeaderValue,
    /// Kept to make sure no message quotes it.
    token: Zeroizing<String>,
}

impl<'a> Connect<'a> {
    fn new(reference: &'a str, host: &'a str, token: Zeroizing<String>) -> Result<Self, ResolveError> {
        let base = host.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(fail(reference, "OP_CONNECT_HOST must start with http:// or https://"));
        }
        let tls = hush_tls::ClientTls::system_roots(TLS_SETTINGS);
        let http = hush_tls::http_client(&tls)
            .map_err(|e| fail(reference, e.to_string()))?
            // OP_CONNECT_TOKEN must not follow a redirect to another host.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| fail(reference, format!("cannot set up HTTP: {e}")))?;
        let bearer = Zeroizing::new(format!("Bearer {}", token.as_str()));
        let mut authorization = HeaderValue::from_str(&bearer)
            .map_err(|_| fail(reference, "OP_CONNECT_TOKEN cannot be sent: it is not a valid HTTP header value"))?;
        authorization.set_sensitive(true);
        Ok(Connect { reference, base, tls, http, authorization, token })
    }

    fn fail(&self, reason: impl Into<String>) -> ResolveError {
        fail(self.reference, reason)
    }

    async fn read(
        &self,
        vault: &str,
        item: &str,
        section: Option<&str>,
        field: &str,
    ) -> Result<SecretBytes, ResolveError> {
        let vault_id = self.vault_id(vault).await?;
        let mut full = self.item(vault, &vault_id, item).await?;
        let result = select_field(&full, section, field).map_err(|reason| self.fail(reason));
        let value = result.map(|index| take_value(&mut full, index));
        hush_client::wipe(&mut full);
        value
    }

    async fn vault_id(&self, vault: &str) -> Result<String, ResolveError> {
        if looks_like_id(vault)
            && let Some(found) = self.get(&format!("/v1/vaults/{}", segment(vault))).await?
            && let Some(id) = found.get("id").and_then(Value::as_str)
        {
            return Ok(id.to_owned());
        }
        let list = self.get(&format!("/v1/vaults?filter={}", filter("name", vault))).await?.ok_or_else(|| {
            self.fail("OP_CONNECT_HOST answered 404 to /v1/vaults: is it a 1Password Connect server?")
        })?;
        pick(&list, "name", vault).map_err(|count| match count {
            0 => self.fail(format!("no vault named {vault:?} that OP_CONNECT_TOKEN can read")),
            n => self.fail(format!("{n} vaults are named {vault:?}: use the vault's id")),
        })
    }

    /// The whole item, values included: the caller wipes it.
    async fn item(&self, vault: &str, vault_id: &str, item: &str) -> Result<Value, ResolveError> {
        let items = format!("/v1/vaults/{}/items", segment(vault_id));
        if looks_like_id(item)
            && let Some(full) = self.get(&format!("{items}/{}", segment(item))).await?
        {
            return Ok(full);
        }
        let list = self
            .get(&format!("{items}?filter={}", filter("title", item)))
            .await?
            .ok_or_else(|| self.fail(format!("the vault {vault:?} was not found")))?;
        let id = pick(&list, "title", item).map_err(|count| match count {
            0 => self.fail(format!("no item titled {item:?} in the vault {vault:?}")),
            n => self.fail(format!("{n} items in the vault {vault:?} are titled {item:?}: use the item's id")),
        })?;
        self.get(&format!("{items}/{}", segment(&id)))
            .await?
            .ok_or_else(|| self.fail(format!("the item {item:?} was deleted while it was read")))
    }

    /// GETs `path` (already escaped): the JSON of a 200, `None` for a 404.
    async fn get(&self, path: &str) -> Result<Option<Value>, ResolveError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.fail(format!("cannot reach OP_CONNECT_HOST: {}", self.tls.explain(&e))))?;
        let status = response.status();
        let body = read_body(response).await.map_err(|e| match e {
            BodyError::TooLarge => self.fail(format!("the answer is larger than {MAX_VALUE_BYTES} bytes")),
            BodyError::Broken(e) => self.fail(format!("the answer broke off: {e}")),
        })?;
        match status {
            StatusCode::OK => serde_json::from_slice(&body).map(Some).map_err(|_| self.fail("the answer is not JSON")),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.fail(self.refusal(status, &body))),
        }
    }

    /// A refusal in words, with Connect's `message` if it has one (its
    /// error shape is `{"status": 401, "message": "…"}`).
    fn refusal(&self, status: StatusCode, body: &[u8]) -> String {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|doc| doc.get("message").and_then(Value::as_str).map(first_line))
            .filter(|m| !m.is_empty() && !m.contains(self.token.as_str()));
        let said = message.map(|m| format!(": {m}")).unwrap_or_default();
        match status {
            StatusCode::UNAUTHORIZED => format!("1Password Connect refused OP_CONNECT_TOKEN ({status}{said})"),
            StatusCode::FORBIDDEN => format!("OP_CONNECT_TOKEN may not read this ({status}{said})"),
            _ => format!("1Password Connect answered {status}{said}"),
        }
    }
}

/// Whether a vault or item name is shaped like a 1Password id (26
/// lowercase letters and digits), so worth looking up as one first.
fn looks_like_id(name: &str) -> bool {
    name.len() == 26 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, ESCAPED).to_string()
}

/// `key eq "name"`, a SCIM filter, escaped for a query string.
fn filter(key: &str, name: &str) -> String {
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    segment(&format!("{key} eq \"{quoted}\""))
}

/// 1Password matches names ignoring case.
fn same_name(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The id of the one entry of `list` whose `key` is `name` (the filter is
/// Connect's, but a server that ignored it must not pick the wrong vault),
/// or how many there are.
fn pick(list: &Value, key: &str, name: &str) -> Result<String, usize> {
    let matches: Vec<&str> = list
        .as_array()
        .map(|entries| entries.iter().filter(|e| same_name(text(e, key), name)).map(|e| text(e, "id")).collect())
        .unwrap_or_default();
    match matches[..] {
        [id] if !id.is_empty() => Ok(id.to_owned()),
        [_] => Err(0),
        _ => Err(matches.len()),
    }
}

/// The index in `item.fields` of `field` (an id, else a label) in `section`
/// (an id or a label), or without a section as `op read` takes it: a field
/// outside the item's named sections first, else one in any section. The
/// error lists the labels there are, never a value.
pub(crate) fn select_field(item: &Value, section: Option<&str>, field: &str) -> Result<usize, String> {
    let sections = item.get("sections").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let fields = item.get("fields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let (in_scope, place): (Vec<usize>, String) = match section {
        Some(wanted) => {
            let ids: Vec<&str> = sections
                .iter()
                .filter(|s| text(s, "id") == wanted || same_name(text(s, "label"), wanted))
                .map(|s| text(s, "id"))
                .filter(|id| !id.is_empty())
                .collect();
            if ids.is_empty() {
                let labels = names(sections.iter().map(|s| text(s, "label")));
                return Err(format!("the item has no section {wanted:?} (it has: {labels})"));
            }
            let in_section = (0..fields.len()).filter(|&i| section_of(&fields[i]).is_some_and(|id| ids.contains(&id)));
            (in_section.collect(), format!("the section {wanted:?}"))
        }
        None => ((0..fields.len()).collect(), "the item".to_owned()),
    };
    let by_id: Vec<usize> = in_scope.iter().copied().filter(|&i| text(&fields[i], "id") == field).collect();
    let mut found: Vec<usize> = if by_id.len() == 1 {
        by_id
    } else {
        in_scope.iter().copied().filter(|&i| same_name(text(&fields[i], "label"), field)).collect()
    };
    if section.is_none() && found.len() > 1 {
        let named_section = |id: &str| sections.iter().any(|s| text(s, "id") == id && !text(s, "label").is_empty());
        let loose: Vec<usize> =
            found.iter().copied().filter(|&i| section_of(&fields[i]).is_none_or(|id| !named_section(id))).collect();
        if !loose.is_empty() {
            found = loose;
        }
    }
    match found[..] {
        [index] => Ok(index),
        [] => {
            let labels = names(in_scope.iter().map(|&i| text(&fields[i], "label")));
            Err(format!("{place} has no field {field:?} (it has: {labels})"))
        }
        _ => Err(format!(
            "{} fields of {place} are named {field:?}: add the section (op://VAULT/ITEM/SECTION/FIELD) or use the \
             field's id",
            found.len()
        )),
    }
}

fn section_of(field: &Value) -> Option<&str> {
    field.pointer("/section/id").and_then(Value::as_str)
}

fn names<'v>(labels: impl Iterator<Item = &'v str>) -> String {
    let mut labels: Vec<&str> = labels.filter(|l| !l.is_empty()).collect();
    labels.sort_unstable();
    labels.dedup();
    labels.join(", ")
}

/// Moves the value of `item.fields[index]` out (a field with no value is empty).
fn take_value(item: &mut Value, index: usize) -> SecretBytes {
    match item.pointer_mut(&format!("/fields/{index}/value")) {
        Some(Value::String(text)) => SecretBytes::new(std::mem::take(text).into_bytes()),
        None | Some(Value::Null) => SecretBytes::new(Vec::new()),
        Some(other) => SecretBytes::new(other.to_string().into_bytes()),
    }
}

/// The first non-empty line of a message, trimmed and capped.
fn first_line(message: &str) -> String {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    match line.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

/// Appends without leaving an unwiped copy behind: a full buffer is
/// replaced by a bigger one (the old one is wiped as it drops) rather than
/// grown in place.
fn append(buffer: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let needed = buffer.len() + bytes.len();
    if needed > buffer.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(needed.max(buffer.capacity() * 2).max(4096)));
        bigger.extend_from_slice(buffer);
        *buffer = bigger;
    }
    buffer.extend_from_slice(bytes);
}

enum BodyError {
    TooLarge,
    Broken(reqwest::Error),
}

async fn read_body(mut response: reqwest::Response) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    let expected = response.content_length().unwrap_or(0).min(MAX_VALUE_BYTES as u64) as usize;
    let mut body = Zeroizing::new(Vec::with_capacity(expected));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Broken)? {
        let fits = body.len() + chunk.len() <= MAX_VALUE_BYTES;
        if fits {
            append(&mut body, &chunk);
        }
        if let Ok(mut owned) = chunk.try_into_mut() {
            owned.as_mut().zeroize();
        }
        if !fits {
            return Err(BodyError::TooLarge);
        }
    }
    Ok(body)
}

/// `program` in an absolute directory of `PATH` (a relative entry such as
/// `.` would run whatever the current directory holds).
fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).filter(|dir| dir.is_absolute()).map(|dir| dir.join(program)).find(|candidate| {
        std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Reads all of `stream`, or fails once it passes [`MAX_VALUE_BYTES`].
async fn read_capped(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    let mut value = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = stream.read(&mut chunk[..]).await?;
        if n == 0 {
            return Ok(Some(value));
        }
        if value.len() + n > MAX_VALUE_BYTES {
            return Ok(None);
        }
        append(&mut value, &chunk[..n]);
    }
}

/// `op read --no-newline REFERENCE`: its standard output is the value. On
/// failure the message quotes the first line of its standard error, which
/// is `op`'s error message (unless it contains what was printed).
async fn read_with_cli(reference: &str, op: &Path) -> Result<SecretBytes, ResolveError> {
    let mut child = tokio::process::Command::new(op)
        .args(["read", "--no-newline", reference])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(reference, format!("cannot run {}: {}", op.display(), e.kind())))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let out = async {
        let value = read_capped(&mut stdout).await;
        if !matches!(value, Ok(Some(_))) {
            // op may be blocked writing the rest; its stderr ends when it does.
            let _ = child.start_kill();
        }
        value
    };
    let err = async {
        let mut text = Vec::new();
        let _ = stderr.take(MAX_STDERR_BYTES).read_to_end(&mut text).await;
        text
    };
    let (value, errors) = tokio::join!(out, err);
    drop(stdout);
    let status = child.wait().await.map_err(|e| fail(reference, format!("cannot run op: {}", e.kind())))?;
    let value = match value {
        Ok(Some(value)) => value,
        Ok(None) => return Err(ResolveError::TooLarge(reference.to_owned())),
        Err(e) => return Err(fail(reference, format!("cannot read op's output: {}", e.kind()))),
    };
    if status.success() {
        return Ok(SecretBytes::copy_from(&value));
    }
    let line = first_line(&String::from_utf8_lossy(&errors));
    let quotes_output = !value.is_empty() && line.as_bytes().windows(value.len()).any(|w| w == value.as_slice());
    let reason = if line.is_empty() || quotes_output {
        format!("op read failed ({status})")
    } else {
        format!("op read failed ({status}): {line}")
    };
    Err(fail(reference, reason))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Shaped like Connect's answer to GET /v1/vaults/{vault}/items/{item}.
    fn item() -> Value {
        json!({
            "id": "u2tygvhg6yalhxsl4v3gn6jkma",
            "title": "Prod DB",
            "vault": {"id": "kfnxq4cbvwomqykyy6ckcvbaxm"},
            "category": "DATABASE",
            "sections": [
                {"id": "add more"},
                {"id": "k3pclmyh5fbwjb7zq3atvzxzwa", "label": "Admin"},
                {"id": "replica", "label": "Replica"}
            ],
            "fields": [
                {"id": "username", "type": "STRING", "purpose": "USERNAME", "label": "username", "value": "svc"},
                {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD", "label": "password", "value": "pw-main"},
                {"id": "notesPlain", "type": "STRING", "purpose": "NOTES", "label": "notesPlain"},
                {"id": "h4ysb2qz6bnlvtbt6ctkyxzq7e", "type": "CONCEALED", "label": "password",
                 "section": {"id": "k3pclmyh5fbwjb7zq3atvzxzwa"}, "value": "pw-admin"},
                {"id": "vfmxw4xc7nrqbaan7i4v2ek6hq", "type": "STRING", "label": "port",
                 "section": {"id": "add more"}, "value": "5432"},
                {"id": "e7zx7ln5sbfqyqyjrwq4gp4szy", "type": "STRING", "label": "host",
                 "section": {"id": "k3pclmyh5fbwjb7zq3atvzxzwa"}, "value": "admin.db"},
                {"id": "ipg6nnuisqjpj5fbqzn7n4gyxy", "type": "STRING", "label": "host",
                 "section": {"id": "replica"}, "value": "replica.db"},
                {"id": "qt6p3fsavfvh3rnqbq4aunjyja", "type": "STRING", "label": "Api Key",
                 "section": {"id": "replica"}, "value": "key-r"}
            ]
        })
    }

    fn value(section: Option<&str>, field: &str) -> Result<String, String> {
        let mut doc = item();
        let index = select_field(&doc, section, field)?;
        Ok(String::from_utf8(take_value(&mut doc, index).expose_secret().to_vec()).unwrap())
    }

    #[test]
    fn selects_fields_by_label_or_id_in_or_out_of_sections() {
        let table: &[(Option<&str>, &str, &str)] = &[
            (None, "password", "pw-main"),
            (None, "PASSWORD", "pw-main"),
            (None, "username", "svc"),
            (None, "notesPlain", ""),
            (None, "port", "5432"),
            (None, "h4ysb2qz6bnlvtbt6ctkyxzq7e", "pw-admin"),
            (None, "api key", "key-r"),
            (Some("Admin"), "password", "pw-admin"),
            (Some("admin"), "Password", "pw-admin"),
            (Some("k3pclmyh5fbwjb7zq3atvzxzwa"), "host", "admin.db"),
            (Some("Replica"), "host", "replica.db"),
            (Some("replica"), "qt6p3fsavfvh3rnqbq4aunjyja", "key-r"),
        ];
        for (section, field, want) in table {
            assert_eq!(value(*section, field).as_deref(), Ok(*want), "{section:?}/{field}");
        }
    }

    #[test]
    fn selection_errors_name_labels_never_values() {
        let table: &[(Option<&str>, &str, &str)] = &[
            (
                None,
                "nope",
                "the item has no field \"nope\" (it has: Api Key, host, notesPlain, password, port, username)",
            ),
            (None, "host", "2 fields of the item are named \"host\": add the section"),
            (Some("Nope"), "host", "the item has no section \"Nope\" (it has: Admin, Replica)"),
            (Some("Admin"), "username", "the section \"Admin\" has no field \"username\" (it has: host, password)"),
        ];
        for (section, field, want) in table {
            let message = value(*section, field).unwrap_err();
            assert!(message.starts_with(want), "{section:?}/{field}: {message}");
            for secret in ["pw-main", "pw-admin", "admin.db", "replica.db", "key-r", "5432"] {
                assert!(!message.contains(secret), "{message}");
            }
        }
        assert!(select_field(&json!({"title": "empty"}), None, "x").unwrap_err().contains("has no field"));
    }

    #[test]
    fn picks_one_entry_by_name_ignoring_case() {
        let list = json!([
            {"id": "a", "name": "Dev"},
            {"id": "b", "name": "Prod"},
            {"id": "c", "name": "prod"},
            {"id": "", "name": "Broken"}
        ]);
        assert_eq!(pick(&list, "name", "dev"), Ok("a".into()));
        assert_eq!(pick(&list, "name", "PROD"), Err(2));
        assert_eq!(pick(&list, "name", "Stage"), Err(0));
        assert_eq!(pick(&list, "name", "Broken"), Err(0));
        assert_eq!(pick(&json!({"message": "x"}), "name", "Dev"), Err(0));
    }

    #[test]
    fn ids_filters_and_messages() {
        assert!(looks_like_id("kfnxq4cbvwomqykyy6ckcvbaxm"));
        for not_id in ["Prod", "KFNXQ4CBVWOMQYKYY6CKCVBAXM", "kfnxq4cbvwomqykyy6ckcvbax", "kfnxq4cbvwomqykyy6ckcvbax-"]
        {
            assert!(!looks_like_id(not_id), "{not_id}");
        }
        assert_eq!(filter("name", "Prod Vault"), "name%20eq%20%22Prod%20Vault%22");
        assert_eq!(filter("title", r#"a"b\c"#), "title%20eq%20%22a%5C%22b%5C%5Cc%22");
        assert_eq!(first_line("\n  [ERROR] no such item  \nmore\n"), "[ERROR] no such item");
        let long = "é".repeat(300);
        assert_eq!(first_line(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(not_configured(true, false).starts_with("OP_CONNECT_HOST is set but OP_CONNECT_TOKEN is not"));
    }

    /// A stand-in for `op`, run by path (so no test changes `PATH`).
    fn stub_op(dir: &tempfile::TempDir) -> PathBuf {
        let path = dir.path().join("op");
        std::fs::write(
            &path,
            r#"#!/bin/sh
[ "$1 $2" = "read --no-newline" ] || { echo "bad arguments" >&2; exit 2; }
case "$3" in
  op://v/i/f) printf 'op-value\n' ;;
  op://v/i/big) head -c 16777217 /dev/zero ;;
  op://v/i/echo) printf 'leaked' ; echo "[ERROR] leaked twice" >&2; exit 1 ;;
  *) printf '\n[ERROR] 2025/01/01 could not read secret %s\nsecond line\n' "$3" >&2; exit 1 ;;
esac
"#,
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn the_cli_prints_the_value_or_its_first_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let op = stub_op(&dir);
        let value = read_with_cli("op://v/i/f", &op).await.unwrap();
        assert_eq!(value.expose_secret(), b"op-value\n", "kept byte for byte");
        let e = read_with_cli("op://v/i/nope", &op).await.unwrap_err().to_string();
        assert_eq!(
            e,
            "op://v/i/nope: op read failed (exit status: 1): [ERROR] 2025/01/01 could not read secret op://v/i/nope"
        );
        let e = read_with_cli("op://v/i/echo", &op).await.unwrap_err().to_string();
        assert_eq!(e, "op://v/i/echo: op read failed (exit status: 1)", "op's message quoted what it printed");
        let e = read_with_cli("op://v/i/big", &op).await.unwrap_err();
        assert!(matches!(e, ResolveError::TooLarge(_)), "{e}");
        let e = read_with_cli("op://v/i/f", &dir.path().join("missing")).await.unwrap_err().to_string();
        assert!(e.contains("cannot run") && e.contains("not found"), "{e}");
    }

    #[test]
    fn append_keeps_every_byte() {
        let mut buffer = Zeroizing::new(Vec::new());
        for i in 0..5000u32 {
            append(&mut buffer, &i.to_le_bytes());
        }
        assert_eq!(buffer.len(), 20_000);
        assert_eq!(&buffer[4996..5000], &1249u32.to_le_bytes());
    }
}
