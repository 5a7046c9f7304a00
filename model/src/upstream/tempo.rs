//! Tempo 2.x keys from `docs/sources/tempo/configuration/manifest.md`: one YAML document with
//! the whole config and its defaults. Types are inferred from the default values; `{}` is a
//! free-form map and `null` a value of unknown shape.
//!
//! The manifest is a dump of the default config, so it leaves out what Go's YAML encoder
//! omits; those keys are added back here, each with where upstream declares it.

use serde_json::Value;

use super::{KeySet, KeyType, KeysError};

const FILE: &str = "tempo-v2.10.8-manifest.md";

/// Root keys of `cmd/tempo/app/config.go` (`Config`, tag v2.10.8) tagged `omitempty`, which
/// the manifest does not show.
const OMITTED_ROOT_KEYS: &[(&str, KeyType)] = &[
    ("auth_enabled", KeyType::Bool),
    ("multitenancy_enabled", KeyType::Bool),
    ("shutdown_delay", KeyType::Duration),
    ("stream_over_http_enabled", KeyType::Bool),
    ("enable_go_runtime_metrics", KeyType::Bool),
    ("partition_ring_live_store", KeyType::Bool),
];

/// Nested keys tagged `omitempty` whose empty default the manifest leaves out:
/// `modules/generator/storage/config.go` `Config.RemoteWrite` (Prometheus remote-write configs).
const OMITTED_NESTED_KEYS: &[(&str, KeyType)] =
    &[("metrics_generator.storage.remote_write", KeyType::List)];

/// Subtrees accepted free-form. `overrides`: `modules/overrides/config.go` unmarshals it with a
/// custom `UnmarshalYAML` that also accepts the legacy inline format, and every per-tenant
/// field there is `omitempty`, so the manifest shows only a few of them.
const FREE_FORM: &[&str] = &["overrides"];

/// Keys whose default the manifest prints in a shape other than the type's: dskit's
/// `memberlist.KVConfig.JoinMembers` is a `flagext.StringSlice` (a YAML list, as Tempo's own
/// examples write it), but its empty default shows as `""`.
const TYPE_FIXES: &[(&str, KeyType)] = &[("memberlist.join_members", KeyType::List)];

fn err(why: String) -> KeysError {
    KeysError::Derive {
        source_file: FILE.into(),
        why,
    }
}

/// Derives Tempo's key set from the manifest's Markdown.
pub fn derive(markdown: &str) -> Result<KeySet, KeysError> {
    let mut yaml = String::new();
    let mut inside = false;
    for line in markdown.lines() {
        if inside {
            if line.starts_with("```") {
                break;
            }
            yaml.push_str(line);
            yaml.push('\n');
        } else if line.starts_with("```yaml") {
            inside = true;
        }
    }
    if yaml.is_empty() {
        return Err(err("no ```yaml block".into()));
    }
    let doc: Value = serde_yaml_ng::from_str(&yaml).map_err(|e| err(e.to_string()))?;
    if !doc.is_object() {
        return Err(err("the manifest is not a mapping".into()));
    }
    let mut set = KeySet::default();
    walk(&doc, "", &mut set);
    for (key, ty) in OMITTED_ROOT_KEYS {
        set.insert(key, *ty);
    }
    for (key, ty) in OMITTED_NESTED_KEYS {
        set.insert(key, *ty);
    }
    for (key, ty) in TYPE_FIXES {
        set.insert(key, *ty);
    }
    for path in FREE_FORM {
        set.remove_below(path);
        set.insert(path, KeyType::Any);
    }
    Ok(set)
}

fn walk(v: &Value, path: &str, set: &mut KeySet) {
    let child = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(map) if map.is_empty() => set.insert(path, KeyType::Map),
        Value::Object(map) => {
            for (k, v) in map {
                walk(v, &child(k), set);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let list = format!("{path}[]");
            for item in items {
                walk(item, &list, set);
            }
        }
        Value::Array(_) => set.insert(path, KeyType::List),
        Value::Null => set.insert(path, KeyType::Any),
        Value::Bool(_) => set.insert(path, KeyType::Bool),
        Value::Number(_) => set.insert(path, KeyType::Number),
        Value::String(s) if is_duration(s) => set.insert(path, KeyType::Duration),
        Value::String(_) => set.insert(path, KeyType::String),
    }
}

/// Whether `s` is a Go duration as the manifest prints them (`5m0s`, `100ms`, `0s`).
fn is_duration(s: &str) -> bool {
    crate::go_duration::seconds(s).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# Manifest

```yaml
target: all
server:
    http_listen_port: 80
    log_level: info
    http_tls_config:
        key: null
distributor:
    receivers: {}
    forwarders: []
storage:
    trace:
        pool:
            queue_depth: 10000
        block:
            parquet_dedicated_columns:
                - scope: resource
                  options: []
    wal_idle: 5m0s
memberlist:
    join_members: ""
overrides:
    defaults:
        ingestion:
            rate_strategy: local
```

Trailing prose.
"#;

    #[test]
    fn derives_types_from_defaults() {
        let set = derive(DOC).unwrap();
        let t = |p: &str| set.get(p);
        assert_eq!(t("target"), Some(KeyType::String));
        assert_eq!(t("server.http_listen_port"), Some(KeyType::Number));
        assert_eq!(t("server.http_tls_config.key"), Some(KeyType::Any));
        assert_eq!(t("distributor.receivers"), Some(KeyType::Map));
        assert_eq!(t("distributor.forwarders"), Some(KeyType::List));
        assert_eq!(
            t("storage.trace.block.parquet_dedicated_columns[].scope"),
            Some(KeyType::String)
        );
        assert_eq!(
            t("storage.trace.block.parquet_dedicated_columns[].options"),
            Some(KeyType::List)
        );
        assert_eq!(t("storage.wal_idle"), Some(KeyType::Duration));
        assert_eq!(t("multitenancy_enabled"), Some(KeyType::Bool));
        assert_eq!(t("overrides"), Some(KeyType::Any));
        assert_eq!(t("memberlist.join_members"), Some(KeyType::List));
        assert_eq!(t("overrides.defaults.ingestion.rate_strategy"), None);
    }
}
