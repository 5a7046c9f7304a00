//! The host's files and account database behind a narrow trait, and the real implementation.
//!
//! [`RealFs::write_file`] is atomic: a temporary file in the same directory gets the content,
//! mode and group, is fsynced and renamed over the target, then the directory is fsynced. A
//! crash leaves the old file or the new one, never a torn one, and a config holding secrets
//! is never readable by anyone but root and the backend's group, not even for a moment.

use std::fs::{DirBuilder, File, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

use nix::unistd::{Gid, Group, User, chown};

use crate::desired::{Content, FileSpec};
use crate::observed::FileState;
use crate::safe_path::SafePath;

/// Files, directories and users, as the plan sees them.
pub trait Fs {
    /// The file at `path`, `None` if it does not exist.
    fn read_file(&self, path: &SafePath) -> Result<Option<FileState>, FsError>;
    /// Owner name of the directory at `path`: `None` if it does not exist.
    fn dir_owner(&self, path: &SafePath) -> Result<Option<Option<String>>, FsError>;
    /// Whether the system user `name` exists.
    fn user_exists(&self, name: &str) -> bool;
    /// Replaces the file atomically with `spec`'s content, mode and group.
    fn write_file(&self, spec: &FileSpec) -> Result<(), FsError>;
    /// Removes a file; a missing file is fine.
    fn remove_file(&self, path: &SafePath) -> Result<(), FsError>;
    /// Creates a directory (and parents) owned by `owner`'s user and group, mode 0750.
    fn create_dir(&self, path: &SafePath, owner: &str) -> Result<(), FsError>;
    /// Whether nginx accepts the config at `path` (`nginx -t`), with nginx's message if not.
    fn check_gateway_config(&self, path: &SafePath) -> Result<(), FsError>;
}

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("failed to {action} {path}")]
    Io {
        action: &'static str,
        path: SafePath,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Gateway(#[from] crate::gateway::CheckError),
    #[error(
        "failed to {action} {path}: {what} '{name}' does not exist; its sysusers.d file creates it"
    )]
    NoSuchAccount {
        action: &'static str,
        path: SafePath,
        what: &'static str,
        name: String,
    },
}

/// The real filesystem and account database.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

fn io<'a>(action: &'static str, path: &'a SafePath) -> impl FnOnce(std::io::Error) -> FsError + 'a {
    move |source| FsError::Io {
        action,
        path: path.clone(),
        source,
    }
}

fn group_name(gid: u32) -> Option<String> {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &SafePath) -> Result<(), FsError> {
    File::open(dir.as_path())
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

fn parent_of(path: &SafePath) -> Result<SafePath, FsError> {
    path.parent().ok_or_else(|| FsError::Io {
        action: "find the directory of",
        path: path.clone(),
        source: std::io::Error::from(ErrorKind::InvalidInput),
    })
}

impl Fs for RealFs {
    fn read_file(&self, path: &SafePath) -> Result<Option<FileState>, FsError> {
        let content = match std::fs::read(path.as_path()) {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", path)(e)),
        };
        let meta = std::fs::metadata(path.as_path()).map_err(io("stat", path))?;
        Ok(Some(FileState {
            content: Content(content),
            mode: meta.mode() & 0o7777,
            group: group_name(meta.gid()),
        }))
    }

    fn dir_owner(&self, path: &SafePath) -> Result<Option<Option<String>>, FsError> {
        match std::fs::metadata(path.as_path()) {
            Ok(m) if m.is_dir() => Ok(Some(
                User::from_uid(m.uid().into())
                    .ok()
                    .flatten()
                    .map(|u| u.name),
            )),
            Ok(_) => Err(io("use as a directory", path)(
                ErrorKind::NotADirectory.into(),
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("stat", path)(e)),
        }
    }

    fn user_exists(&self, name: &str) -> bool {
        matches!(User::from_name(name), Ok(Some(_)))
    }

    fn write_file(&self, spec: &FileSpec) -> Result<(), FsError> {
        let path = &spec.path;
        let dir = parent_of(path)?;
        let gid = match spec.group {
            None => None,
            Some(name) => match Group::from_name(name) {
                Ok(Some(g)) => Some(g.gid),
                _ => {
                    return Err(FsError::NoSuchAccount {
                        action: "write",
                        path: path.clone(),
                        what: "group",
                        name: name.to_owned(),
                    });
                }
            },
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir.as_path())
            .map_err(io("create directory", &dir))?;
        // Created 0600: the content is private until mode and group are right.
        let mut tmp = tempfile::Builder::new()
            .prefix(".lgtm-agent.")
            .tempfile_in(dir.as_path())
            .map_err(io("create a temporary file in", &dir))?;
        let write = io("write", path);
        tmp.write_all(&spec.content.0).map_err(write)?;
        if let Some(gid) = gid {
            chown(tmp.path(), None, Some(gid))
                .map_err(|e| io("set the group of", path)(e.into()))?;
        }
        tmp.as_file()
            .set_permissions(Permissions::from_mode(spec.mode))
            .map_err(io("set the mode of", path))?;
        tmp.as_file().sync_all().map_err(io("sync", path))?;
        tmp.persist(path.as_path())
            .map_err(|e| io("rename into place", path)(e.error))?;
        sync_dir(&dir)
    }

    fn check_gateway_config(&self, path: &SafePath) -> Result<(), FsError> {
        Ok(crate::gateway::check(path)?)
    }

    fn remove_file(&self, path: &SafePath) -> Result<(), FsError> {
        match std::fs::remove_file(path.as_path()) {
            Ok(()) => sync_dir(&parent_of(path)?),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", path)(e)),
        }
    }

    fn create_dir(&self, path: &SafePath, owner: &str) -> Result<(), FsError> {
        let no_account = |what| FsError::NoSuchAccount {
            action: "create directory",
            path: path.clone(),
            what,
            name: owner.to_owned(),
        };
        let user = User::from_name(owner)
            .ok()
            .flatten()
            .ok_or_else(|| no_account("user"))?;
        if let Some(parent) = path.parent() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent.as_path())
                .map_err(io("create directory", &parent))?;
        }
        match DirBuilder::new().mode(0o750).create(path.as_path()) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("create directory", path)(e)),
        }
        chown(path.as_path(), Some(user.uid), Some(user.gid))
            .map_err(|e| io("set the owner of", path)(e.into()))?;
        std::fs::set_permissions(path.as_path(), Permissions::from_mode(0o750))
            .map_err(io("set the mode of", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (tempfile::TempDir, SafePath) {
        let d = tempfile::tempdir().unwrap();
        let p = SafePath::parse(d.path().to_str().unwrap()).unwrap();
        (d, p)
    }

    #[test]
    fn atomic_write_read_remove() {
        let (_guard, root) = dir();
        let path = root.join("sub/dir/a.yaml").unwrap();
        assert_eq!(RealFs.read_file(&path).unwrap(), None);
        let spec = FileSpec {
            path: path.clone(),
            content: "secret: 1\n".into(),
            mode: 0o640,
            group: Some("root"),
        };
        RealFs.write_file(&spec).unwrap();
        let got = RealFs.read_file(&path).unwrap().unwrap();
        assert_eq!(got.content, spec.content);
        assert_eq!(got.mode, 0o640);
        assert_eq!(got.group.as_deref(), Some("root"));
        // Overwrite: no temporary file is left behind.
        RealFs
            .write_file(&FileSpec {
                content: "secret: 2\n".into(),
                ..spec.clone()
            })
            .unwrap();
        let names: Vec<_> = std::fs::read_dir(root.join("sub/dir").unwrap().as_path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.yaml"]);
        RealFs.remove_file(&path).unwrap();
        RealFs.remove_file(&path).unwrap();
        assert_eq!(RealFs.read_file(&path).unwrap(), None);
    }

    #[test]
    fn unknown_group_leaves_the_old_file() {
        let (_guard, root) = dir();
        let path = root.join("a.yaml").unwrap();
        let spec = FileSpec {
            path: path.clone(),
            content: "old\n".into(),
            mode: 0o644,
            group: None,
        };
        RealFs.write_file(&spec).unwrap();
        let e = RealFs
            .write_file(&FileSpec {
                content: "new\n".into(),
                group: Some("no-such-group-lgtm"),
                ..spec.clone()
            })
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no-such-group-lgtm") && e.contains("sysusers.d"),
            "{e}"
        );
        assert_eq!(
            RealFs.read_file(&path).unwrap().unwrap().content,
            spec.content
        );
    }

    #[test]
    fn directories_and_users() {
        let (_guard, root) = dir();
        let d = root.join("data/mimir").unwrap();
        assert_eq!(RealFs.dir_owner(&d).unwrap(), None);
        RealFs.create_dir(&d, "root").unwrap();
        RealFs.create_dir(&d, "root").unwrap();
        assert_eq!(RealFs.dir_owner(&d).unwrap(), Some(Some("root".to_owned())));
        assert!(RealFs.user_exists("root"));
        assert!(!RealFs.user_exists("no-such-user-lgtm"));
        assert!(RealFs.create_dir(&d, "no-such-user-lgtm").is_err());
    }
}
