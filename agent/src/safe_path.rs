//! [`SafePath`]: an absolute path that may be placed in a unit file, an argv or a message.
//!
//! Paths reach unit files (`ExecStart=`, `WorkingDirectory=`), `systemd-sysusers` argv and
//! log lines. Rather than escaping for each of those languages, the grammar is narrow enough
//! that no escaping is ever needed: absolute, `/`-separated components of
//! `A-Z a-z 0-9 . _ - + @`, no empty, `.` or `..` component, no trailing slash.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Longest path accepted; far below PATH_MAX and systemd's line limits.
const MAX_LEN: usize = 1024;

/// An absolute, normalized path made only of safe characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SafePath(String);

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path '{0}' is not absolute; give a path starting with '/'")]
    NotAbsolute(String),
    #[error("path '{0}' is '/' itself; give a directory below '/'")]
    Root(String),
    #[error("path '{0}' is longer than {MAX_LEN} characters; use a shorter path")]
    TooLong(String),
    #[error(
        "path '{path}' contains {what}; use only a-z, A-Z, 0-9, '.', '_', '-', '+', '@' between slashes"
    )]
    BadChar { path: String, what: String },
    #[error("path '{0}' has an empty, '.' or '..' component; give a normalized path")]
    BadComponent(String),
}

impl SafePath {
    /// Checks `s` against the grammar.
    pub fn parse(s: &str) -> Result<SafePath, PathError> {
        // Printable form for messages: a hostile path must not smuggle control bytes.
        let shown = || s.escape_debug().to_string();
        if s.len() > MAX_LEN {
            return Err(PathError::TooLong(shown().chars().take(60).collect()));
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(PathError::NotAbsolute(shown()));
        };
        if rest.is_empty() {
            return Err(PathError::Root(shown()));
        }
        if let Some(c) = s.chars().find(|c| !is_safe(*c)) {
            return Err(PathError::BadChar {
                path: shown(),
                what: describe(c),
            });
        }
        if rest
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(PathError::BadComponent(shown()));
        }
        Ok(SafePath(s.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path for std::fs.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }

    /// This path with `name` appended; `name` may contain `/` and is checked like the rest.
    pub fn join(&self, name: &str) -> Result<SafePath, PathError> {
        SafePath::parse(&format!("{}/{name}", self.0))
    }

    /// The directory holding this path (`None` for a top-level entry such as `/etc`).
    pub fn parent(&self) -> Option<SafePath> {
        let (dir, _) = self.0.rsplit_once('/')?;
        (!dir.is_empty()).then(|| SafePath(dir.to_owned()))
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// The part below `base` (`None` unless this path lies strictly inside `base`).
    pub fn strip_prefix(&self, base: &SafePath) -> Option<&str> {
        self.0
            .strip_prefix(&base.0)?
            .strip_prefix('/')
            .filter(|rest| !rest.is_empty())
    }
}

fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | '@')
}

fn describe(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        ' ' => "a space".into(),
        '%' => "'%' (a systemd specifier)".into(),
        c if c.is_control() => format!("a control character {:?}", c),
        c => format!("'{}'", c.escape_debug()),
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SafePath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SafePath::parse(&s)
    }
}

impl From<SafePath> for String {
    fn from(p: SafePath) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let ok = [
            "/usr/bin",
            "/var/lib/lgtm",
            "/etc/lgtm/tempo/tempo-ingester.yaml",
            "/opt/a_b/c+d@e/f.g",
        ];
        for p in ok {
            assert_eq!(
                SafePath::parse(p).map(String::from),
                Ok(p.to_owned()),
                "{p}"
            );
        }
        let bad = [
            ("", "not absolute"),
            ("usr/bin", "not absolute"),
            ("/", "'/' itself"),
            ("/usr//bin", "empty"),
            ("/usr/bin/", "empty"),
            ("/usr/../etc", "'..'"),
            ("/usr/./bin", "'.'"),
            ("/a b", "a space"),
            ("/a\nExecStartPre=/bin/sh", "a newline"),
            ("/a%n", "systemd specifier"),
            ("/a$HOME", "'$'"),
            ("/a;b", "';'"),
            ("/a\"b", "'\\\"'"),
            ("/a\\b", "'\\\\'"),
            ("/é", "'é'"),
        ];
        for (p, want) in bad {
            let e = SafePath::parse(p).expect_err(p).to_string();
            assert!(e.contains(want), "{p:?}: {e}");
            assert!(
                !e.contains('\n'),
                "control bytes must not reach messages: {e:?}"
            );
        }
        assert!(SafePath::parse(&format!("/{}", "a".repeat(MAX_LEN))).is_err());
    }

    #[test]
    fn navigation() {
        let p = SafePath::parse("/var/lib/lgtm").unwrap();
        let m = p.join("mimir").unwrap();
        assert_eq!(m.as_str(), "/var/lib/lgtm/mimir");
        assert_eq!(m.parent(), Some(p.clone()));
        assert_eq!(m.file_name(), "mimir");
        assert_eq!(m.strip_prefix(&p), Some("mimir"));
        assert_eq!(p.strip_prefix(&p), None);
        let other = SafePath::parse("/var/lib/lgtmx").unwrap();
        assert_eq!(other.strip_prefix(&p), None, "a prefix must end at a slash");
        assert!(p.join("../etc").is_err());
        assert_eq!(SafePath::parse("/etc").unwrap().parent(), None);
    }

    #[test]
    fn serde_validates() {
        assert!(serde_json::from_str::<SafePath>("\"/ok\"").is_ok());
        assert!(serde_json::from_str::<SafePath>("\"rel\"").is_err());
    }
}
