//! Checks on what an agent sends when it registers, before any of it reaches a config file.
//!
//! The data root ends up in rendered YAML and in paths on the host, the address in peers'
//! configs; both are refused unless plainly safe.

use std::net::IpAddr;

/// A registration field that was refused: the field and a sentence naming the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The request field at fault.
    pub field: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn invalid(field: &'static str, message: String) -> Invalid {
    Invalid { field, message }
}

/// Longest data root accepted.
const MAX_DATA_ROOT: usize = 200;

/// An absolute path of `A-Z a-z 0-9 . _ - /`, without `.` or `..` components.
pub fn data_root(value: &str) -> Result<String, Invalid> {
    let shown = value.escape_debug().to_string();
    let chars_ok = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'));
    let parts_ok = value.split('/').skip(1).all(|c| c != "." && c != "..");
    if !value.starts_with('/') || value.len() > MAX_DATA_ROOT || !chars_ok || !parts_ok {
        return Err(invalid(
            "data_root",
            format!(
                "data_root '{shown}' is not a plain absolute path: use up to {MAX_DATA_ROOT} characters of A-Z, a-z, 0-9, '.', '_', '-' and '/', starting with '/', without '.' or '..' components, e.g. /var/lib/lgtm"
            ),
        ));
    }
    // One canonical spelling, so a trailing slash does not look like a change.
    let trimmed = value.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.to_owned())
}

/// Printable ASCII without spaces, at most 64 characters.
pub fn agent_version(value: &str) -> Result<(), Invalid> {
    let ok = !value.is_empty() && value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "agent_version",
            "agent_version must be 1 to 64 printable characters without spaces, e.g. 0.1.0".into(),
        ))
    }
}

/// An address peers can reach: not unspecified, not multicast.
pub fn address(value: IpAddr) -> Result<IpAddr, Invalid> {
    if value.is_unspecified() || value.is_multicast() {
        return Err(invalid(
            "address",
            format!(
                "address {value} cannot be reached by peers; register the host's own unicast address"
            ),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_roots() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/var/lib/lgtm", Some("/var/lib/lgtm")),
            ("/var/lib/lgtm/", Some("/var/lib/lgtm")),
            ("/", Some("/")),
            ("/srv/data-1/lgtm_x.y", Some("/srv/data-1/lgtm_x.y")),
            ("var/lib", None),
            ("", None),
            ("/var/../etc", None),
            ("/var/./lib", None),
            ("/var/lib lgtm", None),
            ("/var/lib\n", None),
            ("/var/$HOME", None),
            ("/var/'x'", None),
        ];
        for (input, want) in cases {
            assert_eq!(data_root(input).ok().as_deref(), *want, "{input:?}");
        }
        assert!(data_root(&format!("/{}", "a".repeat(MAX_DATA_ROOT))).is_err());
        let e = data_root("/a\nb").unwrap_err();
        assert_eq!(e.field, "data_root");
        assert!(!e.message.contains('\n'), "{e}");
    }

    #[test]
    fn versions_and_addresses() {
        assert!(agent_version("0.1.0").is_ok());
        assert!(agent_version("").is_err());
        assert!(agent_version("0.1 beta").is_err());
        assert!(agent_version(&"1".repeat(65)).is_err());
        let ok = |s: &str| address(s.parse().unwrap()).is_ok();
        assert!(ok("198.18.0.2") && ok("127.0.0.1") && ok("fd00::1"));
        assert!(!ok("0.0.0.0") && !ok("::") && !ok("224.0.0.1"));
    }
}
