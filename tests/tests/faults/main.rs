//! Fault injection against real systemd: lab hosts with agents and a coordinator, then the
//! coordinator stopped, killed under writes and starved of disk, agents killed mid-apply, a
//! host cut off the network. Each fault checks what systemd, the files on the hosts and the
//! coordinator's state say afterwards; RELIABILITY.md has the figures and how to rerun them.
//!
//! One lab (3 hosts, each backend on a single host so storage stays on the filesystem) serves
//! every lab fault in turn; the full-disk fault needs no host. Needs root and the built
//! binaries (`cargo build --workspace --bins`); skipped with a message otherwise.
#![allow(clippy::unwrap_used)]

#[path = "../e2e/support.rs"]
#[allow(dead_code)]
mod support;

mod coordinator_crash;
mod disk_full;
mod mid_apply;
mod outage;
mod partition;
mod probes;

use lgtm_tests::lab::{Lab, LabSpec};

/// host1: mimir and loki; host2: tempo; host3: an agent with no roles.
fn fault_lab() -> Option<Lab> {
    let mut lab = Lab::start_or_skip(LabSpec::hosts(3))?;
    lab.start_coordinator().unwrap();
    // The faults change settings that restart every backend, ten times in a row for the
    // mid-apply kills: a short healthy dwell keeps the rollout from setting the pace.
    support::ctl_ok(&lab, &["config", "set", "rollout.min_healthy_seconds", "1"]);
    for host in lab.hosts() {
        host.start_agent().unwrap();
    }
    for host in lab.hosts() {
        support::wait_registered(&lab, host.name());
    }
    support::assign(&lab, "host1", "mimir:all");
    support::assign(&lab, "host1", "loki:all");
    support::assign(&lab, "host2", "tempo:all");
    probes::converged(&lab);
    Some(lab)
}

#[test]
fn the_lab_survives_every_fault() {
    let Some(mut lab) = fault_lab() else { return };
    outage::backends_outlive_a_coordinator_outage(&mut lab);
    coordinator_crash::acknowledged_writes_survive_kill_9(&mut lab);
    mid_apply::an_agent_killed_mid_apply_leaves_whole_configs(&lab);
    partition::a_partitioned_host_keeps_its_roles_and_converges(&lab);
}
