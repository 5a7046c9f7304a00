//! `lgtm-bench-agent`: the agent's latency and footprint in a lab of real systemd hosts.
//!
//! Phases, each in the same three-host lab with a coordinator and an agent per host:
//! 1. assignment latency: assign/unassign cycles of one role over the hosts ([`assign`]);
//! 2. idle footprint: the agent's RSS (VmRSS, VmHWM) and CPU time (utime + stime) while every
//!    host runs the role and nothing changes;
//! 3. crash visibility: `kill -9` of the backend → the coordinator's status ([`crash`]).
//!
//! Every timestamp is CLOCK_MONOTONIC ([`clock`]), shared with systemd and journald inside
//! the hosts, so systemd's own transition times are the end points where possible.

pub mod assign;
pub mod clock;
pub mod crash;
pub mod procfs;
pub mod stats;
pub mod unit;

use std::time::Duration;

use anyhow::Context;
use lgtm_model::process::ProcessId;
use lgtm_tests::lab::{Lab, LabSpec, binaries, wait_for};

use unit::props;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Hosts in the lab.
    pub hosts: usize,
    /// The role cycled (a role of a backend whose process it shares: `mimir:querier`).
    pub role: String,
    /// Assign/unassign cycles.
    pub cycles: usize,
    /// Crashes per host.
    pub crashes_per_host: usize,
    /// Quiet time before the idle measurement.
    pub settle: Duration,
    /// Length of the idle CPU measurement.
    pub idle: Duration,
}

/// Everything measured.
#[derive(Debug)]
pub struct Figures {
    /// Assignment cycles.
    pub assign: assign::AssignFigures,
    /// Crashes.
    pub crash: crash::CrashFigures,
    /// Largest VmRSS of an idle agent, MiB.
    pub agent_rss_mib: f64,
    /// Largest VmHWM (peak RSS) of an agent, MiB.
    pub agent_hwm_mib: f64,
    /// Largest idle CPU share of one agent, percent of one core.
    pub agent_cpu_pct: f64,
}

/// Boots the lab and runs every phase.
pub fn run(o: &Options) -> anyhow::Result<Figures> {
    let agent = binaries::find("lgtm-agent")?;
    eprintln!("agent binary: {}", agent.display());
    if !agent.to_string_lossy().contains("/release/") {
        eprintln!("warning: not a release build; run target/release/lgtm-bench-agent for figures");
    }
    let role: lgtm_model::Role = o.role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    let mut lab = Lab::start(LabSpec::hosts(o.hosts)).context("failed to start the lab")?;
    lab.start_coordinator()?;
    // Phase 2 puts the role on every host: filesystem storage is for one host only.
    if o.hosts > 1 {
        lab.start_s3()?;
        lab.use_s3(role.backend())?;
    }
    for host in lab.hosts() {
        host.start_agent()?;
    }
    for host in lab.hosts() {
        let what = format!("{} to register", host.name());
        wait_for(&what, Duration::from_secs(60), || {
            let out = lab
                .lgtmctl(&["--output", "json", "host", "show", host.name()])
                .ok()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
            v["address"].is_string().then_some(())
        })?;
    }
    let unit = ProcessId::for_role(role).unit_name();

    eprintln!(
        "phase 1: {} assign/unassign cycles of {} ...",
        o.cycles, o.role
    );
    let assign = assign::run(&lab, &o.role, &unit, o.cycles)?;

    for host in lab.hosts() {
        let out = lab.lgtmctl(&["assign-role", "--wait", host.name(), &o.role])?;
        anyhow::ensure!(
            out.status.success(),
            "assign-role --wait: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!(
        "phase 2: agents idle ({:?} settle, {:?} measured) ...",
        o.settle, o.idle
    );
    let (agent_rss_mib, agent_hwm_mib, agent_cpu_pct) = idle(&lab, o)?;

    eprintln!("phase 3: {} crashes per host ...", o.crashes_per_host);
    let crash = crash::run(&lab, &unit, o.crashes_per_host)?;
    Ok(Figures {
        assign,
        crash,
        agent_rss_mib,
        agent_hwm_mib,
        agent_cpu_pct,
    })
}

/// (max VmRSS, max VmHWM, max CPU %) over the hosts' agents, while nothing changes.
fn idle(lab: &Lab, o: &Options) -> anyhow::Result<(f64, f64, f64)> {
    std::thread::sleep(o.settle);
    let mut pids = Vec::new();
    for host in lab.hosts() {
        let p = props(host, "lgtm-agent.service", &["MainPID"])?;
        let ns_pid: u32 = p
            .get("MainPID")
            .and_then(|v| v.parse().ok())
            .context("agent MainPID")?;
        pids.push((host.name().to_owned(), procfs::root_pid(host, ns_pid)?));
    }
    let start: Vec<u64> = pids
        .iter()
        .map(|(_, p)| lgtm_tests::procfs::cpu_ticks(*p))
        .collect::<Result<_, _>>()?;
    let began = clock::now_us();
    std::thread::sleep(o.idle);
    let secs = clock::ms_between(began, clock::now_us()) / 1000.0;
    let tck = lgtm_tests::procfs::clk_tck()?;
    let (mut rss, mut hwm, mut cpu) = (0.0_f64, 0.0_f64, 0.0_f64);
    for ((name, pid), t0) in pids.iter().zip(start) {
        let ticks = lgtm_tests::procfs::cpu_ticks(*pid)?.saturating_sub(t0);
        let pct = ticks as f64 / tck / secs * 100.0;
        let r = lgtm_tests::procfs::status_mib(*pid, "VmRSS")?;
        let h = lgtm_tests::procfs::status_mib(*pid, "VmHWM")?;
        eprintln!(
            "  {name}: agent VmRSS {r:.1} MiB, VmHWM {h:.1} MiB, CPU {pct:.2}% ({ticks} ticks in {secs:.1} s)"
        );
        rss = rss.max(r);
        hwm = hwm.max(h);
        cpu = cpu.max(pct);
    }
    Ok((rss, hwm, cpu))
}
