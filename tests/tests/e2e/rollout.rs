//! Rollout order and `--wait`: an assignment made before the host's agent registered applies
//! once it starts; `assign-role --wait` returns when the unit is active, and fails with the
//! unit's own error when the backend cannot start.

use lgtm_model::wire::AssignResponse;

use super::support::*;

const MIMIR: &str = "lgtm-mimir.service";
const LOKI: &str = "lgtm-loki.service";

#[test]
fn roles_assigned_before_the_agent_registers_apply_when_it_starts() {
    // host1 runs an agent from the start; host2's agent starts after its roles are assigned.
    let Some(lab) = lab_with_agents(2, &[1]) else {
        return;
    };
    let out = ctl_ok(
        &lab,
        &["--output", "json", "assign-role", "host2", "mimir:all"],
    );
    let answer: AssignResponse = serde_json::from_str(&out).unwrap();
    assert!(!answer.host_registered, "{out}");
    assign(&lab, "host1", "mimir:all");
    wait_host(&lab, "host1");
    let h2 = lab.host(2);
    assert!(!exists(h2, "/etc/systemd/system/lgtm-mimir.service"));

    h2.start_agent().unwrap();
    wait_host(&lab, "host2");
    assert_eq!(show(h2, MIMIR, "ActiveState"), "active");
    assert_eq!(running_targets(h2, MIMIR), names(&["all"]));
    let status = cluster_status(&lab);
    let h = host_status(&status, "host2");
    assert!(h.address.is_some() && !h.behind, "{h:#?}");
    assert_eq!(
        reported(&h, MIMIR).map(|u| u.main_pid),
        Some(main_pid(h2, MIMIR))
    );
}

#[test]
fn assign_wait_returns_once_active_and_fails_with_the_units_error() {
    let Some(lab) = lab(1) else { return };
    let h = lab.host(1);
    assert!(!exists(h, "/etc/systemd/system/lgtm-loki.service"));
    ctl_wait_ok(&lab, &["assign-role", "host1", "loki:all"]);
    // No polling here: --wait returned, so the unit is active now.
    assert_eq!(show(h, LOKI, "ActiveState"), "active");
    let loki = main_pid(h, LOKI);
    assert_ne!(loki, 0);

    if !lab.uses_standin() {
        eprintln!("skipping the failing start: it needs the stand-in's fault injection");
        return;
    }
    // Every unit started from now on gets the stand-in's "fail at start" switch, through the
    // host's service manager environment: nothing outside the host changes.
    h.run(&["systemctl", "set-environment", "LGTM_STANDIN_FAIL_START=1"])
        .unwrap();
    let out = ctl_wait(&lab, &["assign-role", "host1", "mimir:all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(MIMIR), "{stderr}");
    assert!(
        stderr.contains("failing at start because LGTM_STANDIN_FAIL_START=1"),
        "the unit's own error: {stderr}"
    );
    assert_ne!(show(h, MIMIR, "ActiveState"), "active");
    assert_eq!(main_pid(h, LOKI), loki, "loki kept running");
}
