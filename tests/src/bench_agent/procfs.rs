//! Host processes seen from the root namespace: the PID behind a host's PID, read from
//! `/proc` without spawning anything inside the host (their memory and CPU time:
//! [`lgtm_tests::procfs`]).

use std::fs;

use anyhow::{Context, bail};
use lgtm_tests::lab::Host;

/// The root-namespace PID of the process `ns_pid` inside `host`.
pub fn root_pid(host: &Host, ns_pid: u32) -> anyhow::Result<i32> {
    let ns = fs::read_link(format!("/proc/{}/ns/pid", host.pid()))
        .with_context(|| format!("failed to read {}'s pid namespace", host.name()))?;
    for entry in fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if fs::read_link(entry.path().join("ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let inner = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|p| p.parse::<u32>().ok());
        if inner == Some(ns_pid) {
            return Ok(pid);
        }
    }
    bail!("no process {ns_pid} in {}", host.name())
}
