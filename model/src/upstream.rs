//! Every configuration key the real backends accept, distilled from upstream's references, so
//! rendered configs can be checked for keys the real binary would refuse (all three parse their
//! YAML strictly and stop at an unknown key).
//!
//! The key sets are data files in `model/upstream/` (`<dotted.path> <type>` per line, sorted),
//! derived by the pure parsers [`mimir::derive`], [`loki::derive`] and [`tempo::derive`] from
//! the references in `shared/reference/upstream/`. Regenerate them with
//! `cargo run -p lgtm-model --example derive-upstream-keys -- <dir with the references>`;
//! `model/tests/upstream_keys.rs` re-derives them and fails when they drift.
//!
//! Paths: `a.b.c`; `a.list[].key` for a key inside each element of a list of objects.
//! [`KeyType::Map`] and [`KeyType::Any`] are free-form: any key below them is allowed.

pub mod loki;
pub mod mimir;
pub mod tempo;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

use crate::names::Backend;

/// The coarse type of a leaf key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// Any scalar (Go's YAML decoder turns numbers and booleans into strings).
    String,
    /// An integer, or a size string such as `64MB`.
    Int,
    /// A floating-point number.
    Float,
    /// A number, integer or not (the reference shows a value, not a type).
    Number,
    /// A boolean.
    Bool,
    /// A duration (`30s`, `1h0m0s`) or a number.
    Duration,
    /// A sequence (its elements are not checked).
    List,
    /// A mapping with free-form keys.
    Map,
    /// Anything: free-form config (OTel receivers, relabel configs, ...).
    Any,
}

impl KeyType {
    /// Every type, as written in the data files.
    pub const ALL: [KeyType; 9] = [
        KeyType::String,
        KeyType::Int,
        KeyType::Float,
        KeyType::Number,
        KeyType::Bool,
        KeyType::Duration,
        KeyType::List,
        KeyType::Map,
        KeyType::Any,
    ];

    /// The name in the data files.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Int => "int",
            KeyType::Float => "float",
            KeyType::Number => "number",
            KeyType::Bool => "bool",
            KeyType::Duration => "duration",
            KeyType::List => "list",
            KeyType::Map => "map",
            KeyType::Any => "any",
        }
    }

    /// Whether keys below a value of this type are free-form.
    pub fn is_free_form(self) -> bool {
        matches!(self, KeyType::Map | KeyType::Any)
    }

    /// Whether `v` can be decoded as this type (null always can: it is the zero value).
    pub fn accepts(self, v: &Value) -> bool {
        let scalar = !matches!(v, Value::Array(_) | Value::Object(_));
        match (self, v) {
            (_, Value::Null) | (KeyType::Any, _) => true,
            (KeyType::String, _) => scalar,
            (KeyType::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
            // Sizes with units (`256KB`) and exponents are strings that start like a number.
            (KeyType::Int, Value::String(s)) => s
                .trim_start_matches('-')
                .starts_with(|c: char| c.is_ascii_digit()),
            (KeyType::Float | KeyType::Number, Value::Number(_)) => true,
            (KeyType::Bool, Value::Bool(_)) => true,
            // YAML 1.1 booleans, which Go's decoder still reads as booleans.
            (KeyType::Bool, Value::String(s)) => {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off"
                )
            }
            (KeyType::Duration, Value::String(_) | Value::Number(_)) => true,
            (KeyType::List, Value::Array(_)) => true,
            (KeyType::Map, Value::Object(_)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown key type '{s}'"))
    }
}

/// A set of valid key paths with their leaf types.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    leaves: BTreeMap<String, KeyType>,
    /// Every proper prefix of a leaf path: keys that hold a mapping (or, ending `[]`, a list of them).
    blocks: BTreeSet<String>,
}

/// Why a data file or a reference could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("line {line}: {why}")]
    BadLine { line: usize, why: String },
    #[error("failed to derive keys from {source_file}: {why}")]
    Derive { source_file: String, why: String },
}

impl KeySet {
    /// Adds a leaf (a later insert of the same path replaces its type).
    pub fn insert(&mut self, path: &str, ty: KeyType) {
        let mut end = 0;
        while let Some(dot) = path[end..].find('.') {
            end += dot;
            self.blocks.insert(path[..end].to_owned());
            end += 1;
        }
        self.leaves.insert(path.to_owned(), ty);
    }

    /// Removes every key at or below `path` (used to declare a subtree free-form).
    pub fn remove_below(&mut self, path: &str) {
        let inside = |p: &str| {
            p == path
                || p.strip_prefix(path)
                    .is_some_and(|r| r.starts_with(['.', '[']))
        };
        self.leaves.retain(|p, _| !inside(p));
        self.blocks.retain(|p| !inside(p));
        // Prefixes only some removed leaves needed are recomputed.
        let leaves = std::mem::take(&mut self.leaves);
        self.blocks.clear();
        for (p, t) in leaves {
            self.insert(&p, t);
        }
    }

    /// The type of a leaf.
    pub fn get(&self, path: &str) -> Option<KeyType> {
        self.leaves.get(path).copied()
    }

    /// Whether `path` holds a mapping of further keys.
    pub fn is_block(&self, path: &str) -> bool {
        self.blocks.contains(path)
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Every leaf and its type, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, KeyType)> {
        self.leaves.iter().map(|(p, t)| (p.as_str(), *t))
    }

    /// The data-file text: `header` lines (prefixed `# `), then `path type` per line.
    pub fn to_text(&self, header: &[&str]) -> String {
        let mut out = String::new();
        for h in header {
            out.push_str("# ");
            out.push_str(h);
            out.push('\n');
        }
        for (p, t) in self.iter() {
            out.push_str(p);
            out.push(' ');
            out.push_str(t.as_str());
            out.push('\n');
        }
        out
    }

    /// Parses data-file text (lines starting with `#` are comments).
    pub fn from_text(text: &str) -> Result<KeySet, KeysError> {
        let mut set = KeySet::default();
        for (i, line) in text.lines().enumerate() {
            let bad = |why: String| KeysError::BadLine { line: i + 1, why };
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (path, ty) = line
                .split_once(' ')
                .ok_or_else(|| bad(format!("expected 'path type', got {line:?}")))?;
            if path.is_empty() || path.contains(char::is_whitespace) {
                return Err(bad(format!("bad path {path:?}")));
            }
            set.insert(path, ty.parse().map_err(bad)?);
        }
        Ok(set)
    }

    /// Every unknown key and wrongly typed value in a parsed config.
    pub fn check(&self, config: &Value) -> Vec<Problem> {
        let mut out = Vec::new();
        match config {
            Value::Object(_) => self.walk("", config, &mut out),
            Value::Null => {}
            _ => out.push(Problem {
                path: String::new(),
                kind: ProblemKind::NotAMapping,
            }),
        }
        out
    }

    fn walk(&self, prefix: &str, map: &Value, out: &mut Vec<Problem>) {
        let Value::Object(map) = map else { return };
        for (k, v) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let wrong = |want: &'static str| Problem {
                path: path.clone(),
                kind: ProblemKind::WrongType {
                    want,
                    got: kind_of(v),
                },
            };
            if let Some(ty) = self.get(&path) {
                if !ty.accepts(v) {
                    out.push(wrong(ty.as_str()));
                }
            } else if self.is_block(&path) {
                match v {
                    Value::Object(_) => self.walk(&path, v, out),
                    Value::Null => {}
                    _ => out.push(wrong("mapping")),
                }
            } else if self.is_block(&format!("{path}[]")) {
                let list = format!("{path}[]");
                match v {
                    Value::Array(items) => {
                        for item in items {
                            match item {
                                Value::Object(_) => self.walk(&list, item, out),
                                Value::Null => {}
                                _ => out.push(wrong("list of mappings")),
                            }
                        }
                    }
                    Value::Null => {}
                    _ => out.push(wrong("list of mappings")),
                }
            } else {
                out.push(Problem {
                    path,
                    kind: ProblemKind::Unknown,
                });
            }
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// One thing wrong with a config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the key (`[]` marks list elements).
    pub path: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong with a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The backend does not know this key.
    Unknown,
    /// The value cannot be decoded as the key's type.
    WrongType {
        want: &'static str,
        got: &'static str,
    },
    /// The document is not a mapping.
    NotAMapping,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ProblemKind::Unknown => write!(f, "unknown configuration key '{}'", self.path),
            ProblemKind::WrongType { want, got } => {
                write!(f, "key '{}' takes a {want} value, not {got}", self.path)
            }
            ProblemKind::NotAMapping => f.write_str("the config is not a mapping of keys"),
        }
    }
}

/// A reference a key set is derived from.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    /// The data file's stem in `model/upstream/` (`tempo-2`).
    pub name: &'static str,
    /// The backend.
    pub backend: Backend,
    /// The reference's file name in `shared/reference/upstream/`.
    pub file: &'static str,
    /// Where the reference comes from upstream.
    pub origin: &'static str,
    /// The parser.
    pub derive: fn(&str) -> Result<KeySet, KeysError>,
    /// The committed data file.
    pub data: &'static str,
}

/// Every reference, in backend order.
pub const SOURCES: [Source; 3] = [
    Source {
        name: "mimir",
        backend: Backend::Mimir,
        file: "mimir-config-descriptor.json",
        origin: "grafana/mimir cmd/mimir/config-descriptor.json @0007c6ee08264719213ff40d8532474e7971e23d",
        derive: mimir::derive,
        data: include_str!("../upstream/mimir.keys"),
    },
    Source {
        name: "loki",
        backend: Backend::Loki,
        file: "loki-v3.7.6-configuration.md",
        origin: "grafana/loki docs/sources/shared/configuration.md @v3.7.6",
        derive: loki::derive,
        data: include_str!("../upstream/loki.keys"),
    },
    Source {
        name: "tempo-2",
        backend: Backend::Tempo,
        file: "tempo-v2.10.8-manifest.md",
        origin: "grafana/tempo docs/sources/tempo/configuration/manifest.md @v2.10.8, plus the root keys it omits",
        derive: tempo::derive,
        data: include_str!("../upstream/tempo-2.keys"),
    },
];

impl Source {
    /// The data-file text for `keys` derived from this source.
    pub fn data_file(&self, keys: &KeySet) -> String {
        let from = format!(
            "{} keys derived from {} ({})",
            self.backend, self.file, self.origin
        );
        keys.to_text(&[
            &from,
            "regenerate: cargo run -p lgtm-model --example derive-upstream-keys -- <shared/reference/upstream>",
        ])
    }
}

/// The keys of the upstream generation lgtm's catalog targets for `backend`.
pub fn known_keys(backend: Backend) -> &'static KeySet {
    static SETS: OnceLock<Vec<KeySet>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        SOURCES
            .iter()
            .map(|s| {
                KeySet::from_text(s.data)
                    .unwrap_or_else(|e| panic!("model/upstream/{}.keys: {e}", s.name))
            })
            .collect()
    });
    let i = SOURCES
        .iter()
        .position(|s| s.backend == backend)
        .unwrap_or_default();
    &sets[i]
}

/// Every problem (unknown key, wrong type) of a parsed `backend` config.
pub fn check(backend: Backend, config: &Value) -> Vec<Problem> {
    known_keys(backend).check(config)
}

/// Dotted paths of the keys in `config` that `backend` does not know.
pub fn unknown_keys(backend: Backend, config: &Value) -> Vec<String> {
    check(backend, config)
        .into_iter()
        .filter(|p| p.kind == ProblemKind::Unknown)
        .map(|p| p.path)
        .collect()
}

/// Parses YAML text and checks it.
pub fn check_yaml(backend: Backend, yaml: &str) -> Result<Vec<Problem>, serde_yaml_ng::Error> {
    let value: Value = serde_yaml_ng::from_str(yaml)?;
    Ok(check(backend, &value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set() -> KeySet {
        let mut s = KeySet::default();
        s.insert("server.http_listen_port", KeyType::Int);
        s.insert("memberlist.join_members", KeyType::List);
        s.insert("schema_config.configs[].store", KeyType::String);
        s.insert("schema_config.configs[].index.period", KeyType::Duration);
        s.insert("distributor.receivers", KeyType::Any);
        s.insert("enabled", KeyType::Bool);
        s
    }

    #[test]
    fn text_round_trip() {
        let s = set();
        let text = s.to_text(&["header"]);
        assert!(
            text.starts_with("# header\ndistributor.receivers any\nenabled bool\n"),
            "{text}"
        );
        assert_eq!(KeySet::from_text(&text), Ok(s));
        assert!(matches!(
            KeySet::from_text("a.b strin"),
            Err(KeysError::BadLine { line: 1, .. })
        ));
        assert!(KeySet::from_text("nospace").is_err());
    }

    #[test]
    fn unknown_keys_at_every_depth() {
        let cfg = json!({
            "server": {"http_listen_port": 8080, "http_listen_portt": 1},
            "schema_config": {"configs": [{"store": "tsdb", "index": {"period": "24h", "prefx": "x"}}]},
            "distributor": {"receivers": {"otlp": {"protocols": {"grpc": null}}}},
            "nope": {},
        });
        let unknown: Vec<String> = set().check(&cfg).into_iter().map(|p| p.path).collect();
        assert_eq!(
            unknown,
            [
                "nope",
                "schema_config.configs[].index.prefx",
                "server.http_listen_portt"
            ]
        );
    }

    #[test]
    fn types_are_checked_coarsely() {
        let cfg = json!({
            "server": {"http_listen_port": "eighty"},
            "memberlist": {"join_members": "a:7946"},
            "schema_config": {"configs": {"store": "tsdb"}},
            "enabled": "yes",
        });
        let problems: Vec<String> = set().check(&cfg).iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "key 'memberlist.join_members' takes a list value, not a string",
                "key 'schema_config.configs' takes a list of mappings value, not a mapping",
                "key 'server.http_listen_port' takes a int value, not a string",
            ]
        );
        assert!(
            set()
                .check(&json!({"server": null, "enabled": true}))
                .is_empty()
        );
        assert!(KeyType::Int.accepts(&json!("64MB")) && !KeyType::Int.accepts(&json!(1.5)));
    }

    #[test]
    fn remove_below_makes_a_subtree_free_form() {
        let mut s = set();
        s.remove_below("schema_config.configs");
        s.insert("schema_config.configs", KeyType::Any);
        assert!(
            s.check(&json!({"schema_config": {"configs": [{"whatever": 1}]}}))
                .is_empty()
        );
        assert!(!s.is_block("schema_config.configs[]"));
        assert!(s.is_block("server"));
    }

    #[test]
    fn committed_key_sets_load() {
        for s in SOURCES {
            let keys = known_keys(s.backend);
            assert!(keys.len() > 500, "{}: only {} keys", s.name, keys.len());
            assert_eq!(
                keys.get("memberlist.join_members"),
                Some(KeyType::List),
                "{}",
                s.name
            );
            assert!(keys.get("server.http_listen_port").is_some(), "{}", s.name);
        }
        assert_eq!(
            known_keys(Backend::Loki).get("schema_config.configs[].store"),
            Some(KeyType::String)
        );
        assert_eq!(
            known_keys(Backend::Tempo).get("distributor.receivers"),
            Some(KeyType::Map)
        );
        assert_eq!(
            known_keys(Backend::Tempo).get("multitenancy_enabled"),
            Some(KeyType::Bool)
        );
        assert_eq!(
            known_keys(Backend::Mimir).get("blocks_storage.tsdb.dir"),
            Some(KeyType::String)
        );
    }
}
