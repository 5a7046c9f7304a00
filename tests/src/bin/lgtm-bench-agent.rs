//! `lgtm-bench-agent`: a benchmark command, not a test. Boots three real systemd hosts with
//! agents and a coordinator, and measures assignment latency, crash visibility and the
//! agent's idle footprint; ends with one line:
//! `assign_p50_ms=.. assign_p99_ms=.. crash_visible_ms=.. agent_rss_mb=.. agent_cpu_pct=..`.
//!
//! Needs root. Use release binaries: the lab runs the agent, coordinator and `lgtmctl` found
//! next to this executable:
//! `cargo build --release --workspace --bins && target/release/lgtm-bench-agent`.
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[path = "../bench_agent/mod.rs"]
mod bench_agent;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Measure the agent in a lab: assignment → active, crash → visible, idle RSS and CPU.
#[derive(Debug, Parser)]
#[command(name = "lgtm-bench-agent")]
struct Args {
    /// Assign/unassign cycles (on hosts 1, 2, 3, 1, ...).
    #[arg(long, default_value_t = 60)]
    cycles: usize,
    /// The role cycled; it must not be stateful (unassigning it needs no --force data loss).
    #[arg(long, default_value = "mimir:querier")]
    role: String,
    /// Backend crashes (kill -9) per host.
    #[arg(long, default_value_t = 3)]
    crashes_per_host: usize,
    /// Seconds of quiet before the idle measurement.
    #[arg(long, default_value_t = 15)]
    settle_s: u64,
    /// Seconds the idle CPU time is measured over.
    #[arg(long, default_value_t = 30)]
    idle_s: u64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let options = bench_agent::Options {
        hosts: 3,
        role: a.role,
        cycles: a.cycles.max(1),
        crashes_per_host: a.crashes_per_host.max(1),
        settle: Duration::from_secs(a.settle_s),
        idle: Duration::from_secs(a.idle_s),
    };
    let f = match bench_agent::run(&options) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("lgtm-bench-agent: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let ms = |s: &bench_agent::stats::Samples, p: f64| s.percentile(p).unwrap_or(f64::NAN);
    eprintln!(
        "assign-role returned -> unit active (ms): {}",
        f.assign.assign.summary()
    );
    for line in &f.assign.phases {
        eprintln!("{line}");
    }
    eprintln!(
        "unassign-role returned -> unit file gone, 100 ms polling (ms): {}",
        f.assign.unassign.summary()
    );
    eprintln!(
        "kill -9 -> status shows the crash (ms): {}",
        f.crash.visible.summary()
    );
    eprintln!(
        "kill -9 -> systemd has the new process active (ms): {}",
        f.crash.restarted.summary()
    );
    eprintln!(
        "kill -9 -> status shows the restart (ms): {}",
        f.crash.restart_visible.summary()
    );
    eprintln!("agent peak RSS (VmHWM): {:.1} MiB", f.agent_hwm_mib);
    eprintln!(
        "resolution: assign: systemd's ActiveEnterTimestampMonotonic (1 us) against CLOCK_MONOTONIC read \
         when lgtmctl exited; crash: GET /v1/status every 10 ms; RSS in MiB (VmRSS, max over hosts); \
         CPU: utime+stime ticks (1/CLK_TCK s) of the busiest agent over the idle window"
    );
    println!(
        "assign_p50_ms={:.1} assign_p99_ms={:.1} crash_visible_ms={:.1} agent_rss_mb={:.1} agent_cpu_pct={:.2}",
        ms(&f.assign.assign, 50.0),
        ms(&f.assign.assign, 99.0),
        ms(&f.crash.visible, 50.0),
        f.agent_rss_mib,
        f.agent_cpu_pct,
    );
    ExitCode::SUCCESS
}
