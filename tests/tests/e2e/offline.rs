//! Offline autonomy: with the coordinator down, backends keep running and an agent restart
//! touches none of them; when the coordinator is back, agents reconnect and changes apply.

use lgtm_tests::lab::Host;

use super::support::*;

const MIMIR: &str = "lgtm-mimir.service";
const LOKI: &str = "lgtm-loki.service";
const AGENT: &str = "lgtm-agent.service";

/// How many journal lines of the agent process `pid` contain `text`.
fn agent_said(host: &Host, pid: &str, text: &str) -> usize {
    let by = format!("_PID={pid}");
    let out = host
        .run(&["journalctl", "--no-pager", "-o", "cat", "-u", AGENT, &by])
        .unwrap();
    out.lines().filter(|l| l.contains(text)).count()
}

/// Waits until the agent on `host` logged a failed attempt to reach the coordinator after
/// `seen` earlier ones: it ran into the outage rather than sleeping through it.
fn wait_agent_noticed_outage(host: &Host, seen: usize) {
    let pid = show(host, AGENT, "MainPID");
    until(
        &format!("{}'s agent to notice the coordinator is gone", host.name()),
        || {
            let n = agent_said(host, &pid, "Failed to fetch the desired state")
                + agent_said(host, &pid, "Failed to register");
            (n > seen).then_some(())
        },
    );
}

/// Backend PIDs and NRestarts, per host.
fn processes(lab: &lgtm_tests::lab::Lab) -> Vec<(u32, u32)> {
    lab.hosts()
        .iter()
        .map(|h| (main_pid(h, MIMIR), n_restarts(h, MIMIR)))
        .collect()
}

#[test]
fn backends_outlive_the_coordinator_and_agent_restarts() {
    let Some(mut lab) = lab(3) else { return };
    for host in lab.hosts() {
        assign(&lab, host.name(), "mimir:all");
    }
    for host in lab.hosts() {
        wait_host(&lab, host.name());
    }
    let before = processes(&lab);
    for host in lab.hosts() {
        until("mimir to be ready", || ready(host, 8080));
    }

    // Coordinator down: every agent notices, nothing stops.
    let seen: Vec<usize> = lab
        .hosts()
        .iter()
        .map(|h| {
            let pid = show(h, AGENT, "MainPID");
            agent_said(h, &pid, "Failed to fetch the desired state")
                + agent_said(h, &pid, "Failed to register")
        })
        .collect();
    lab.coordinator().unwrap().stop();
    for (host, seen) in lab.hosts().iter().zip(seen) {
        wait_agent_noticed_outage(host, seen);
    }
    assert_eq!(processes(&lab), before);
    for host in lab.hosts() {
        assert!(
            ready(host, 8080).is_some(),
            "{}: /ready from the root namespace",
            host.name()
        );
    }

    // Agent restarts while the coordinator is down: each applies its saved state, and every
    // backend keeps its process.
    for host in lab.hosts() {
        let old = show(host, AGENT, "MainPID");
        host.run(&["systemctl", "restart", AGENT]).unwrap();
        assert_eq!(show(host, AGENT, "ActiveState"), "active");
        let pid = show(host, AGENT, "MainPID");
        assert_ne!(pid, old);
        until("the restarted agent to apply its saved state", || {
            (agent_said(host, &pid, "Applied desired state index") > 0).then_some(())
        });
        wait_agent_noticed_outage(host, 0);
    }
    assert_eq!(
        processes(&lab),
        before,
        "an agent restart restarted a backend"
    );
    for host in lab.hosts() {
        assert!(ready(host, 8080).is_some(), "{}", host.name());
        assert!(
            exists(host, "/etc/lgtm/mimir/mimir.yaml"),
            "{}",
            host.name()
        );
    }

    // Coordinator back: every agent reconnects and reports, none is behind.
    lab.start_coordinator().unwrap();
    until_status(&lab, "every agent to report again", |s| {
        s.hosts.iter().all(|h| {
            h.liveness == lgtm_model::wire::Liveness::Alive
                && !h.behind
                && h.applied_index == Some(h.desired_index)
        }) && s.hosts.len() == 3
    });
    assert_eq!(processes(&lab), before);

    // And a new assignment still applies.
    ctl_wait_ok(&lab, &["assign-role", "host2", "loki:all"]);
    let h2 = lab.host(2);
    assert_eq!(show(h2, LOKI, "ActiveState"), "active");
    until("loki on host2 to be ready", || ready(h2, 3100));
    assert_eq!(processes(&lab), before, "loki's arrival restarted a mimir");
}
