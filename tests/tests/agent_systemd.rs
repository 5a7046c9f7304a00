//! The agent against real systemd (252) in lab hosts: a role assignment becomes a running,
//! enabled, hardened unit; changes restart only what changed; agent restarts and a lost
//! coordinator touch nothing; failures come back with the unit's journal lines; removing a
//! role stops, disables and deletes what it no longer needs; a lost bus connection restarts the
//! agent, never a backend.
//!
//! Each test drives the coordinator's HTTP API (the contract in `lgtm_model::wire`) and
//! checks both what the coordinator hears and what systemd inside the host says.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lgtm_model::wire::{ClusterStatus, HostStatus, UnitStatus};
use lgtm_tests::lab::{Host, Lab, LabSpec, http, wait_for};
use serde_json::Value;

/// Generous: a 2-core machine may run other builds meanwhile; nothing here measures time.
const PATIENCE: Duration = Duration::from_secs(90);

fn api(lab: &Lab, method: &str, path: &str, body: &str) -> http::Response {
    let addr = lab
        .coordinator()
        .expect("the coordinator is started")
        .addr();
    let headers: &[(&str, &str)] = &[("content-type", "application/json")];
    http::request(method, addr, path, headers, body.as_bytes()).unwrap()
}

fn assign(lab: &Lab, host: &str, role: &str) -> u64 {
    let r = api(
        lab,
        "POST",
        &format!("/v1/hosts/{host}/roles"),
        &format!(r#"{{"role":"{role}"}}"#),
    );
    assert!(
        r.status < 300,
        "assign {role} to {host}: {} {}",
        r.status,
        r.text()
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["index"].as_u64().unwrap()
}

fn unassign(lab: &Lab, host: &str, role: &str) -> u64 {
    let r = api(
        lab,
        "DELETE",
        &format!("/v1/hosts/{host}/roles/{role}?force=true"),
        "",
    );
    assert!(
        r.status < 300,
        "unassign {role} from {host}: {} {}",
        r.status,
        r.text()
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["index"].as_u64().unwrap()
}

fn host_status(lab: &Lab, host: &str) -> HostStatus {
    let r = api(lab, "GET", "/v1/status", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let status: ClusterStatus = serde_json::from_slice(&r.body).unwrap();
    status
        .hosts
        .into_iter()
        .find(|h| h.name.as_str() == host)
        .unwrap_or_else(|| panic!("{host} is not in the status"))
}

fn unit<'a>(h: &'a HostStatus, name: &str) -> Option<&'a UnitStatus> {
    h.units.iter().find(|u| u.unit == name)
}

/// One line per unit and failed action, for failure messages.
fn summary(h: &HostStatus) -> String {
    let mut out = format!(
        "applied {:?} of desired {}; roles {:?}",
        h.applied_index, h.desired_index, h.roles
    );
    for u in &h.units {
        out.push_str(&format!(
            "\n  {} {}/{} restarts={} ready={:?} error={:?}",
            u.unit, u.active_state, u.sub_state, u.n_restarts, u.ready, u.error
        ));
    }
    for a in &h.failed_actions {
        out.push_str(&format!("\n  failed: {} {:?}", a.action, a.error));
    }
    out
}

/// Waits until `check` holds for `host`'s reported status; returns that status.
fn wait_reported(
    lab: &Lab,
    host: &str,
    what: &str,
    check: impl Fn(&HostStatus) -> bool,
) -> HostStatus {
    let mut last = String::new();
    wait_for(what, PATIENCE, || {
        let h = host_status(lab, host);
        last = summary(&h);
        check(&h).then_some(h)
    })
    .unwrap_or_else(|e| panic!("{e}; last status: {last}"))
}

/// Waits until the agent applied `index` and `unit` is active and ready.
fn wait_running(lab: &Lab, host: &str, index: u64, name: &str) -> HostStatus {
    wait_reported(
        lab,
        host,
        &format!("{name} running at index {index}"),
        |h| {
            h.applied_index >= Some(index)
                && unit(h, name)
                    .is_some_and(|u| u.active_state == "active" && u.ready == Some(true))
        },
    )
}

fn show(host: &Host, unit: &str, property: &str) -> String {
    host.run(&["systemctl", "show", "--value", "-p", property, unit])
        .unwrap()
        .trim()
        .to_owned()
}

fn sh(host: &Host, argv: &[&str]) -> String {
    host.run(argv).unwrap().trim().to_owned()
}

/// `systemctl is-active` (which exits non-zero for anything but active).
fn is_active(host: &Host, unit: &str) -> String {
    let out = host.exec(&["systemctl", "is-active", unit]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The agent's journal entries (JSON) that carry `metric`, written by agent process `pid`.
fn agent_events(host: &Host, metric: &str, pid: &str) -> Vec<Value> {
    let field = format!("F_METRIC={metric}");
    let by = format!("_PID={pid}");
    let out = host
        .run(&[
            "journalctl",
            "--no-pager",
            "-o",
            "json",
            "-u",
            "lgtm-agent.service",
            &field,
            &by,
        ])
        .unwrap();
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn field<'a>(event: &'a Value, name: &str) -> &'a str {
    event[name].as_str().unwrap_or("")
}

/// A one-host lab with a coordinator and a registered agent; `agent_toml` is written to
/// `/etc/lgtm/agent.toml` first (flags from the lab's unit win over it).
fn start_lab(agent_toml: Option<&str>) -> Option<Lab> {
    let mut lab = Lab::start_or_skip(LabSpec::hosts(1))?;
    if let Some(text) = agent_toml {
        lab.host(1)
            .write_file("/etc/lgtm/agent.toml", text.as_bytes(), 0o644)
            .unwrap();
    }
    // As the packaged unit will: systemd kills an agent that stops pinging.
    let watchdog = b"[Service]\nWatchdogSec=5s\n";
    let dropin = "/etc/systemd/system/lgtm-agent.service.d/watchdog.conf";
    lab.host(1).write_file(dropin, watchdog, 0o644).unwrap();
    lab.start_coordinator().unwrap();
    lab.host(1).start_agent().unwrap();
    wait_for("host1 to register", PATIENCE, || {
        let r = api(&lab, "GET", "/v1/hosts/host1", "");
        let v: Value = serde_json::from_slice(&r.body).ok()?;
        (r.status == 200 && v["address"].is_string()).then_some(())
    })
    .unwrap();
    Some(lab)
}

#[test]
fn roles_become_enabled_hardened_units_and_go_away_again() {
    let Some(lab) = start_lab(None) else { return };
    let h = lab.host(1);
    const MIMIR: &str = "lgtm-mimir.service";

    // Assign: the agent writes the files, starts the unit (Type=notify: the start job ends at
    // READY=1) and reports it ready.
    let index = assign(&lab, "host1", "mimir:all");
    wait_running(&lab, "host1", index, MIMIR);
    assert_eq!(sh(h, &["systemctl", "is-enabled", MIMIR]), "enabled");
    assert_eq!(
        sh(h, &["stat", "-c", "%a %U %G", "/etc/lgtm/mimir/mimir.yaml"]),
        "640 root mimir",
        "configs can hold secrets"
    );
    assert_eq!(sh(h, &["id", "-u", "-n", "mimir"]), "mimir");
    let verify = h
        .exec(&[
            "systemd-analyze",
            "verify",
            "/etc/systemd/system/lgtm-mimir.service",
        ])
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        verify.status.success() && !said.contains("Unknown"),
        "systemd-analyze verify: {said}"
    );
    assert_eq!(show(h, MIMIR, "User"), "mimir");
    assert_eq!(show(h, MIMIR, "NoNewPrivileges"), "yes");
    assert_eq!(show(h, MIMIR, "ProtectSystem"), "strict");
    assert_eq!(show(h, MIMIR, "Type"), "notify");
    let pid = show(h, MIMIR, "MainPID");
    assert_ne!(pid, "0");

    // The agent is a Type=notify service that says what it did and pings its watchdog.
    let status = show(h, "lgtm-agent.service", "StatusText");
    assert!(
        status.starts_with(&format!("applied desired state index {index}")),
        "{status}"
    );
    let ping = show(h, "lgtm-agent.service", "WatchdogTimestampMonotonic");
    wait_for("a watchdog ping", PATIENCE, || {
        (show(h, "lgtm-agent.service", "WatchdogTimestampMonotonic") != ping).then_some(())
    })
    .unwrap();
    assert_eq!(show(h, "lgtm-agent.service", "NRestarts"), "0");

    // An agent restart, even without the coordinator, touches nothing: the saved state is
    // applied and the plan is empty.
    let coordinator = lab.coordinator().unwrap();
    coordinator.stop();
    h.run(&["systemctl", "restart", "lgtm-agent.service"])
        .unwrap();
    let agent = show(h, "lgtm-agent.service", "MainPID");
    let applied = wait_for(
        "the restarted agent to apply its saved state",
        PATIENCE,
        || agent_events(h, "lgtm_agent_reconciles_total", &agent).pop(),
    )
    .unwrap();
    assert_eq!(field(&applied, "F_INDEX"), index.to_string());
    assert_eq!(field(&applied, "F_ACTIONS"), "0", "{applied}");
    assert_eq!(
        show(h, MIMIR, "MainPID"),
        pid,
        "an agent restart must not restart a backend"
    );
    assert_eq!(show(h, MIMIR, "NRestarts"), "0");

    // Stopping the agent stops nothing either.
    h.run(&["systemctl", "stop", "lgtm-agent.service"]).unwrap();
    assert_eq!(is_active(h, MIMIR), "active");
    assert_eq!(show(h, MIMIR, "MainPID"), pid);
    coordinator.start().unwrap();
    h.run(&["systemctl", "start", "lgtm-agent.service"])
        .unwrap();

    // A change of roles changes the unit (-target) and the config: one restart.
    let index = assign(&lab, "host1", "mimir:alertmanager");
    wait_running(&lab, "host1", index, MIMIR);
    let restarted = show(h, MIMIR, "MainPID");
    assert_ne!(restarted, pid, "a changed unit restarts its process");
    let unit_file = String::from_utf8(
        h.read_file("/etc/systemd/system/lgtm-mimir.service")
            .unwrap(),
    )
    .unwrap();
    assert!(
        unit_file.contains("-target=alertmanager,all\n"),
        "{unit_file}"
    );
    // The restart went through systemd's job and succeeded (a transient failure of the lab's
    // nested cgroups would be retried by the agent; the success must come).
    let agent = show(h, "lgtm-agent.service", "MainPID");
    wait_for("a successful restart action", PATIENCE, || {
        agent_events(h, "lgtm_agent_actions_total", &agent)
            .into_iter()
            .find(|e| {
                field(e, "F_ACTION") == "restart lgtm-mimir.service" && field(e, "F_OK") == "true"
            })
    })
    .unwrap();

    // A crash is seen through PropertiesChanged, not only the periodic resync.
    h.run(&["kill", "-9", &restarted]).unwrap();
    wait_reported(&lab, "host1", "the crash to be reported", |h| {
        unit(h, MIMIR).is_some_and(|u| u.n_restarts >= 1 && u.active_state == "active")
    });
    let changes = agent_events(h, "lgtm_agent_unit_changes_total", &agent);
    assert!(
        changes
            .iter()
            .any(|e| field(e, "F_UNIT") == MIMIR && field(e, "F_TRIGGER") == "signal"),
        "no change seen by signal in {changes:#?}"
    );

    // The enablement is what brings it back at boot: multi-user.target wants it, on disk.
    assert_eq!(
        sh(
            h,
            &[
                "readlink",
                "/etc/systemd/system/multi-user.target.wants/lgtm-mimir.service"
            ]
        ),
        "/etc/systemd/system/lgtm-mimir.service"
    );
    h.run(&["systemctl", "daemon-reload"]).unwrap();
    assert_eq!(show(h, MIMIR, "WantedBy"), "multi-user.target");

    // Removing every role stops, disables and deletes the unit and its config.
    unassign(&lab, "host1", "mimir:all");
    let index = unassign(&lab, "host1", "mimir:alertmanager");
    wait_reported(&lab, "host1", "the removal to be applied", |s| {
        s.applied_index >= Some(index) && unit(s, MIMIR).is_none()
    });
    for path in [
        "/etc/systemd/system/lgtm-mimir.service",
        "/etc/lgtm/mimir/mimir.yaml",
    ] {
        let gone = h.exec(&["test", "-e", path]).unwrap();
        assert!(!gone.status.success(), "{path} is still there");
    }
    assert_eq!(is_active(h, MIMIR), "inactive");
    let enabled = h.exec(&["systemctl", "is-enabled", MIMIR]).unwrap();
    assert!(!enabled.status.success(), "the unit is still enabled");
    assert_eq!(
        show(h, MIMIR, "LoadState"),
        "not-found",
        "daemon-reload after removal"
    );
    // The user stays: it owns data.
    assert_eq!(sh(h, &["id", "-u", "-n", "mimir"]), "mimir");
}

#[test]
fn failures_carry_the_journal_and_bad_states_keep_what_runs() {
    // Data outside /var/lib: the agent creates the directories, the units open them.
    let toml = "data_root = \"/srv/lgtm\"\nheartbeat_seconds = 2\n";
    let Some(lab) = start_lab(Some(toml)) else {
        return;
    };
    let h = lab.host(1);
    const MIMIR: &str = "lgtm-mimir.service";
    const TEMPO: &str = "lgtm-tempo-distributor.service";
    const LOKI: &str = "lgtm-loki-write.service";

    // A backend that dies before READY=1: the start job fails, and the report says why.
    h.run(&["systemctl", "set-environment", "LGTM_STANDIN_FAIL_START=1"])
        .unwrap();
    let index = assign(&lab, "host1", "mimir:querier");
    let status = wait_reported(&lab, "host1", "the failed start to be reported", |s| {
        s.applied_index >= Some(index)
            && s.failed_actions
                .iter()
                .any(|a| a.action == format!("start {MIMIR}"))
    });
    let failed = status
        .failed_actions
        .iter()
        .find(|a| a.action == format!("start {MIMIR}"))
        .unwrap();
    let error = failed.error.as_deref().unwrap_or("");
    assert!(error.contains("job result 'failed'"), "{error}");
    assert!(
        error.contains("failing at start because LGTM_STANDIN_FAIL_START=1"),
        "{error}"
    );
    // The unit keeps failing under systemd's restarts; its status carries the journal too.
    let status = wait_reported(
        &lab,
        "host1",
        "the unit's failure with journal lines",
        |s| {
            unit(s, MIMIR)
                .and_then(|u| u.error.as_deref())
                .is_some_and(|e| e.contains("LGTM_STANDIN_FAIL_START=1"))
        },
    );
    assert!(
        unit(&status, MIMIR)
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .starts_with(MIMIR)
    );

    // Fixed: the next change resets the failed unit and starts it; a Type=exec Tempo unit
    // with its data outside /var/lib runs beside it.
    h.run(&["systemctl", "unset-environment", "LGTM_STANDIN_FAIL_START"])
        .unwrap();
    assign(&lab, "host1", "mimir:ingester");
    assign(&lab, "host1", "loki:write");
    let index = assign(&lab, "host1", "tempo:distributor");
    for name in [MIMIR, LOKI, TEMPO] {
        wait_running(&lab, "host1", index, name);
        let path = format!("/etc/systemd/system/{name}");
        let verify = h.exec(&["systemd-analyze", "verify", &path]).unwrap();
        let said = String::from_utf8_lossy(&verify.stderr).into_owned();
        assert!(
            verify.status.success() && said.is_empty(),
            "verify {name}: {said}"
        );
    }
    assert_eq!(show(h, TEMPO, "Type"), "exec");
    assert!(show(h, LOKI, "ExecStart").contains("-target=write "));
    assert_eq!(
        show(h, TEMPO, "ReadWritePaths"),
        "/srv/lgtm/tempo-distributor /srv/lgtm/tempo-store"
    );
    for (dir, user) in [
        ("/srv/lgtm/tempo-distributor", "tempo"),
        ("/srv/lgtm/tempo-store", "tempo"),
        ("/srv/lgtm/loki-write", "loki"),
        ("/srv/lgtm/loki-store", "loki"),
        ("/srv/lgtm/mimir", "mimir"),
    ] {
        assert_eq!(
            sh(h, &["stat", "-c", "%a %U %G", dir]),
            format!("750 {user} {user}")
        );
    }
    let status = host_status(&lab, "host1");
    assert!(
        status.failed_actions.is_empty(),
        "{:#?}",
        status.failed_actions
    );
    assert!(unit(&status, MIMIR).unwrap().error.is_none());
    let mimir_pid = show(h, MIMIR, "MainPID");
    let tempo_pid = show(h, TEMPO, "MainPID");

    // A desired state the coordinator cannot render (s3 without its settings) is reported,
    // and the host keeps running what it has.
    let set = |value: &str| {
        let r = api(
            &lab,
            "PUT",
            // Forced: moving a deployed backend's storage is refused otherwise.
            "/v1/settings/mimir.storage.backend?force=true",
            &format!(r#"{{"value":"{value}"}}"#),
        );
        assert!(r.status < 300, "{} {}", r.status, r.text());
    };
    set("s3");
    let status = wait_reported(&lab, "host1", "the render error to be reported", |s| {
        s.failed_actions
            .iter()
            .any(|a| a.action == "fetch the desired state")
    });
    let problem = status
        .failed_actions
        .iter()
        .find(|a| a.action == "fetch the desired state")
        .and_then(|a| a.error.clone())
        .unwrap();
    assert!(problem.contains("mimir.storage.s3"), "{problem}");
    assert_eq!(show(h, MIMIR, "MainPID"), mimir_pid);
    assert_eq!(show(h, TEMPO, "MainPID"), tempo_pid);
    set("filesystem");
    wait_reported(&lab, "host1", "the render error to clear", |s| {
        s.failed_actions.is_empty()
    });
    assert_eq!(
        show(h, MIMIR, "MainPID"),
        mimir_pid,
        "same content: nothing restarts"
    );
    assert_eq!(show(h, TEMPO, "MainPID"), tempo_pid);
}

#[test]
fn a_lost_bus_connection_restarts_the_agent_and_no_backend() {
    let Some(lab) = start_lab(None) else { return };
    let h = lab.host(1);
    const MIMIR: &str = "lgtm-mimir.service";
    const AGENT: &str = "lgtm-agent.service";
    let index = assign(&lab, "host1", "mimir:all");
    wait_running(&lab, "host1", index, MIMIR);
    let pid = show(h, MIMIR, "MainPID");
    let agent = show(h, AGENT, "MainPID");

    // Restarting the bus drops every client connection, the agent's included.
    h.run(&["systemctl", "restart", "dbus.service"]).unwrap();
    wait_for("systemd to run a new agent", PATIENCE, || {
        let now = show(h, AGENT, "MainPID");
        (now != agent && now != "0" && is_active(h, AGENT) == "active").then_some(())
    })
    .unwrap();
    let journal = h.journal(AGENT, 200).unwrap();
    assert!(
        journal.contains("Lost the D-Bus connection to systemd"),
        "{journal}"
    );
    assert_eq!(show(h, MIMIR, "MainPID"), pid, "backends outlive the agent");
    assert_eq!(show(h, MIMIR, "NRestarts"), "0");

    // The new agent, on a new connection, applies changes again.
    let index = assign(&lab, "host1", "mimir:alertmanager");
    wait_running(&lab, "host1", index, MIMIR);
    assert_ne!(show(h, MIMIR, "MainPID"), pid);
}
