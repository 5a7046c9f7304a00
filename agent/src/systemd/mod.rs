//! systemd behind a narrow trait: the unit operations the executor needs, and their errors.
//!
//! The real implementation is [`dbus::Dbus`] (zbus, system bus). Job-starting calls wait for
//! the job's `JobRemoved` signal and fail unless its result is `done`; a failure carries the
//! unit's last journal lines, so the report says why, not just that.

pub mod dbus;
mod journal;
mod proxy;

use std::collections::BTreeMap;
use std::future::Future;

pub use journal::journal_tail;

use crate::observed::UnitState;
use crate::safe_path::SafePath;

/// The systemd operations of the executor and observer.
pub trait Systemd: Sync {
    /// State of each named unit that systemd knows or has a file for.
    fn unit_states(
        &self,
        units: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, UnitState>, SystemdError>> + Send;
    /// Reloads unit files (`systemctl daemon-reload`).
    fn daemon_reload(&self) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Enables a unit file (its `[Install]` symlinks).
    fn enable(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Disables a unit file.
    fn disable(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Starts a unit and waits for the job's result.
    fn start(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Restarts a unit (starts it if stopped) and waits for the job's result.
    fn restart(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Reloads a running unit (its `ExecReload=`) and waits for the job's result.
    fn reload(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Stops a unit and waits for the job's result.
    fn stop(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Clears a unit's failed state and start rate limit.
    fn reset_failed(&self, unit: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;
    /// Applies one sysusers.d file (`systemd-sysusers FILE`).
    fn sysusers(&self, file: &SafePath) -> impl Future<Output = Result<(), SystemdError>> + Send;
}

/// Why a systemd operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("failed to connect to the system bus")]
    Connect(#[source] Box<zbus::Error>),
    #[error("failed to {verb} {unit}")]
    Call {
        verb: &'static str,
        unit: String,
        #[source]
        source: Box<zbus::Error>,
    },
    #[error("failed to {verb} {unit}: job result '{result}'{journal}")]
    Job {
        verb: &'static str,
        unit: String,
        result: String,
        journal: String,
    },
    #[error("failed to {verb} {unit}: systemd refused: {reason}{journal}")]
    Refused {
        verb: &'static str,
        unit: String,
        reason: String,
        journal: String,
    },
    #[error("failed to {verb} {unit}: no job result within {minutes} minutes")]
    JobTimeout {
        verb: &'static str,
        unit: String,
        minutes: u64,
    },
    #[error("failed to {verb} {unit}: the bus connection closed before the job finished")]
    JobLost { verb: &'static str, unit: String },
    #[error("failed to apply sysusers file {file}: {detail}")]
    Sysusers { file: SafePath, detail: String },
}
