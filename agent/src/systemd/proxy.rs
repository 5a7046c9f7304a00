//! zbus proxies of the systemd manager methods and signals the agent uses (see
//! org.freedesktop.systemd1(5)); nothing else of the large interface is declared.

use zbus::proxy;
use zbus::zvariant::{ObjectPath, OwnedObjectPath};

/// One row of `ListUnits*`: name, description, load, active, sub, following, path, job id,
/// job type, job path.
pub type UnitRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// `org.freedesktop.systemd1.Manager`.
#[proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
pub trait Manager {
    /// Asks systemd to emit signals to this connection.
    fn subscribe(&self) -> zbus::Result<()>;
    /// daemon-reload.
    fn reload(&self) -> zbus::Result<()>;
    /// Queues a start job.
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Queues a stop job.
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Queues a restart job.
    fn restart_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Queues a reload job (the unit's `ExecReload=`).
    fn reload_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;
    /// Clears the failed state and the start rate limit.
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;
    /// Creates the `[Install]` symlinks.
    fn enable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Vec<(String, String, String)>)>;
    /// Removes the `[Install]` symlinks.
    fn disable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
    ) -> zbus::Result<Vec<(String, String, String)>>;
    /// `enabled`, `disabled`, `static`, ...
    fn get_unit_file_state(&self, file: &str) -> zbus::Result<String>;
    /// Units by name, loaded on demand (`not-found` when there is no file).
    fn list_units_by_names(&self, names: &[&str]) -> zbus::Result<Vec<UnitRow>>;
    /// Loaded units matching glob patterns.
    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<UnitRow>>;
    /// A job finished with `result`: done, canceled, timeout, failed, dependency, skipped.
    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}
