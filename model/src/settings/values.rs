//! Parsers of the setting values that end up in rendered configs as paths, URLs or YAML.

use super::{SettingError, bad};
use crate::names::Backend;
use crate::render::overlay;

/// Longest CA file path accepted.
const MAX_PATH: usize = 256;

/// An absolute path of `A-Z a-z 0-9 . _ - /`, without `.` or `..` components.
pub(super) fn ca_file(key: &str, value: &str, backend: Backend) -> Result<String, SettingError> {
    if backend == Backend::Mimir {
        // Mimir's S3 client (config-descriptor.json) has no CA option, only insecure_skip_verify.
        return Err(bad(
            key,
            "Mimir's S3 client takes no CA file: add the CA to the system trust store of the Mimir hosts (e.g. /usr/local/share/ca-certificates + update-ca-certificates), or use plain HTTP with mimir.storage.s3.insecure",
        ));
    }
    let chars_ok = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'));
    let parts_ok = value
        .split('/')
        .skip(1)
        .all(|c| !c.is_empty() && c != "." && c != "..");
    if value.starts_with('/') && value.len() <= MAX_PATH && chars_ok && parts_ok {
        Ok(value.to_owned())
    } else {
        Err(bad(
            key,
            format!(
                "'{}' is not a plain absolute file path: use up to {MAX_PATH} characters of A-Z, a-z, 0-9, '.', '_', '-' and '/', starting with '/', without '.' or '..' components, e.g. /etc/ssl/certs/s3-ca.pem",
                value.escape_debug()
            ),
        ))
    }
}

/// Longest URL accepted.
const MAX_URL: usize = 512;

/// `http(s)://host[:port][/path]` of printable characters without quotes or spaces.
pub(super) fn url(key: &str, value: &str) -> Result<String, SettingError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let chars_ok = value.bytes().all(|b| {
        b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\' | b'`' | b'$' | b'{' | b'}')
    });
    match host {
        Some(h) if !h.is_empty() && chars_ok && value.len() <= MAX_URL => Ok(value.to_owned()),
        _ => Err(bad(
            key,
            format!(
                "'{}' is not an http(s) URL of up to {MAX_URL} printable characters without quotes, spaces, '\\', '`', '$' or braces, e.g. http://prometheus.example:9090/api/v1/write",
                value.escape_debug()
            ),
        )),
    }
}

/// A YAML overlay for `backend`, checked like a rendered config; stored as the text given.
pub(super) fn overrides(key: &str, value: &str, backend: Backend) -> Result<String, SettingError> {
    overlay::parse(backend, value).map_err(|e| bad(key, e))?;
    Ok(value.to_owned())
}
