//! Running commands from argv (never a shell string) and signalling the processes the lab owns.
//!
//! Long-lived children are wrapped in `setpriv --pdeathsig KILL`, so they die with the test
//! process even when it is killed and no `Drop` runs.

use std::ffi::OsStr;
use std::fs;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::error::LabError;

/// PATH given to everything the lab runs, inside hosts and out.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A command from argv with a clean, predictable environment.
pub fn command<S: AsRef<OsStr>>(argv: &[S]) -> Command {
    let mut cmd = Command::new(argv[0].as_ref());
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", PATH)
        .env("LANG", "C.UTF-8")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .stdin(Stdio::null());
    cmd
}

/// A long-lived command that receives SIGKILL when the test process dies.
pub fn guarded<S: AsRef<OsStr>>(argv: &[S]) -> Command {
    let mut full: Vec<&OsStr> = vec![
        OsStr::new("setpriv"),
        OsStr::new("--pdeathsig"),
        OsStr::new("KILL"),
    ];
    full.extend(argv.iter().map(AsRef::as_ref));
    command(&full)
}

fn display<S: AsRef<OsStr>>(argv: &[S]) -> Vec<String> {
    argv.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect()
}

/// Runs argv and returns its output whatever the exit status.
pub fn output<S: AsRef<OsStr>>(argv: &[S]) -> Result<Output, LabError> {
    command(argv)
        .output()
        .map_err(LabError::io(format!("start `{}`", display(argv).join(" "))))
}

/// Runs argv and fails unless it exits 0.
pub fn run<S: AsRef<OsStr>>(argv: &[S]) -> Result<Output, LabError> {
    let out = output(argv)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LabError::command(&display(argv), &out))
    }
}

/// Whether `pid` names a live (not zombie) process.
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_field(&stat, 3).is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The start time of `pid` in clock ticks since boot: with the pid, it names one process.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_field(&stat, 22)?.parse().ok()
}

/// Field `n` (1-based, as in proc(5)) of a `/proc/PID/stat` line; the comm may hold spaces.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(n.checked_sub(3)?)
}

/// The direct children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `signal` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: i32, signal: Signal) {
    let _ = kill(Pid::from_raw(pid), signal);
}

/// Polls `probe` until it yields a value or `timeout` passes.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, LabError> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(LabError::Timeout {
                what: what.to_owned(),
                detail: format!(" (after {timeout:?})"),
            });
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_spaces_in_comm() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 0";
        assert_eq!(stat_field(stat, 3), Some("S"));
        assert_eq!(stat_field(stat, 4), Some("1"));
        assert_eq!(stat_field(stat, 22), Some("777"));
        assert_eq!(stat_field(stat, 2), None);
    }

    #[test]
    fn this_process_is_alive_and_has_a_start_time() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(start_time(me).is_some());
        assert!(!alive(i32::MAX));
    }
}
