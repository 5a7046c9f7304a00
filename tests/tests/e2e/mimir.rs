//! A Mimir microservices topology over three hosts: each host's process runs exactly its
//! roles, the coordinator calls it consistent, and removing the only querier is named as
//! missing and takes the unit off the host that ran nothing else.

use super::support::*;

const MIMIR: &str = "lgtm-mimir.service";
const CONFIG: &str = "/etc/lgtm/mimir/mimir.yaml";

/// Every required Mimir role somewhere; host3 runs only the querier.
const TOPOLOGY: &[(usize, &[&str])] = &[
    (
        1,
        &[
            "distributor",
            "ingester",
            "query-frontend",
            "query-scheduler",
            "store-gateway",
        ],
    ),
    (2, &["ingester", "store-gateway", "compactor", "ruler"]),
    (3, &["querier"]),
];

fn assign_topology(lab: &lgtm_tests::lab::Lab) {
    for (n, roles) in TOPOLOGY {
        for role in *roles {
            assign(lab, lab.host(*n).name(), &format!("mimir:{role}"));
        }
    }
    for host in lab.hosts() {
        wait_host(lab, host.name());
    }
}

/// The host's Mimir unit is active and its live process runs exactly `roles` as `-target`.
fn assert_runs(host: &lgtm_tests::lab::Host, roles: &[&str]) {
    assert_eq!(
        show(host, MIMIR, "ActiveState"),
        "active",
        "{}",
        host.name()
    );
    assert_eq!(
        running_targets(host, MIMIR),
        names(roles),
        "{}",
        host.name()
    );
}

#[test]
fn each_host_runs_its_targets_and_a_lost_querier_is_named_missing() {
    let Some(lab) = lab(3) else { return };
    assign_topology(&lab);

    // What runs is what was assigned: the live process's -target, per host.
    for (n, roles) in TOPOLOGY {
        let host = lab.host(*n);
        assert_runs(host, roles);
        let config = format!("-config.file={CONFIG}");
        let args = cmdline(host, main_pid(host, MIMIR));
        assert!(args.contains(&config), "{}: {args:?}", host.name());
    }
    let status = cluster_status(&lab);
    let mimir = &status.backends[0];
    assert_eq!(mimir.backend.as_str(), "mimir");
    assert!(mimir.deployed && mimir.consistent, "{mimir:#?}");
    assert!(mimir.missing.is_empty(), "{mimir:#?}");
    for host in lab.hosts() {
        let h = host_status(&status, host.name());
        assert!(!h.behind, "{h:#?}");
        let unit = reported(&h, MIMIR).unwrap_or_else(|| panic!("{h:#?}"));
        assert_eq!(unit.main_pid, main_pid(host, MIMIR), "{}", host.name());
    }

    // Unassign the only querier (--wait: until host3 reports the unit gone): the status names
    // it missing, host3's process stops and its unit file and config go.
    let h3 = lab.host(3);
    ctl_wait_ok(&lab, &["unassign-role", "host3", "mimir:querier"]);
    let status = cluster_status(&lab);
    assert!(reported(&host_status(&status, "host3"), MIMIR).is_none());
    let mimir = &status.backends[0];
    assert!(!mimir.consistent, "{mimir:#?}");
    let missing: Vec<String> = mimir.missing.iter().map(ToString::to_string).collect();
    assert_eq!(missing, ["mimir:querier"]);
    until("host3's lgtm-mimir.service to be gone", || {
        (show(h3, MIMIR, "LoadState") == "not-found"
            && show(h3, MIMIR, "ActiveState") == "inactive")
            .then_some(())
    });
    assert_eq!(show(h3, MIMIR, "MainPID"), "0");
    for path in [
        "/etc/systemd/system/lgtm-mimir.service",
        "/etc/systemd/system/multi-user.target.wants/lgtm-mimir.service",
        "/etc/lgtm/mimir/mimir.yaml",
    ] {
        assert!(!exists(h3, path), "{path} is still on host3");
    }
    for (n, roles) in &TOPOLOGY[..2] {
        let host = lab.host(*n);
        wait_host(&lab, host.name());
        assert_runs(host, roles);
    }
}

/// Hosts 1 and 2 keep their processes (ingesters, store-gateways: data) when host3, which
/// ran only the querier, leaves Mimir.
#[test]
fn removing_the_querier_host_leaves_the_other_hosts_untouched() {
    let Some(lab) = lab(3) else { return };
    assign_topology(&lab);
    let others = [lab.host(1), lab.host(2)];
    let pids = others.map(|h| main_pid(h, MIMIR));
    let configs = others.map(|h| read_text(h, CONFIG));

    unassign(&lab, "host3", "mimir:querier");
    let h3 = lab.host(3);
    until("host3's lgtm-mimir.service to be gone", || {
        (show(h3, MIMIR, "LoadState") == "not-found").then_some(())
    });
    for host in others {
        wait_host(&lab, host.name());
    }
    // Their memberlist seeds may be rewritten (read only at start); nothing else may change.
    for (host, before) in others.iter().zip(&configs) {
        let now = read_text(host, CONFIG);
        assert!(
            !lgtm_model::render::needs_restart(before, &now),
            "{}: mimir.yaml changed beyond its seeds:\n{}",
            host.name(),
            line_diff(before, &now)
        );
    }
    assert_eq!(
        others.map(|h| main_pid(h, MIMIR)),
        pids,
        "hosts 1 and 2 restarted"
    );
}

/// `unassign-role --wait` of a host's last role returns once the agent reports the unit gone.
#[test]
fn unassigning_a_hosts_last_role_drops_its_unit_from_the_report() {
    let Some(lab) = lab(1) else { return };
    let h = lab.host(1);
    ctl_wait_ok(&lab, &["assign-role", "host1", "mimir:querier"]);
    assert_eq!(show(h, MIMIR, "ActiveState"), "active");
    ctl_wait_ok(&lab, &["unassign-role", "host1", "mimir:querier"]);
    assert_eq!(show(h, MIMIR, "LoadState"), "not-found");
    let status = host_status(&cluster_status(&lab), "host1");
    assert!(reported(&status, MIMIR).is_none(), "{:#?}", status.units);
}

/// A role whose unit keeps failing can be taken away: its unit is reset and removed, and the
/// report no longer lists it.
#[test]
fn unassigning_a_failing_role_clears_it_from_the_host_and_the_report() {
    let Some(lab) = lab(1) else { return };
    if !lab.uses_standin() {
        eprintln!("skipping: it needs the stand-in's fault injection");
        return;
    }
    let h = lab.host(1);
    h.run(&["systemctl", "set-environment", "LGTM_STANDIN_FAIL_START=1"])
        .unwrap();
    let out = ctl_wait(&lab, &["assign-role", "host1", "mimir:querier"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until("the unit to fail for good", || {
        (show(h, MIMIR, "ActiveState") == "failed").then_some(())
    });
    h.run(&["systemctl", "unset-environment", "LGTM_STANDIN_FAIL_START"])
        .unwrap();

    ctl_wait_ok(&lab, &["unassign-role", "host1", "mimir:querier"]);
    assert!(!exists(h, "/etc/systemd/system/lgtm-mimir.service"));
    // Reset, not left failed ("not-found failed" would stay in systemd until reset-failed).
    assert_eq!(show(h, MIMIR, "LoadState"), "not-found");
    assert_eq!(show(h, MIMIR, "ActiveState"), "inactive");
    let status = host_status(&cluster_status(&lab), "host1");
    assert!(reported(&status, MIMIR).is_none(), "{:#?}", status.units);
}
