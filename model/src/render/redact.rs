//! Rendered configs for display: every secret value replaced by [`REDACTED`].

use serde_json::Value;

use crate::names::Backend;
use crate::settings::Secrets;

/// What a secret value is shown as.
pub const REDACTED: &str = "<redacted>";

/// Where each backend's rendered config holds the storage secret.
fn secret_paths(backend: Backend) -> &'static [&'static [&'static str]] {
    match backend {
        Backend::Mimir | Backend::Loki => &[&["common", "storage", "s3", "secret_access_key"]],
        Backend::Tempo => &[&["storage", "trace", "s3", "secret_key"]],
    }
}

/// A rendered config with the storage secret and any string equal to a secret value
/// replaced by [`REDACTED`]. Text that does not parse is withheld whole.
pub fn redact(backend: Backend, config: &str, secrets: &Secrets) -> String {
    let Ok(mut value) = serde_yaml_ng::from_str::<Value>(config) else {
        return format!("{REDACTED}\n");
    };
    for path in secret_paths(backend) {
        let mut at = Some(&mut value);
        for key in *path {
            at = at.and_then(|v| v.get_mut(*key));
        }
        if let Some(v) = at {
            *v = Value::String(REDACTED.into());
        }
    }
    let values: Vec<&str> = secrets
        .values()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    scrub(&mut value, &values);
    serde_yaml_ng::to_string(&value).expect("a JSON value always serializes to YAML")
}

fn scrub(v: &mut Value, secrets: &[&str]) {
    match v {
        Value::String(s) if secrets.iter().any(|x| s.contains(x)) => *s = REDACTED.into(),
        Value::Array(items) => items.iter_mut().for_each(|i| scrub(i, secrets)),
        Value::Object(map) => map.values_mut().for_each(|i| scrub(i, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_wherever_they_are() {
        let secrets =
            Secrets::from([("tempo.storage.s3.secret_access_key".into(), "s3kr1t".into())]);
        let config = "storage:\n  trace:\n    s3:\n      secret_key: other\n      bucket: b\nx:\n- a-s3kr1t-b\n";
        let out = redact(Backend::Tempo, config, &secrets);
        assert!(!out.contains("s3kr1t") && !out.contains("other"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 2, "{out}");
        assert!(out.contains("bucket: b"), "{out}");
        assert_eq!(redact(Backend::Mimir, "{nope", &secrets), "<redacted>\n");
    }
}
