//! The real [`Systemd`]: the manager on the system bus, over zbus.
//!
//! Job calls subscribe to `JobRemoved` *before* queuing the job (a fast job could otherwise
//! finish unseen), then wait for the signal naming their job path and check its result.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::process::Command;
use zbus::Connection;
use zbus::fdo::PropertiesProxy;
use zbus::names::InterfaceName;
use zbus::proxy::CacheProperties;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue};

use super::journal_tail;
use super::proxy::{ManagerProxy, UnitRow};
use super::{Systemd, SystemdError};
use crate::observed::{ActiveState, UnitState};
use crate::safe_path::SafePath;

/// Longest wait for a job: Mimir's TimeoutStartSec (20 min) plus a margin. systemd times
/// jobs out itself; this only guards against a signal that never comes.
const JOB_LIMIT: Duration = Duration::from_secs(25 * 60);

/// The unit interface, for `Properties.Get`.
pub const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
/// The service interface, for `Properties.Get`.
pub const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";

/// systemd over D-Bus.
#[derive(Clone, Debug)]
pub struct Dbus {
    conn: Connection,
    manager: ManagerProxy<'static>,
}

#[derive(Clone, Copy, Debug)]
enum Job {
    Start,
    Restart,
    Reload,
    Stop,
}

impl Job {
    fn verb(self) -> &'static str {
        match self {
            Job::Start => "start",
            Job::Restart => "restart",
            Job::Reload => "reload",
            Job::Stop => "stop",
        }
    }
}

impl Dbus {
    /// Connects to the system bus and subscribes to the manager's signals.
    pub async fn connect() -> Result<Dbus, SystemdError> {
        let conn = Connection::system().await.map_err(connect)?;
        Dbus::on(conn).await
    }

    /// Uses an existing bus connection.
    pub async fn on(conn: Connection) -> Result<Dbus, SystemdError> {
        let manager = ManagerProxy::new(&conn).await.map_err(connect)?;
        // Without Subscribe systemd sends no JobRemoved or PropertiesChanged at all.
        manager.subscribe().await.map_err(connect)?;
        Ok(Dbus { conn, manager })
    }

    /// The bus connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Loaded units whose name matches `pattern` (`lgtm-*`).
    pub async fn list(&self, pattern: &str) -> Result<Vec<UnitRow>, SystemdError> {
        self.manager
            .list_units_by_patterns(&[], &[pattern])
            .await
            .map_err(call("list units", pattern))
    }

    /// Units by name, each loaded on demand.
    pub async fn by_names(&self, names: &[String]) -> Result<Vec<UnitRow>, SystemdError> {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.manager
            .list_units_by_names(&names)
            .await
            .map_err(call("list units", "by name"))
    }

    /// Every property of `interface` on the unit object at `path`.
    pub async fn properties(
        &self,
        path: &ObjectPath<'_>,
        interface: &'static str,
    ) -> Result<std::collections::HashMap<String, OwnedValue>, SystemdError> {
        let what = || format!("{path} {interface}");
        let proxy = PropertiesProxy::builder(&self.conn)
            .destination("org.freedesktop.systemd1")
            .and_then(|b| b.path(path.to_owned()))
            .map_err(call("read properties of", &what()))?
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(call("read properties of", &what()))?;
        proxy
            .get_all(InterfaceName::from_static_str_unchecked(interface))
            .await
            .map_err(|e| call("read properties of", &what())(e.into()))
    }

    async fn job(&self, job: Job, unit: &str) -> Result<(), SystemdError> {
        let verb = job.verb();
        let mut removed = self
            .manager
            .receive_job_removed()
            .await
            .map_err(call(verb, unit))?;
        let queued: zbus::Result<OwnedObjectPath> = match job {
            Job::Start => self.manager.start_unit(unit, "replace").await,
            Job::Restart => self.manager.restart_unit(unit, "replace").await,
            Job::Reload => self.manager.reload_unit(unit, "replace").await,
            Job::Stop => self.manager.stop_unit(unit, "replace").await,
        };
        let queued = match queued {
            Ok(path) => path,
            Err(e) if matches!(job, Job::Stop) => return Err(call(verb, unit)(e)),
            // Refused outright (bad unit file, start limit): systemd's reason is in the error.
            Err(e) => {
                let reason = match &e {
                    zbus::Error::MethodError(_, Some(text), _) => text.clone(),
                    other => other.to_string(),
                };
                return Err(SystemdError::Refused {
                    verb,
                    unit: unit.to_owned(),
                    reason,
                    journal: journal_tail(unit).await,
                });
            }
        };
        let wait = async {
            while let Some(signal) = removed.next().await {
                match signal.args() {
                    Ok(args) if *args.job() == *queued => return Some(args.result().to_string()),
                    _ => continue,
                }
            }
            None
        };
        match tokio::time::timeout(JOB_LIMIT, wait).await {
            Ok(Some(result)) if result == "done" => Ok(()),
            Ok(Some(result)) => Err(SystemdError::Job {
                verb,
                unit: unit.to_owned(),
                result,
                journal: journal_tail(unit).await,
            }),
            Ok(None) => Err(SystemdError::JobLost {
                verb,
                unit: unit.to_owned(),
            }),
            Err(_) => Err(SystemdError::JobTimeout {
                verb,
                unit: unit.to_owned(),
                minutes: JOB_LIMIT.as_secs() / 60,
            }),
        }
    }

    async fn need_reload(&self, path: &ObjectPath<'_>) -> Result<bool, SystemdError> {
        let props = self.properties(path, UNIT_INTERFACE).await?;
        Ok(props
            .get("NeedDaemonReload")
            .and_then(|v| bool::try_from(v).ok())
            .unwrap_or(false))
    }
}

fn call<'a>(verb: &'static str, unit: &'a str) -> impl FnOnce(zbus::Error) -> SystemdError + 'a {
    move |source| SystemdError::Call {
        verb,
        unit: unit.to_owned(),
        source: Box::new(source),
    }
}

fn connect(e: zbus::Error) -> SystemdError {
    SystemdError::Connect(Box::new(e))
}

impl Systemd for Dbus {
    async fn unit_states(
        &self,
        units: &[String],
    ) -> Result<BTreeMap<String, UnitState>, SystemdError> {
        let mut out = BTreeMap::new();
        for row in self.by_names(units).await? {
            let (name, _, load, active, _, _, path, ..) = row;
            if load == "not-found" && active == "inactive" {
                continue;
            }
            let enabled = match self.manager.get_unit_file_state(&name).await {
                Ok(state) => state == "enabled",
                // No unit file: nothing can be enabled.
                Err(_) => false,
            };
            let need_reload = load == "loaded" && self.need_reload(&path.as_ref()).await?;
            let state = UnitState {
                active: ActiveState::parse(&active),
                enabled,
                need_reload,
            };
            out.insert(name, state);
        }
        Ok(out)
    }

    async fn daemon_reload(&self) -> Result<(), SystemdError> {
        self.manager
            .reload()
            .await
            .map_err(call("reload", "systemd"))
    }

    async fn enable(&self, unit: &str) -> Result<(), SystemdError> {
        self.manager
            .enable_unit_files(&[unit], false, true)
            .await
            .map(drop)
            .map_err(call("enable", unit))
    }

    async fn disable(&self, unit: &str) -> Result<(), SystemdError> {
        self.manager
            .disable_unit_files(&[unit], false)
            .await
            .map(drop)
            .map_err(call("disable", unit))
    }

    async fn start(&self, unit: &str) -> Result<(), SystemdError> {
        self.job(Job::Start, unit).await
    }

    async fn restart(&self, unit: &str) -> Result<(), SystemdError> {
        self.job(Job::Restart, unit).await
    }

    async fn stop(&self, unit: &str) -> Result<(), SystemdError> {
        self.job(Job::Stop, unit).await
    }

    async fn reload(&self, unit: &str) -> Result<(), SystemdError> {
        self.job(Job::Reload, unit).await
    }

    async fn reset_failed(&self, unit: &str) -> Result<(), SystemdError> {
        match self.manager.reset_failed_unit(unit).await {
            // Not loaded yet (a unit file just written): no failure, no start-rate history.
            Err(zbus::Error::MethodError(name, _, _))
                if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" =>
            {
                Ok(())
            }
            other => other.map_err(call("reset the failed state of", unit)),
        }
    }

    async fn sysusers(&self, file: &SafePath) -> Result<(), SystemdError> {
        let failed = |detail: String| SystemdError::Sysusers {
            file: file.clone(),
            detail,
        };
        let out = Command::new("systemd-sysusers")
            .arg(file.as_str())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(failed(format!("{}: {}", out.status, stderr.trim())))
        }
    }
}
