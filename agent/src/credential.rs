//! This host's credential for the coordinator: a join token from the configuration until the
//! host joined, then the host credential the coordinator issued, kept in the state directory
//! (mode 0600) and used for everything afterwards.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The host credential's file name inside the agent's state directory.
pub const CREDENTIAL_FILE: &str = "coordinator.token";

/// The tokens the agent holds; cheap to clone, shared by its tasks.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    host: Option<String>,
    join: Option<String>,
    file: Option<PathBuf>,
}

impl Tokens {
    /// The stored host credential in `state_dir`, if any, and the join token, if any.
    pub fn load(state_dir: &Path, join: Option<String>) -> Result<Tokens, String> {
        let file = state_dir.join(CREDENTIAL_FILE);
        let host = match fs::read_to_string(&file) {
            Ok(t) => Some(t.trim().to_owned()).filter(|t| !t.is_empty()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        Ok(Tokens {
            inner: Arc::new(Mutex::new(Inner {
                host,
                join: join.map(|j| j.trim().to_owned()).filter(|j| !j.is_empty()),
                file: Some(file),
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host credential, once the host joined.
    pub fn host(&self) -> Option<String> {
        self.lock().host.clone()
    }

    /// The join token, if configured.
    pub fn join(&self) -> Option<String> {
        self.lock().join.clone()
    }

    /// Forgets a host credential the coordinator refused, so the join token is tried again.
    pub fn drop_host(&self) {
        self.lock().host = None;
    }

    /// Keeps the host credential the coordinator issued, on disk first (0600, atomic).
    pub fn store_host(&self, token: &str) -> Result<(), String> {
        let mut inner = self.lock();
        if let Some(file) = &inner.file {
            write_private(file, token).map_err(|e| {
                format!(
                    "cannot store this host's credential in {}: {e}",
                    file.display()
                )
            })?;
        }
        inner.host = Some(token.to_owned());
        Ok(())
    }
}

fn write_private(file: &Path, token: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(format!("{token}\n").as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_stored_credential_is_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Tokens::load(dir.path(), Some("lgtm_join_x\n".into())).expect("load");
        assert_eq!(t.host(), None);
        assert_eq!(t.join().as_deref(), Some("lgtm_join_x"));
        t.store_host("lgtm_host_y").expect("store");
        let file = dir.path().join(CREDENTIAL_FILE);
        let mode = fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Tokens::load(dir.path(), None).expect("load");
        assert_eq!(again.host().as_deref(), Some("lgtm_host_y"));
    }
}
