//! A hand-written fake host for the pure core's tests: files, users and systemd in memory.
//!
//! It behaves like the real thing where the plan cares: a written unit file is stale in
//! systemd until `daemon-reload`, a unit needs its file to start or be enabled, a config
//! needs its group to exist, and `systemd-sysusers` creates the user its file declares.
//! Any operation can be made to fail by its action text (`"start lgtm-mimir.service"`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use crate::desired::{Content, FileSpec};
use crate::fs::{Fs, FsError};
use crate::observed::{ActiveState, FileState, UnitState};
use crate::safe_path::SafePath;
use crate::systemd::{Systemd, SystemdError};

/// Everything the fake host holds.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Files by path.
    pub files: BTreeMap<SafePath, FileState>,
    /// Directories with their owner.
    pub dirs: BTreeMap<SafePath, Option<String>>,
    /// Users (each with a group of the same name; `root` always exists).
    pub users: BTreeSet<String>,
    /// ActiveState of units systemd has seen.
    pub active: BTreeMap<String, ActiveState>,
    /// Enabled units.
    pub enabled: BTreeSet<String>,
    /// Unit file content as systemd last loaded it, by unit name.
    pub loaded: BTreeMap<String, Content>,
    /// Operations to fail, by action text.
    pub fail: BTreeSet<String>,
    /// Operations performed, in order.
    pub calls: Vec<String>,
}

/// The fake host.
#[derive(Debug, Default)]
pub struct FakeHost(Mutex<State>);

impl FakeHost {
    /// A host in `state`.
    pub fn new(state: State) -> FakeHost {
        FakeHost(Mutex::new(state))
    }

    /// The current state.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unit_file(s: &State, unit: &str) -> Option<Content> {
        s.files
            .iter()
            .find(|(p, _)| is_unit_file(p) && p.file_name() == unit)
            .map(|(_, f)| f.content.clone())
    }

    fn op(&self, verb: &'static str, unit: &str) -> Result<MutexGuard<'_, State>, SystemdError> {
        let mut s = self.state();
        let call = format!("{verb} {unit}");
        s.calls.push(call.clone());
        if s.fail.contains(&call) {
            return Err(SystemdError::Job {
                verb,
                unit: unit.to_owned(),
                result: "failed".into(),
                journal: "\ninjected failure".into(),
            });
        }
        if matches!(verb, "start" | "restart" | "enable") && Self::unit_file(&s, unit).is_none() {
            return Err(SystemdError::Job {
                verb,
                unit: unit.to_owned(),
                result: "not-found".into(),
                journal: String::new(),
            });
        }
        Ok(s)
    }

    fn fs_op(
        &self,
        action: &'static str,
        path: &SafePath,
    ) -> Result<MutexGuard<'_, State>, FsError> {
        let mut s = self.state();
        let call = format!("{action} {path}");
        s.calls.push(call.clone());
        if s.fail.contains(&call) {
            return Err(FsError::Io {
                action,
                path: path.clone(),
                source: std::io::Error::other("injected failure"),
            });
        }
        Ok(s)
    }
}

/// Units are read from the test layout's unit directory only.
fn is_unit_file(path: &SafePath) -> bool {
    path.parent()
        .is_some_and(|d| d.as_str() == "/etc/systemd/system")
}

fn has_group(s: &State, name: &str) -> bool {
    name == "root" || s.users.contains(name)
}

impl Fs for FakeHost {
    fn read_file(&self, path: &SafePath) -> Result<Option<FileState>, FsError> {
        Ok(self.state().files.get(path).cloned())
    }

    fn dir_owner(&self, path: &SafePath) -> Result<Option<Option<String>>, FsError> {
        Ok(self.state().dirs.get(path).cloned())
    }

    fn user_exists(&self, name: &str) -> bool {
        self.state().users.contains(name)
    }

    fn write_file(&self, spec: &FileSpec) -> Result<(), FsError> {
        let mut s = self.fs_op("write", &spec.path)?;
        let group = spec.group.unwrap_or("root");
        if !has_group(&s, group) {
            return Err(FsError::NoSuchAccount {
                action: "write",
                path: spec.path.clone(),
                what: "group",
                name: group.to_owned(),
            });
        }
        let state = FileState {
            content: spec.content.clone(),
            mode: spec.mode,
            group: Some(group.to_owned()),
        };
        s.files.insert(spec.path.clone(), state);
        Ok(())
    }

    fn remove_file(&self, path: &SafePath) -> Result<(), FsError> {
        self.fs_op("remove", path)?.files.remove(path);
        Ok(())
    }

    fn create_dir(&self, path: &SafePath, owner: &str) -> Result<(), FsError> {
        let mut s = self.fs_op("create directory", path)?;
        if !s.users.contains(owner) {
            return Err(FsError::NoSuchAccount {
                action: "create directory",
                path: path.clone(),
                what: "user",
                name: owner.to_owned(),
            });
        }
        s.dirs.insert(path.clone(), Some(owner.to_owned()));
        Ok(())
    }

    fn check_gateway_config(&self, path: &SafePath) -> Result<(), FsError> {
        self.nginx_t(path)
    }
}

impl FakeHost {
    /// The fake `nginx -t`: refuses a config holding the word `invalid`.
    fn nginx_t(&self, path: &SafePath) -> Result<(), FsError> {
        let mut s = self.state();
        s.calls.push(format!("nginx -t {path}"));
        let text = s
            .files
            .get(path)
            .map(|f| String::from_utf8_lossy(&f.content.0).into_owned())
            .unwrap_or_default();
        if text.contains("invalid") {
            return Err(crate::gateway::CheckError::Refused {
                path: path.clone(),
                message: "unknown directive \"invalid\"".into(),
            }
            .into());
        }
        Ok(())
    }
}

impl Systemd for FakeHost {
    async fn unit_states(
        &self,
        units: &[String],
    ) -> Result<BTreeMap<String, UnitState>, SystemdError> {
        let s = self.state();
        Ok(units
            .iter()
            .filter(|u| s.active.contains_key(*u) || Self::unit_file(&s, u).is_some())
            .map(|u| {
                let disk = Self::unit_file(&s, u);
                let state = UnitState {
                    active: s.active.get(u).copied().unwrap_or_default(),
                    enabled: s.enabled.contains(u),
                    need_reload: s.loaded.get(u).is_some_and(|c| Some(c) != disk.as_ref()),
                };
                (u.clone(), state)
            })
            .collect())
    }

    async fn daemon_reload(&self) -> Result<(), SystemdError> {
        let mut s = self.op("daemon-reload", "")?;
        let units: Vec<(String, Content)> = s
            .files
            .iter()
            .filter(|(p, _)| is_unit_file(p))
            .map(|(p, f)| (p.file_name().to_owned(), f.content.clone()))
            .collect();
        s.loaded = units.into_iter().collect();
        // systemd forgets units whose file is gone unless they still run or failed.
        let loaded = s.loaded.clone();
        s.active
            .retain(|u, a| loaded.contains_key(u) || *a != ActiveState::Inactive);
        Ok(())
    }

    async fn enable(&self, unit: &str) -> Result<(), SystemdError> {
        self.op("enable", unit)?.enabled.insert(unit.to_owned());
        Ok(())
    }

    async fn disable(&self, unit: &str) -> Result<(), SystemdError> {
        self.op("disable", unit)?.enabled.remove(unit);
        Ok(())
    }

    async fn start(&self, unit: &str) -> Result<(), SystemdError> {
        let mut s = self.op("start", unit)?;
        let content = Self::unit_file(&s, unit).unwrap_or_default();
        s.loaded.entry(unit.to_owned()).or_insert(content);
        s.active.insert(unit.to_owned(), ActiveState::Active);
        Ok(())
    }

    async fn restart(&self, unit: &str) -> Result<(), SystemdError> {
        let mut s = self.op("restart", unit)?;
        let content = Self::unit_file(&s, unit).unwrap_or_default();
        s.loaded.entry(unit.to_owned()).or_insert(content);
        s.active.insert(unit.to_owned(), ActiveState::Active);
        Ok(())
    }

    async fn reload(&self, unit: &str) -> Result<(), SystemdError> {
        let s = self.op("reload", unit)?;
        if s.active.get(unit) != Some(&ActiveState::Active) {
            return Err(SystemdError::Refused {
                verb: "reload",
                unit: unit.to_owned(),
                reason: "unit is not active".into(),
                journal: String::new(),
            });
        }
        Ok(())
    }

    async fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        let mut s = self.op("stop", unit)?;
        s.active.insert(unit.to_owned(), ActiveState::Inactive);
        Ok(())
    }

    async fn reset_failed(&self, unit: &str) -> Result<(), SystemdError> {
        let mut s = self.op("reset-failed", unit)?;
        if s.active.get(unit) == Some(&ActiveState::Failed) {
            s.active.insert(unit.to_owned(), ActiveState::Inactive);
        }
        Ok(())
    }

    async fn sysusers(&self, file: &SafePath) -> Result<(), SystemdError> {
        let mut s = self.op("sysusers", file.as_str())?;
        let text = s
            .files
            .get(file)
            .map(|f| String::from_utf8_lossy(&f.content.0).into_owned())
            .unwrap_or_default();
        let users: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("u "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect();
        s.users.extend(users);
        Ok(())
    }
}

/// One fake host shared by a task and the test that watches it.
impl Fs for std::sync::Arc<FakeHost> {
    fn read_file(&self, path: &SafePath) -> Result<Option<FileState>, FsError> {
        self.as_ref().read_file(path)
    }
    fn dir_owner(&self, path: &SafePath) -> Result<Option<Option<String>>, FsError> {
        self.as_ref().dir_owner(path)
    }
    fn user_exists(&self, name: &str) -> bool {
        self.as_ref().user_exists(name)
    }
    fn write_file(&self, spec: &FileSpec) -> Result<(), FsError> {
        self.as_ref().write_file(spec)
    }
    fn remove_file(&self, path: &SafePath) -> Result<(), FsError> {
        self.as_ref().remove_file(path)
    }
    fn create_dir(&self, path: &SafePath, owner: &str) -> Result<(), FsError> {
        self.as_ref().create_dir(path, owner)
    }
    fn check_gateway_config(&self, path: &SafePath) -> Result<(), FsError> {
        self.as_ref().check_gateway_config(path)
    }
}

impl Systemd for std::sync::Arc<FakeHost> {
    async fn unit_states(
        &self,
        units: &[String],
    ) -> Result<BTreeMap<String, UnitState>, SystemdError> {
        self.as_ref().unit_states(units).await
    }
    async fn daemon_reload(&self) -> Result<(), SystemdError> {
        self.as_ref().daemon_reload().await
    }
    async fn enable(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().enable(unit).await
    }
    async fn disable(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().disable(unit).await
    }
    async fn start(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().start(unit).await
    }
    async fn restart(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().restart(unit).await
    }
    async fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().stop(unit).await
    }
    async fn reload(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().reload(unit).await
    }
    async fn reset_failed(&self, unit: &str) -> Result<(), SystemdError> {
        self.as_ref().reset_failed(unit).await
    }
    async fn sysusers(&self, file: &SafePath) -> Result<(), SystemdError> {
        self.as_ref().sysusers(file).await
    }
}
