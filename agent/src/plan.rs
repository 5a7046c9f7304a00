//! The heart of the agent: `plan(&Desired, &Observed) -> Vec<Action>`, pure.
//!
//! Every decision lives here, so the executor has none to make. Rules:
//! - a file is written only when its content (or mode, or group) differs;
//! - `daemon-reload` only when a unit file was written or removed, or systemd says its
//!   loaded copy is stale;
//! - a running process restarts only when its config or unit file changed, or an earlier
//!   apply changed them and did not get to restart it (the restart marker);
//! - a stopped or failed wanted process is started; a running one with unchanged files is
//!   never touched, so an agent restart with the same desired state plans nothing;
//! - an unwanted process is stopped, disabled and its files removed. Users and data are kept;
//! - the gateway's config is installed only through `nginx -t` ([`Action::InstallGatewayConfig`])
//!   and picked up by a reload, never a restart; only its unit file changing restarts it.
//!
//! Order: removals first (free ports), then users (configs are group-owned by them), files,
//! one reload, enables, and starts/restarts last.

use std::fmt;

use crate::desired::{Content, Desired, FileSpec};
use crate::observed::{ActiveState, Observed, UnitState};
use crate::safe_path::SafePath;

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Writes a file atomically.
    WriteFile(FileSpec),
    /// Removes a file.
    RemoveFile(SafePath),
    /// Creates a data directory owned by a backend's user (outside `/var/lib`).
    CreateDir {
        /// The directory.
        path: SafePath,
        /// User and group owning it.
        owner: &'static str,
    },
    /// Creates a backend's system user from its sysusers.d file.
    EnsureUser {
        /// The user.
        user: &'static str,
        /// Its sysusers.d file.
        sysusers: SafePath,
    },
    /// `systemctl daemon-reload`.
    DaemonReload,
    /// Enables a unit.
    Enable(String),
    /// Disables a unit.
    Disable(String),
    /// Clears a unit's failed state and start rate limit.
    ResetFailed(String),
    /// Starts a unit; on success removes the restart marker `clears`.
    Start {
        /// The unit.
        unit: String,
        /// Restart marker to remove once the process runs the new files.
        clears: Option<SafePath>,
    },
    /// Restarts a unit; on success removes the restart marker `clears`.
    Restart {
        /// The unit.
        unit: String,
        /// Restart marker to remove once the process runs the new files.
        clears: Option<SafePath>,
    },
    /// Stops a unit.
    Stop(String),
    /// Reloads a running unit (`ExecReload=`).
    Reload(String),
    /// Writes `config` to `candidate`, has nginx check it, and only then installs it.
    InstallGatewayConfig {
        /// The config and where it goes.
        config: FileSpec,
        /// Where it is checked first.
        candidate: SafePath,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::WriteFile(spec) => write!(f, "write {}", spec.path),
            Action::RemoveFile(path) => write!(f, "remove {path}"),
            Action::CreateDir { path, owner } => write!(f, "create directory {path} for {owner}"),
            Action::EnsureUser { user, .. } => write!(f, "ensure user {user}"),
            Action::DaemonReload => f.write_str("daemon-reload"),
            Action::Enable(u) => write!(f, "enable {u}"),
            Action::Disable(u) => write!(f, "disable {u}"),
            Action::ResetFailed(u) => write!(f, "reset-failed {u}"),
            Action::Start { unit, .. } => write!(f, "start {unit}"),
            Action::Restart { unit, .. } => write!(f, "restart {unit}"),
            Action::Stop(u) => write!(f, "stop {u}"),
            Action::Reload(u) => write!(f, "reload {u}"),
            Action::InstallGatewayConfig { config, .. } => {
                write!(f, "check and install {}", config.path)
            }
        }
    }
}

fn content_differs(spec: &FileSpec, observed: &Observed) -> bool {
    observed.files.get(&spec.path).map(|f| &f.content) != Some(&spec.content)
}

/// Whether the config on disk differs from `spec` in a way the running process must see.
fn config_needs_restart(spec: &FileSpec, observed: &Observed) -> bool {
    let Some(old) = observed.files.get(&spec.path) else {
        return true;
    };
    match (
        std::str::from_utf8(&old.content.0),
        std::str::from_utf8(&spec.content.0),
    ) {
        (Ok(old), Ok(new)) => lgtm_model::render::needs_restart(old, new),
        _ => true,
    }
}

fn meta_differs(spec: &FileSpec, observed: &Observed) -> bool {
    observed.files.get(&spec.path).is_some_and(|f| {
        f.mode != spec.mode || f.group.as_deref() != Some(spec.group.unwrap_or("root"))
    })
}

/// The marker is empty and private: its existence is the message.
pub fn restart_marker(path: &SafePath) -> FileSpec {
    FileSpec {
        path: path.clone(),
        content: Content::default(),
        mode: 0o600,
        group: None,
    }
}

/// The actions that turn `observed` into `desired`.
pub fn plan(desired: &Desired, observed: &Observed) -> Vec<Action> {
    let mut first = Vec::new();
    let mut reload = false;
    let mut enable = Vec::new();
    let mut run = Vec::new();
    let unit_state = |unit: &str| observed.units.get(unit).cloned().unwrap_or_default();

    for gone in &desired.unwanted {
        let state: UnitState = unit_state(&gone.unit);
        if state.active.is_running() || state.active == ActiveState::Deactivating {
            first.push(Action::Stop(gone.unit.clone()));
        }
        if state.enabled {
            first.push(Action::Disable(gone.unit.clone()));
        }
        if state.active == ActiveState::Failed {
            first.push(Action::ResetFailed(gone.unit.clone()));
        }
        for file in gone
            .files
            .iter()
            .filter(|f| observed.files.contains_key(*f))
        {
            first.push(Action::RemoveFile(file.clone()));
            reload |= *file == gone.unit_file;
        }
    }

    for user in &desired.users {
        let file = &user.sysusers;
        if content_differs(file, observed) || meta_differs(file, observed) {
            first.push(Action::WriteFile(file.clone()));
        }
        if !observed.users.contains(user.name) {
            first.push(Action::EnsureUser {
                user: user.name,
                sysusers: file.path.clone(),
            });
        }
    }

    for p in &desired.processes {
        for dir in &p.create_dirs {
            if observed.dirs.get(dir) != Some(&Some(p.user.to_owned())) {
                first.push(Action::CreateDir {
                    path: dir.clone(),
                    owner: p.user,
                });
            }
        }
        let config_changed = content_differs(&p.config, observed);
        let unit_changed = content_differs(&p.unit_file, observed);
        let marked = observed.files.contains_key(&p.restart_marker);
        // A config change confined to the memberlist seeds is written but restarts nothing.
        let restart = unit_changed || (config_changed && config_needs_restart(&p.config, observed));
        // Written before the files: a crash between writing and restarting is remembered.
        if restart && !marked {
            first.push(Action::WriteFile(restart_marker(&p.restart_marker)));
        }
        if config_changed || meta_differs(&p.config, observed) {
            first.push(Action::WriteFile(p.config.clone()));
        }
        if unit_changed || meta_differs(&p.unit_file, observed) {
            first.push(Action::WriteFile(p.unit_file.clone()));
        }
        let state = unit_state(&p.unit);
        reload |= unit_changed || state.need_reload;
        if !state.enabled {
            enable.push(Action::Enable(p.unit.clone()));
        }
        let clears = (restart || marked).then(|| p.restart_marker.clone());
        let unit = p.unit.clone();
        // Every start or restart the agent asks for first resets systemd's start-rate counter:
        // deliberate starts must not use up the StartLimitBurst kept for crash restarts.
        if state.active.is_running() {
            if clears.is_some() {
                run.push(Action::ResetFailed(unit.clone()));
                run.push(Action::Restart { unit, clears });
            }
        } else {
            run.push(Action::ResetFailed(unit.clone()));
            run.push(Action::Start { unit, clears });
        }
    }

    if let Some(g) = &desired.gateway {
        let unit_changed = content_differs(&g.unit_file, observed);
        let config_changed = content_differs(&g.config, observed);
        if unit_changed || meta_differs(&g.unit_file, observed) {
            first.push(Action::WriteFile(g.unit_file.clone()));
        }
        if config_changed || meta_differs(&g.config, observed) {
            first.push(Action::InstallGatewayConfig {
                config: g.config.clone(),
                candidate: g.candidate.clone(),
            });
        }
        let state = unit_state(&g.unit);
        reload |= unit_changed || state.need_reload;
        if !state.enabled {
            enable.push(Action::Enable(g.unit.clone()));
        }
        let unit = g.unit.clone();
        if !state.active.is_running() {
            run.push(Action::ResetFailed(unit.clone()));
            run.push(Action::Start { unit, clears: None });
        } else if unit_changed {
            run.push(Action::ResetFailed(unit.clone()));
            run.push(Action::Restart { unit, clears: None });
        } else if config_changed {
            run.push(Action::Reload(unit));
        }
    }

    let mut actions = first;
    if reload {
        actions.push(Action::DaemonReload);
    }
    actions.extend(enable);
    actions.extend(run);
    actions
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
