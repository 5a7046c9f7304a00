//! The lab's coordinator: the workspace's `lgtm-coordinator`, run in the root namespace on the
//! bridge's gateway address, with a state directory that survives its restarts.

use std::fs::{File, OpenOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::binaries;
use super::error::LabError;
use super::host::tail;
use super::http;
use super::process::{guarded, signal, wait_for};

/// A coordinator process the lab owns.
#[derive(Debug)]
pub struct Coordinator {
    listen: SocketAddr,
    state_dir: PathBuf,
    log: PathBuf,
    child: Mutex<Option<Child>>,
}

impl Coordinator {
    pub(crate) fn new(listen: SocketAddr, state_dir: PathBuf, log: PathBuf) -> Coordinator {
        Coordinator {
            listen,
            state_dir,
            log,
            child: Mutex::new(None),
        }
    }

    /// `https://198.18.X.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.listen)
    }

    /// Its CA certificate (written at its first start).
    pub fn ca_file(&self) -> PathBuf {
        self.state_dir.join("tls/ca.pem")
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listen
    }

    /// Its state directory (kept across restarts).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Its stderr log (all runs, appended).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        let mut guard = self.child();
        match guard.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The admin token file it writes at its first start.
    pub fn admin_token_file(&self) -> PathBuf {
        self.state_dir.join("credentials/admin.token")
    }

    /// Starts it (no-op when running) and waits until `/healthz` answers 200.
    pub fn start(&self) -> Result<(), LabError> {
        let bin = binaries::find("lgtm-coordinator")?;
        http::coordinator_at(self.listen, self.state_dir.clone());
        {
            let mut guard = self.child();
            if let Some(c) = guard.as_mut()
                && matches!(c.try_wait(), Ok(None))
            {
                return Ok(());
            }
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(LabError::io(format!("open {}", self.log.display())))?;
            let log_err: File = log.try_clone().map_err(LabError::io("duplicate the log"))?;
            let mut cmd = guarded(&[
                bin.as_os_str(),
                "--listen".as_ref(),
                self.listen.to_string().as_ref(),
                "--state-dir".as_ref(),
                self.state_dir.as_os_str(),
            ]);
            if let Some(filter) = std::env::var_os("RUST_LOG") {
                cmd.env("RUST_LOG", filter);
            }
            cmd.stdout(Stdio::from(log)).stderr(Stdio::from(log_err));
            *guard = Some(
                cmd.spawn()
                    .map_err(LabError::io("start lgtm-coordinator"))?,
            );
        }
        let healthz = lgtm_model::wire::paths::HEALTHZ;
        let res = wait_for(
            "lgtm-coordinator to answer /healthz",
            Duration::from_secs(30),
            || {
                if !self.is_running() {
                    return Some(false);
                }
                http::get(self.listen, healthz)
                    .ok()
                    .filter(|r| r.status == 200)
                    .map(|_| true)
            },
        );
        match res {
            Ok(true) => Ok(()),
            Ok(false) => Err(LabError::Unavailable(format!(
                "lgtm-coordinator exited at start; log: {}",
                self.log_tail()
            ))),
            Err(LabError::Timeout { what, detail }) => Err(LabError::Timeout {
                what,
                detail: format!("{detail}; log: {}", self.log_tail()),
            }),
            Err(e) => Err(e),
        }
    }

    /// Stops it with SIGTERM (SIGKILL after 10 s) and waits for it.
    pub fn stop(&self) {
        self.end(Signal::SIGTERM, Duration::from_secs(10));
    }

    /// Kills it with SIGKILL, as a crash.
    pub fn kill9(&self) {
        self.end(Signal::SIGKILL, Duration::from_secs(5));
    }

    fn end(&self, sig: Signal, grace: Duration) {
        let mut guard = self.child();
        let Some(child) = guard.as_mut() else { return };
        signal(child.id() as i32, sig);
        let exited = wait_for("lgtm-coordinator to exit", grace, || {
            matches!(child.try_wait(), Ok(Some(_))).then_some(())
        });
        if exited.is_err() {
            let _ = child.kill();
        }
        let _ = child.wait();
        *guard = None;
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.stop();
    }
}
