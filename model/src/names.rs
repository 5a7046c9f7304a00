//! Names parsed once at the boundary: [`HostName`] and [`Backend`].
//!
//! Both end up in unit file names, paths and config files, so their grammar is strict
//! and checked here, never again downstream.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::suggest::did_you_mean;

/// A host name per RFC 1123: dot-separated labels of `a-z`, `0-9` and `-`, stored lowercase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostName(String);

/// Why a host name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostNameError {
    #[error("host name is empty; give the host's name, e.g. 'host3'")]
    Empty,
    #[error("host name '{0}' is longer than 253 characters; use a shorter name")]
    TooLong(String),
    #[error(
        "host name '{name}' has an invalid label '{label}': labels are 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-' (RFC 1123)"
    )]
    BadLabel { name: String, label: String },
}

// By hand: the name's rules, which the derive cannot see behind `try_from`.
impl JsonSchema for HostName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HostName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "maxLength": 253,
            "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
            "description": "RFC 1123 host name, lowercase",
        })
    }
}

impl HostName {
    /// The name as text (always lowercase).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HostName {
    type Err = HostNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(HostNameError::Empty);
        }
        // Printable input only in the message: a hostile name must not smuggle control bytes.
        let shown = || s.escape_debug().to_string();
        if s.len() > 253 {
            return Err(HostNameError::TooLong(shown().chars().take(40).collect()));
        }
        for label in s.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(HostNameError::BadLabel {
                    name: shown(),
                    label: label.escape_debug().to_string(),
                });
            }
        }
        Ok(HostName(s.to_ascii_lowercase()))
    }
}

impl TryFrom<String> for HostName {
    type Error = HostNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<HostName> for String {
    fn from(h: HostName) -> String {
        h.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One of the three backends lgtm runs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Mimir,
    Loki,
    Tempo,
}

/// Why a backend name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend '{input}'; expected one of mimir, loki, tempo{hint}")]
pub struct BackendError {
    input: String,
    hint: String,
}

impl Backend {
    /// Every backend, in display order.
    pub const ALL: [Backend; 3] = [Backend::Mimir, Backend::Loki, Backend::Tempo];

    /// The lowercase name, as used in units, paths and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Mimir => "mimir",
            Backend::Loki => "loki",
            Backend::Tempo => "tempo",
        }
    }
}

impl FromStr for Backend {
    type Err = BackendError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| BackendError {
                input: s.escape_debug().to_string(),
                hint: did_you_mean(s, Backend::ALL.map(Backend::as_str)),
            })
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        let cases: &[(&str, Option<&str>)] = &[
            ("host3", Some("host3")),
            ("Host3.Example.com", Some("host3.example.com")),
            ("a", Some("a")),
            ("1host", Some("1host")),
            ("a-b", Some("a-b")),
            ("", None),
            ("-a", None),
            ("a-", None),
            ("a..b", None),
            ("a.", None),
            ("a_b", None),
            ("a b", None),
            ("../etc", None),
            ("a/b", None),
            ("a\nb", None),
            ("a%nb", None),
            ("é", None),
        ];
        for (input, want) in cases {
            let got = input.parse::<HostName>().ok();
            assert_eq!(got.as_ref().map(HostName::as_str), *want, "input {input:?}");
        }
        assert!("a".repeat(64).parse::<HostName>().is_err());
        assert!("a".repeat(63).parse::<HostName>().is_ok());
        assert!(
            vec!["a".repeat(63); 5]
                .join(".")
                .parse::<HostName>()
                .is_err()
        );
    }

    #[test]
    fn host_name_errors_name_the_fix() {
        let e = "bad_host".parse::<HostName>().unwrap_err().to_string();
        assert!(e.contains("'bad_host'") && e.contains("RFC 1123"), "{e}");
        let e = "a\nb".parse::<HostName>().unwrap_err().to_string();
        assert!(
            !e.contains('\n'),
            "control bytes must not reach messages: {e:?}"
        );
    }

    #[test]
    fn backends() {
        assert_eq!("loki".parse::<Backend>(), Ok(Backend::Loki));
        let e = "mimr".parse::<Backend>().unwrap_err().to_string();
        assert!(e.contains("did you mean 'mimir'"), "{e}");
        assert!("Mimir".parse::<Backend>().is_err());
        let json = serde_json::to_string(&Backend::Tempo).unwrap();
        assert_eq!(json, "\"tempo\"");
    }

    #[test]
    fn host_name_serde_validates() {
        assert!(serde_json::from_str::<HostName>("\"ok-host\"").is_ok());
        assert!(serde_json::from_str::<HostName>("\"bad host\"").is_err());
    }
}
