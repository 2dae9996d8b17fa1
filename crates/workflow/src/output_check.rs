//! Finding resolved secret values in an instance's output, and masking them
//! (`--strict`).
//!
//! The output is what the workflow computed, so a value in it is reported,
//! not silently changed, unless the caller asks for strict output: then
//! each string holding a value has it replaced by `***`, and a number or
//! key that is a value becomes `***` as a whole.

use serde_json::{Map, Value};

use crate::secrets::SecretSet;

/// JSON paths (`.a.b[0]`) of the places in `value` that hold a secret.
pub fn find(value: &Value, secrets: &SecretSet) -> Vec<String> {
    let mut out = Vec::new();
    if secrets.redactor().is_some() {
        walk(value, secrets, &mut String::new(), &mut out);
    }
    out
}

fn walk(value: &Value, secrets: &SecretSet, path: &mut String, out: &mut Vec<String>) {
    let shown = |p: &str| if p.is_empty() { ".".to_owned() } else { p.to_owned() };
    match value {
        Value::String(s) if secrets.holds_secret(s) => out.push(shown(path)),
        Value::Number(n) if secrets.holds_secret(&n.to_string()) => out.push(shown(path)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, secrets, path, out);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if secrets.holds_secret(key) {
                    path.push_str(".***");
                    out.push(format!("{path} (a key)"));
                } else {
                    path.push('.');
                    path.push_str(key);
                }
                walk(item, secrets, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// `value` with every secret masked.
pub fn mask(value: Value, secrets: &SecretSet) -> Value {
    match value {
        Value::String(s) => Value::String(secrets.scrub(&s)),
        Value::Number(n) if secrets.holds_secret(&n.to_string()) => Value::String("***".to_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| mask(v, secrets)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (secrets.scrub(&k), mask(v, secrets))).collect::<Map<_, _>>())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use hush_core::SecretBytes;
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_and_masks_values_anywhere() {
        let secrets = SecretSet::default();
        let output = json!({"a": "x-value1-y", "b": [1, {"c": "value1"}], "n": 424242, "value1": true, "ok": "fine"});
        assert!(find(&output, &secrets).is_empty(), "nothing resolved, nothing found");
        secrets.add([&SecretBytes::copy_from(b"value1"), &SecretBytes::copy_from(b"424242")]).unwrap();
        let mut found = find(&output, &secrets);
        found.sort();
        assert_eq!(found, vec![".*** (a key)".to_owned(), ".a".into(), ".b[1].c".into(), ".n".into()]);
        let masked = mask(output, &secrets);
        assert_eq!(masked, json!({"a": "x-***-y", "b": [1, {"c": "***"}], "n": "***", "***": true, "ok": "fine"}));
        assert!(find(&masked, &secrets).is_empty());
    }
}
