//! What the host looks like now: managed files with their content, units, users, data dirs.
//!
//! [`Observed`] is plain data, built by [`observe`] from the [`Fs`] and [`Systemd`] traits, so
//! the plan can be tested with hand-written values and the real host alike.

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::{Content, Desired};
use crate::fs::{Fs, FsError};
use crate::safe_path::SafePath;
use crate::systemd::{Systemd, SystemdError};

/// A file that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// Its content.
    pub content: Content,
    /// Permission bits.
    pub mode: u32,
    /// Name of the owning group (`None` if the gid has no name).
    pub group: Option<String>,
}

/// systemd's ActiveState of a unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActiveState {
    /// Running (for Type=notify: READY=1 received).
    Active,
    /// Reloading its configuration.
    Reloading,
    /// Not running; also what systemd says of a unit it does not know.
    #[default]
    Inactive,
    /// Stopped after a failure; stays so until reset or started.
    Failed,
    /// Starting.
    Activating,
    /// Stopping.
    Deactivating,
    /// Any other state a newer systemd may add.
    Other,
}

impl ActiveState {
    /// Parses systemd's name.
    pub fn parse(s: &str) -> ActiveState {
        match s {
            "active" => ActiveState::Active,
            "reloading" => ActiveState::Reloading,
            "inactive" => ActiveState::Inactive,
            "failed" => ActiveState::Failed,
            "activating" => ActiveState::Activating,
            "deactivating" => ActiveState::Deactivating,
            _ => ActiveState::Other,
        }
    }

    /// Whether a process runs (or is coming up): a change needs a restart, not a start.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ActiveState::Active | ActiveState::Reloading | ActiveState::Activating
        )
    }
}

/// What the plan needs to know of a unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnitState {
    /// ActiveState.
    pub active: ActiveState,
    /// UnitFileState is `enabled`.
    pub enabled: bool,
    /// systemd's loaded definition is older than the file on disk (NeedDaemonReload).
    pub need_reload: bool,
}

/// The host as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Managed files that exist.
    pub files: BTreeMap<SafePath, FileState>,
    /// Managed units systemd knows (absent: not loaded, not enabled).
    pub units: BTreeMap<String, UnitState>,
    /// Backend users that exist.
    pub users: BTreeSet<String>,
    /// Data directories the agent creates that exist, with their owner's name.
    pub dirs: BTreeMap<SafePath, Option<String>>,
}

/// Why the host could not be observed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Systemd(#[from] SystemdError),
}

/// Looks at every file, unit, user and directory `desired` may touch.
pub async fn observe(
    desired: &Desired,
    fs: &impl Fs,
    systemd: &impl Systemd,
) -> Result<Observed, ObserveError> {
    let mut paths: Vec<&SafePath> = Vec::new();
    for u in &desired.users {
        paths.push(&u.sysusers.path);
    }
    for p in &desired.processes {
        paths.extend([&p.config.path, &p.unit_file.path, &p.restart_marker]);
    }
    for u in &desired.unwanted {
        paths.extend(&u.files);
    }
    if let Some(g) = &desired.gateway {
        paths.extend([&g.config.path, &g.unit_file.path, &g.candidate]);
    }
    let mut files = BTreeMap::new();
    for path in paths {
        if let Some(state) = fs.read_file(path)? {
            files.insert(path.clone(), state);
        }
    }
    let mut dirs = BTreeMap::new();
    for dir in desired.processes.iter().flat_map(|p| &p.create_dirs) {
        if let Some(owner) = fs.dir_owner(dir)? {
            dirs.insert(dir.clone(), owner);
        }
    }
    let users = desired
        .users
        .iter()
        .filter(|u| fs.user_exists(u.name))
        .map(|u| u.name.to_owned())
        .collect();
    let units = systemd.unit_states(&desired.all_units()).await?;
    Ok(Observed {
        files,
        units,
        users,
        dirs,
    })
}
