//! Loki's keys from `docs/sources/shared/configuration.md`: the root YAML block under
//! "Supported contents and default values of `loki.yaml`" and one `### <block>` section per
//! reusable block. Inside the YAML blocks, `key:` opens a mapping (by indentation),
//! `[key: <type> | default = ...]` is a leaf, `[key: <block>]` nests a section's block,
//! `[<block>]` inlines one, `[key: <list of <block>s>]` is a list of them, and `[: <map ...>]`
//! makes the enclosing key a free-form map.

use std::collections::BTreeMap;

use super::{KeySet, KeyType, KeysError};

const FILE: &str = "loki-v3.7.6-configuration.md";
const ROOT_HEADING: &str = "### Supported contents and default values of `loki.yaml`";
/// Sections nest far less deep than this; deeper means a reference cycle.
const MAX_DEPTH: usize = 24;

/// One line of a YAML block, relative to the block.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// `[key: <type> ...]` at `path`.
    Leaf { path: String, ty: String },
    /// `[<block>]` at `path` (empty: the block's root).
    Inline { path: String, block: String },
    /// `[: <map ...>]`: the key at `path` is a free-form map.
    FreeMap { path: String },
}

fn err(why: String) -> KeysError {
    KeysError::Derive {
        source_file: FILE.into(),
        why,
    }
}

/// Derives Loki's key set from the Markdown reference.
pub fn derive(markdown: &str) -> Result<KeySet, KeysError> {
    let sections = sections(markdown)?;
    let root = sections
        .get("")
        .ok_or_else(|| err(format!("no {ROOT_HEADING:?} section")))?;
    let mut set = KeySet::default();
    expand(&sections, root, "", &mut set, 0)?;
    Ok(set)
}

/// The last ```yaml block of each `###` section, parsed; the root block under "".
fn sections(markdown: &str) -> Result<BTreeMap<String, Vec<Entry>>, KeysError> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut block: Option<Vec<&str>> = None;
    let mut last: Option<Vec<&str>> = None;
    let mut flush =
        |name: &Option<String>, last: &mut Option<Vec<&str>>| -> Result<(), KeysError> {
            if let (Some(name), Some(lines)) = (name, last.take()) {
                out.insert(
                    name.clone(),
                    parse_block(&lines).map_err(|e| err(format!("section {name:?}: {e}")))?,
                );
            }
            Ok(())
        };
    for line in markdown.lines() {
        if let Some(lines) = block.as_mut() {
            if line.starts_with("```") {
                last = block.take();
            } else {
                lines.push(line);
            }
            continue;
        }
        if line.starts_with("```yaml") {
            block = Some(Vec::new());
        } else if line == ROOT_HEADING {
            flush(&current, &mut last)?;
            current = Some(String::new());
        } else if let Some(name) = line.strip_prefix("### ") {
            flush(&current, &mut last)?;
            // Sections before the root heading are prose.
            current = current.is_some().then(|| name.trim().to_owned());
        } else if line.starts_with("## ") && current.is_some() {
            flush(&current, &mut last)?;
            break;
        }
    }
    flush(&current, &mut last)?;
    Ok(out)
}

fn parse_block(lines: &[&str]) -> Result<Vec<Entry>, String> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for raw in lines {
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let here = stack
            .iter()
            .map(|(_, n)| n.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let join = |name: &str| {
            if here.is_empty() {
                name.to_owned()
            } else {
                format!("{here}.{name}")
            }
        };
        if let Some(name) = text.strip_suffix(':').filter(|n| is_key(n)) {
            stack.push((indent, name.to_owned()));
        } else if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            if let Some(block) = inner.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
                out.push(Entry::Inline {
                    path: here.clone(),
                    block: block.to_owned(),
                });
            } else if inner.starts_with(": <map of ") {
                out.push(Entry::FreeMap { path: here.clone() });
            } else {
                let (name, rest) = inner
                    .split_once(": <")
                    .ok_or_else(|| format!("unexpected line {raw:?}"))?;
                let ty = rest
                    .split_once('>')
                    .map(|(t, _)| t)
                    .ok_or_else(|| format!("unexpected line {raw:?}"))?;
                if !is_key(name) {
                    return Err(format!("bad key in {raw:?}"));
                }
                out.push(Entry::Leaf {
                    path: join(name),
                    ty: ty.to_owned(),
                });
            }
        } else {
            return Err(format!("unexpected line {raw:?}"));
        }
    }
    Ok(out)
}

fn is_key(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn scalar(ty: &str) -> Option<KeyType> {
    Some(match ty {
        "string" | "url" | "time" | "daytime" | "Regexp" => KeyType::String,
        "int" => KeyType::Int,
        "float" => KeyType::Float,
        "boolean" => KeyType::Bool,
        "duration" => KeyType::Duration,
        "headers" => KeyType::Map,
        // Objects of outside libraries, not described in the reference: Prometheus relabel
        // configs and remote-write client, Loki's blocked-query list.
        "relabel_config..." | "RemoteWriteConfig" | "blocked_query..." => KeyType::Any,
        t if t.starts_with("map of ") => KeyType::Map,
        _ => return None,
    })
}

fn expand(
    sections: &BTreeMap<String, Vec<Entry>>,
    entries: &[Entry],
    prefix: &str,
    set: &mut KeySet,
    depth: usize,
) -> Result<(), KeysError> {
    if depth > MAX_DEPTH {
        return Err(err(format!(
            "blocks nest deeper than {MAX_DEPTH} at '{prefix}'"
        )));
    }
    let at = |p: &str| match (prefix.is_empty(), p.is_empty()) {
        (true, _) => p.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}.{p}"),
    };
    let section = |name: &str| {
        sections
            .get(name)
            .ok_or_else(|| err(format!("no section for block <{name}>")))
    };
    for e in entries {
        match e {
            Entry::Inline { path, block } => {
                expand(sections, section(block)?, &at(path), set, depth + 1)?
            }
            Entry::FreeMap { path } => set.insert(&at(path), KeyType::Map),
            Entry::Leaf { path, ty } => {
                let path = at(path);
                if let Some(t) = scalar(ty) {
                    set.insert(&path, t);
                } else if sections.contains_key(ty.as_str()) {
                    expand(sections, section(ty)?, &path, set, depth + 1)?;
                } else if let Some(item) = ty.strip_prefix("list of ") {
                    // `<list of period_configs>` holds `period_config` blocks.
                    match [item, item.trim_end_matches('s')]
                        .into_iter()
                        .find(|b| sections.contains_key(*b))
                    {
                        Some(block) => expand(
                            sections,
                            section(block)?,
                            &format!("{path}[]"),
                            set,
                            depth + 1,
                        )?,
                        None => set.insert(&path, KeyType::List),
                    }
                } else {
                    return Err(err(format!(
                        "key '{path}' has type <{ty}>, which upstream.rs does not map yet"
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# Loki

### Generic placeholders

```yaml
[ignored: <string>]
```

### Supported contents and default values of `loki.yaml`

```yaml
# A comment.
# CLI flag: -target
[target: <string> | default = "all"]

[server: <server>]

ui:
  [enabled: <boolean> | default = false]
  ring:
    kvstore:
      [store: <string> | default = "consul"]
  http_headers:
    [: <map of string to Header>]
  [<tls_config>]

[schema_config: <schema_config>]
[retention_stream: <list of StreamRetentions>]
```

### period_config

```yaml
[from: <daytime>]
index:
  [period: <duration>]
```

### schema_config

```yaml
[configs: <list of period_configs>]
```

### server

Example:
```yaml
    server:
      not_a_key: 1
```

```yaml
[http_listen_port: <int> | default = 3100]
```

### tls_config

```yaml
[tls_cert_path: <string> | default = ""]
```

## Runtime Configuration file

```yaml
[file: <string>: default = empty]
```
"#;

    #[test]
    fn derives_nested_referenced_inlined_and_listed_blocks() {
        let set = derive(DOC).unwrap();
        let got: Vec<(&str, KeyType)> = set.iter().collect();
        assert_eq!(
            got,
            [
                ("retention_stream", KeyType::List),
                ("schema_config.configs[].from", KeyType::String),
                ("schema_config.configs[].index.period", KeyType::Duration),
                ("server.http_listen_port", KeyType::Int),
                ("target", KeyType::String),
                ("ui.enabled", KeyType::Bool),
                ("ui.http_headers", KeyType::Map),
                ("ui.ring.kvstore.store", KeyType::String),
                ("ui.tls_cert_path", KeyType::String),
            ]
        );
    }

    #[test]
    fn unknown_types_and_missing_sections_are_errors() {
        let doc = DOC.replace("[from: <daytime>]", "[from: <complex128>]");
        assert!(derive(&doc).unwrap_err().to_string().contains("complex128"));
        let doc = DOC.replace("### tls_config", "### tls_configs");
        assert!(
            derive(&doc)
                .unwrap_err()
                .to_string()
                .contains("<tls_config>")
        );
        assert!(derive("no root here").is_err());
    }
}
