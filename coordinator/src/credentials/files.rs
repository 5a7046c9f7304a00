//! The operator token files: `<state_dir>/credentials/{admin,read}.token`, mode 0600 in a
//! 0700 directory, written atomically.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::CredentialError;
use super::token::Kind;

/// The directory of the token files inside the state directory.
pub const CREDENTIALS_DIR: &str = "credentials";
/// The admin token's file name.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The read-only token's file name.
pub const READ_TOKEN_FILE: &str = "read.token";

/// Writes `token` of `kind` (admin or read) to its file.
pub fn write_token(state_dir: &Path, kind: Kind, token: &str) -> Result<(), CredentialError> {
    let dir = state_dir.join(CREDENTIALS_DIR);
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| CredentialError::Io { path, source }
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    fs::set_permissions(&dir, Permissions::from_mode(0o700)).map_err(io(&dir))?;
    let name = match kind {
        Kind::Admin => ADMIN_TOKEN_FILE,
        _ => READ_TOKEN_FILE,
    };
    let file = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, &file).map_err(io(&file))
}
