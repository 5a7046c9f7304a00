//! Mimir's keys from `cmd/mimir/config-descriptor.json`: a tree of `block` entries (YAML
//! mappings) and `field` entries (leaves) with a `fieldType`.

use serde_json::Value;

use super::{KeySet, KeyType, KeysError};

/// The coarse type of a descriptor `fieldType`.
fn coarse(field_type: &str) -> Option<KeyType> {
    Some(match field_type {
        "string" | "url" => KeyType::String,
        "int" => KeyType::Int,
        "float" => KeyType::Float,
        "boolean" => KeyType::Bool,
        "duration" => KeyType::Duration,
        t if t.starts_with("list of ") => KeyType::List,
        t if t.starts_with("map of ") => KeyType::Map,
        // A list of Prometheus relabel configs: free-form objects.
        "relabel_config..." => KeyType::Any,
        _ => return None,
    })
}

/// Derives Mimir's key set from the descriptor's JSON text.
pub fn derive(json: &str) -> Result<KeySet, KeysError> {
    let err = |why: String| KeysError::Derive {
        source_file: "mimir-config-descriptor.json".into(),
        why,
    };
    let root: Value = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
    let mut set = KeySet::default();
    walk(&root, "", &mut set).map_err(err)?;
    if set.is_empty() {
        return Err(err("no field entries found".into()));
    }
    Ok(set)
}

fn walk(block: &Value, prefix: &str, set: &mut KeySet) -> Result<(), String> {
    let entries = block
        .get("blockEntries")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("block '{prefix}' has no blockEntries"))?;
    for e in entries {
        let name = e
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("an entry under '{prefix}' has no name"))?;
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        match e.get("kind").and_then(Value::as_str) {
            Some("block") => walk(e, &path, set)?,
            Some("field") => {
                let t = e
                    .get("fieldType")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let ty = coarse(t).ok_or_else(|| {
                    format!("field '{path}' has fieldType {t:?}, which upstream.rs does not map to a coarse type yet")
                })?;
                set.insert(&path, ty);
            }
            other => return Err(format!("entry '{path}' has kind {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_blocks_and_fields() {
        let json = r#"{"kind":"block","name":"","blockEntries":[
            {"kind":"field","name":"target","fieldType":"string"},
            {"kind":"block","name":"memberlist","blockEntries":[
                {"kind":"field","name":"join_members","fieldType":"list of strings"},
                {"kind":"field","name":"bind_port","fieldType":"int"}]},
            {"kind":"block","name":"limits","blockEntries":[
                {"kind":"field","name":"metric_relabel_configs","fieldType":"relabel_config..."},
                {"kind":"field","name":"trackers","fieldType":"map of tracker name (string) to matcher (string)"}]}]}"#;
        let set = derive(json).unwrap();
        let got: Vec<(&str, KeyType)> = set.iter().collect();
        assert_eq!(
            got,
            [
                ("limits.metric_relabel_configs", KeyType::Any),
                ("limits.trackers", KeyType::Map),
                ("memberlist.bind_port", KeyType::Int),
                ("memberlist.join_members", KeyType::List),
                ("target", KeyType::String),
            ]
        );
    }

    #[test]
    fn unknown_field_types_are_errors() {
        let json = r#"{"blockEntries":[{"kind":"field","name":"x","fieldType":"complex128"}]}"#;
        let e = derive(json).unwrap_err().to_string();
        assert!(e.contains("'x'") && e.contains("complex128"), "{e}");
    }
}
