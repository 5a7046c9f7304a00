//! host2 cut off the network: it turns stale after the TTL, no role moves anywhere, its
//! backends keep running, and once reconnected it applies what changed meanwhile.

use std::collections::BTreeMap;

use lgtm_model::wire::Liveness;
use lgtm_tests::lab::Lab;

use super::probes::{
    assert_configs_applied, converged, coordinator, desired, processes, put_setting,
};
use super::support::{cluster_status, host_status, until_status, wait_host};

fn roles(lab: &Lab) -> BTreeMap<String, Vec<String>> {
    cluster_status(lab)
        .hosts
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                h.roles.iter().map(|r| r.to_string()).collect(),
            )
        })
        .collect()
}

pub fn a_partitioned_host_keeps_its_roles_and_converges(lab: &Lab) {
    let h2 = lab.host(2);
    let roles_before = roles(lab);
    let others_before: Vec<_> = ["host1", "host3"]
        .iter()
        .map(|h| desired(lab, h).processes)
        .collect();
    let pids_before = processes(lab);

    h2.link_down().unwrap();
    until_status(lab, "host2 to turn stale", |s| {
        host_status(s, "host2").liveness == Liveness::Stale
    });
    // A change for the cut-off host, made while it cannot hear of it.
    put_setting(coordinator(lab), "tempo.log_level", "debug").unwrap();
    let status = cluster_status(lab);
    assert_eq!(host_status(&status, "host1").liveness, Liveness::Alive);
    // The change restarts host2's Tempo: the rollout holds it until host2's agent is heard
    // from again (it may be serving; its restart could not be watched).
    assert!(!host_status(&status, "host2").behind, "held, not sent");
    assert!(
        status
            .rollout
            .waiting
            .iter()
            .any(|p| p.host.as_str() == "host2" && p.unit.starts_with("lgtm-tempo")),
        "host2 has a change waiting: {:#?}",
        status.rollout
    );
    assert_eq!(roles(lab), roles_before, "a role moved");
    let others_now: Vec<_> = ["host1", "host3"]
        .iter()
        .map(|h| desired(lab, h).processes)
        .collect();
    assert_eq!(
        others_now, others_before,
        "another host's desired state changed"
    );
    assert_eq!(
        processes(lab),
        pids_before,
        "a backend restarted during the partition"
    );

    h2.link_up().unwrap();
    wait_host(lab, "host2");
    converged(lab);
    assert_configs_applied(lab, h2);
    assert_eq!(roles(lab), roles_before);
    let restarted: Vec<_> = processes(lab)
        .into_iter()
        .filter(|(k, v)| pids_before[k] != *v)
        .map(|(k, _)| k)
        .collect();
    assert!(
        restarted.iter().all(|(host, _)| host == "host2"),
        "only host2's tempo processes take the change: {restarted:?}"
    );
}
