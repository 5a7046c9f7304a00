//! A process's memory and CPU time, read from `/proc`.

use std::fs;

use anyhow::Context;

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in MiB.
pub fn status_mib(pid: i32, field: &str) -> anyhow::Result<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("failed to read /proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kb / 1024.0)
}

/// utime + stime of `pid`, in clock ticks.
pub fn cpu_ticks(pid: i32) -> anyhow::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("failed to read /proc/{pid}/stat"))?;
    cpu_ticks_of(&stat).with_context(|| format!("bad /proc/{pid}/stat: {stat}"))
}

/// utime (field 14) + stime (field 15) of a `/proc/PID/stat` line; the comm may hold spaces.
fn cpu_ticks_of(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clk_tck() -> anyhow::Result<f64> {
    let v = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?
        .context("CLK_TCK is not defined")?;
    Ok(v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_skip_the_comm() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 1 0 0 0 7 5 0 0 20 0 1 0 777 0";
        assert_eq!(cpu_ticks_of(stat), Some(12));
        assert_eq!(cpu_ticks_of("garbage"), None);
    }

    #[test]
    fn this_process_has_memory_and_ticks() {
        let me = std::process::id() as i32;
        assert!(status_mib(me, "VmRSS").unwrap() > 0.0);
        assert!(cpu_ticks(me).is_ok());
        assert!(clk_tck().unwrap() >= 1.0);
    }
}
