//! A crashed backend is systemd's to restart; the agent only reports it.

use lgtm_tests::lab::{Host, Lab, http};

use super::support::*;

const MIMIR: &str = "lgtm-mimir.service";
const LOKI: &str = "lgtm-loki.service";

/// Waits until systemd restarted `unit` after its process `old` died; returns the new PID.
fn wait_restarted(host: &Host, unit: &str, old: u32, restarts: u32) -> u32 {
    until(&format!("systemd to restart {unit}"), || {
        let pid = main_pid(host, unit);
        let ok = pid != 0
            && pid != old
            && n_restarts(host, unit) > restarts
            && show(host, unit, "ActiveState") == "active";
        ok.then_some(pid)
    })
}

/// Waits until `lgtmctl status` shows `unit` on `host` restarted, running `pid`.
fn wait_reported_restart(lab: &Lab, host: &str, unit: &str, pid: u32) {
    until_status(lab, &format!("the restart of {unit} to be reported"), |s| {
        let h = host_status(s, host);
        reported(&h, unit)
            .is_some_and(|u| u.n_restarts > 0 && u.main_pid == pid && u.active_state == "active")
    });
}

#[test]
fn a_killed_backend_is_restarted_by_systemd_and_reported() {
    let Some(lab) = lab(1) else { return };
    let h = lab.host(1);
    assign(&lab, "host1", "mimir:all");
    assign(&lab, "host1", "loki:all");
    wait_host(&lab, "host1");
    let loki_pid = main_pid(h, LOKI);

    // kill -9 inside the host.
    let old = main_pid(h, MIMIR);
    assert_eq!(n_restarts(h, MIMIR), 0);
    h.run(&["kill", "-9", &old.to_string()]).unwrap();
    let new = wait_restarted(h, MIMIR, old, 0);
    assert_eq!(n_restarts(h, MIMIR), 1);
    assert!(
        !exists(h, &format!("/proc/{old}")),
        "the killed process is gone"
    );
    wait_reported_restart(&lab, "host1", MIMIR, new);
    assert_eq!(main_pid(h, LOKI), loki_pid, "loki is untouched");
    // The agent counts what it did, on its local metrics port.
    let metrics = h
        .run(&["curl", "-fsS", "http://127.0.0.1:7701/metrics"])
        .unwrap();
    let value = |name: &str| -> u64 {
        let line = metrics.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in:\n{metrics}"))
    };
    assert!(
        value("lgtm_agent_actions_total{result=\"ok\"}") > 0,
        "{metrics}"
    );
    assert!(value("lgtm_agent_reports_total") > 0, "{metrics}");
    assert!(
        value("lgtm_agent_unit_changes_total") > 0,
        "the restart was seen: {metrics}"
    );
    assert!(value("lgtm_agent_applied_index") > 0, "{metrics}");

    // A crash the backend reports itself (exit status 2, as a Go panic), stand-in only.
    if lab.uses_standin() {
        // The process exits before answering: no response is the expected outcome.
        let _ = http::post(h.addr(3100), "/standin/crash", b"");
        let new_loki = wait_restarted(h, LOKI, loki_pid, 0);
        wait_reported_restart(&lab, "host1", LOKI, new_loki);
        until("loki to be ready again", || ready(h, 3100));
    }
    assert_eq!(
        main_pid(h, MIMIR),
        new,
        "mimir is untouched by loki's crash"
    );
}

/// The agent's own starts and restarts must not use up the unit's start limit
/// (`StartLimitBurst=5` in `StartLimitIntervalSec=10min`): after a few settings changes, a
/// crash is still restarted by systemd.
#[test]
fn a_crash_after_a_few_settings_changes_is_still_restarted() {
    let Some(lab) = lab(1) else { return };
    let h = lab.host(1);
    assign(&lab, "host1", "mimir:all");
    wait_host(&lab, "host1");
    // Four changes of mimir's config: four restarts by the agent, five starts in all.
    for level in ["debug", "warn", "info", "debug"] {
        let old = main_pid(h, MIMIR);
        ctl_ok(&lab, &["config", "set", "mimir.log_level", level]);
        wait_host(&lab, "host1");
        until("the agent to restart mimir", || {
            let pid = main_pid(h, MIMIR);
            (pid != 0 && pid != old && show(h, MIMIR, "ActiveState") == "active").then_some(())
        });
    }
    assert_eq!(n_restarts(h, MIMIR), 0, "no crash yet");

    let old = main_pid(h, MIMIR);
    h.run(&["kill", "-9", &old.to_string()]).unwrap();
    let outcome = until("systemd to restart mimir or give up", || {
        let pid = main_pid(h, MIMIR);
        match show(h, MIMIR, "ActiveState").as_str() {
            "active" if pid != 0 && pid != old => Some(Ok(pid)),
            "failed" => Some(Err(h.journal(MIMIR, 5).unwrap_or_default())),
            _ => None,
        }
    });
    if let Err(journal) = outcome {
        panic!("systemd did not restart the crashed process:\n{journal}");
    }
    assert_eq!(n_restarts(h, MIMIR), 1);
}
