//! Which credential lgtmctl sends: `LGTM_TOKEN`, else the file of `--credentials` /
//! `LGTM_CREDENTIALS`, else the coordinator's admin token file when readable (on the
//! coordinator's own machine, as root or its user).

use std::path::Path;

use crate::error::CtlError;

/// The coordinator's admin token, read when nothing else names a credential.
pub const DEFAULT_CREDENTIALS: &str = "/var/lib/lgtm-coordinator/credentials/admin.token";

/// The token to send, if any: `env_token` (LGTM_TOKEN), else `file`, else the default file.
pub fn resolve(env_token: Option<String>, file: Option<&Path>) -> Result<Option<String>, CtlError> {
    if let Some(t) = env_token
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(t));
    }
    match file {
        Some(path) => read(path).map(Some),
        None => Ok(read(Path::new(DEFAULT_CREDENTIALS)).ok()),
    }
}

/// The coordinator's CA, read when `--ca-file` is not given.
pub const DEFAULT_CA_FILE: &str = "/var/lib/lgtm-coordinator/tls/ca.pem";

/// The CA certificate (PEM) to pin: `file`, else the default file when readable.
pub fn ca(file: Option<&Path>) -> Result<Option<Vec<u8>>, CtlError> {
    match file {
        Some(path) => std::fs::read(path).map(Some).map_err(|e| {
            CtlError::Usage(format!(
                "cannot read the CA file {} ({e}); give the coordinator's tls/ca.pem with --ca-file FILE or LGTM_CA_FILE",
                path.display()
            ))
        }),
        None => Ok(std::fs::read(DEFAULT_CA_FILE).ok()),
    }
}

fn read(path: &Path) -> Result<String, CtlError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CtlError::Usage(format!(
            "cannot read the credentials file {} ({e}); give a readable token file with --credentials FILE or the token in LGTM_TOKEN",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(CtlError::Usage(format!(
            "the credentials file {} does not hold one token; it should hold the single line the coordinator wrote (credentials/admin.token)",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_then_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t");
        std::fs::write(&file, "lgtm_read_abc\n").expect("write");
        assert_eq!(
            resolve(Some("lgtm_admin_x".into()), Some(&file)).expect("env"),
            Some("lgtm_admin_x".into())
        );
        assert_eq!(
            resolve(None, Some(&file)).expect("file"),
            Some("lgtm_read_abc".into())
        );
        let missing = dir.path().join("none");
        let e = resolve(None, Some(&missing)).expect_err("missing file");
        assert!(e.to_string().contains("--credentials"), "{e}");
    }
}
