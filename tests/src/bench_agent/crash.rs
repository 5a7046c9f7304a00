//! Crash visibility: `kill -9` of a backend's main process → the coordinator's status shows it.
//!
//! The kill is sent from this process (to the root-namespace PID of the host's process), so
//! its timestamp is exact. `GET /v1/status` (what `lgtmctl status` reads) is then polled every
//! 10 ms: the resolution is that interval plus one request. Two moments are recorded: the
//! crash visible (the unit no longer reports the killed PID as its running main process) and
//! the restart visible (NRestarts counted, a new main process active). systemd's own restart moment
//! (`ActiveEnterTimestampMonotonic` of the new process) separates the unit's `RestartSec=`
//! from the agent's share.

use std::time::Duration;

use anyhow::{Context, bail};
use lgtm_model::wire::{ClusterStatus, UnitStatus};
use lgtm_tests::lab::{Host, Lab, http, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::clock::{ms_between, now_us};
use super::procfs::root_pid;
use super::stats::Samples;
use super::unit::{num, props};

/// What the crashes measured.
#[derive(Debug, Default)]
pub struct CrashFigures {
    /// kill → status shows the crash.
    pub visible: Samples,
    /// kill → status shows the restarted process.
    pub restart_visible: Samples,
    /// kill → systemd had the new process active.
    pub restarted: Samples,
}

const POLL: Duration = Duration::from_millis(10);
const PATIENCE: Duration = Duration::from_secs(60);

fn reported(lab: &Lab, host: &str, unit: &str) -> anyhow::Result<Option<UnitStatus>> {
    let addr = lab
        .coordinator()
        .context("the coordinator is not started")?
        .addr();
    let r = http::get(addr, lgtm_model::wire::paths::STATUS)?;
    let status: ClusterStatus = serde_json::from_slice(&r.body).context("status JSON")?;
    Ok(status
        .hosts
        .into_iter()
        .find(|h| h.name.as_str() == host)
        .and_then(|h| h.units.into_iter().find(|u| u.unit == unit)))
}

/// Kills `unit`'s main process on each host `per_host` times, one at a time.
pub fn run(lab: &Lab, unit: &str, per_host: usize) -> anyhow::Result<CrashFigures> {
    let mut figures = CrashFigures::default();
    for _ in 0..per_host {
        for host in lab.hosts() {
            one(lab, host, unit, &mut figures)?;
        }
    }
    Ok(figures)
}

fn one(lab: &Lab, host: &Host, unit: &str, figures: &mut CrashFigures) -> anyhow::Result<()> {
    // Start from a settled report: the unit active and reported with its current PID.
    let what = format!("{unit} on {} reported settled", host.name());
    let before = wait_for(&what, PATIENCE, || {
        let p = props(host, unit, &["MainPID", "ActiveState"]).ok()?;
        let pid = u32::try_from(num(&p, "MainPID")).ok()?;
        let u = reported(lab, host.name(), unit).ok()??;
        (pid != 0 && u.main_pid == pid && u.active_state == "active").then_some(u)
    })?;
    // The unit's start limit (5 starts in 10 minutes) counts the agent's own starts of the
    // assignment phase too; without a reset systemd would refuse the restart measured here.
    host.run(&["systemctl", "reset-failed", unit])?;
    let target = root_pid(host, before.main_pid)?;
    let killed = now_us();
    kill(Pid::from_raw(target), Signal::SIGKILL).context("kill -9")?;
    // Not `wait_for`: it sleeps 100 ms between probes, this needs 10.
    let deadline = killed + u64::try_from(PATIENCE.as_micros()).unwrap_or(u64::MAX);
    let mut seen = None;
    let mut last = None;
    let back = loop {
        let t = now_us();
        if t > deadline {
            let systemd = props(
                host,
                unit,
                &["ActiveState", "SubState", "Result", "NRestarts", "MainPID"],
            );
            bail!(
                "timed out waiting for the restart of {unit} on {} in the status; before {before:?}, last reported {last:?}, systemd {systemd:?}",
                host.name()
            );
        }
        last = reported(lab, host.name(), unit)?;
        if let Some(u) = last.clone() {
            let t = now_us();
            if seen.is_none() && (u.main_pid != before.main_pid || u.active_state != "active") {
                seen = Some(t);
            }
            // reset-failed zeroed NRestarts: the restart is the first one counted again.
            if u.n_restarts >= 1
                && u.active_state == "active"
                && u.main_pid != before.main_pid
                && u.main_pid != 0
            {
                break t;
            }
        }
        std::thread::sleep(POLL);
    };
    let restarted = props(host, unit, &["ActiveEnterTimestampMonotonic"])?;
    figures
        .visible
        .push(ms_between(killed, seen.unwrap_or(back)));
    figures.restart_visible.push(ms_between(killed, back));
    figures.restarted.push(ms_between(
        killed,
        num(&restarted, "ActiveEnterTimestampMonotonic"),
    ));
    Ok(())
}
