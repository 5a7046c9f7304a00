//! Several processes on one host: Tempo roles get a unit each, Loki and Mimir get their own
//! units, and nothing clashes (ports from the fixed plan, one memberlist cluster per backend).

use lgtm_model::process::ProcessId;
use serde_yaml_ng::Value;

use super::support::*;

/// The planned ports of `role`'s process.
fn ports(role: &str) -> lgtm_model::process::Ports {
    ProcessId::for_role(role.parse().unwrap()).ports()
}

#[test]
fn two_tempo_roles_run_as_two_units_on_their_planned_ports() {
    let Some(lab) = lab(1) else { return };
    let h = lab.host(1);
    for role in ["tempo:distributor", "tempo:ingester"] {
        assign(&lab, "host1", role);
    }
    wait_host(&lab, "host1");

    let mut pids = Vec::new();
    for role in ["distributor", "ingester"] {
        let id = ProcessId::for_role(format!("tempo:{role}").parse().unwrap());
        let unit = format!("lgtm-tempo-{role}.service");
        assert_eq!(id.unit_name(), unit);
        assert_eq!(show(h, &unit, "ActiveState"), "active", "{unit}");
        assert_eq!(running_targets(h, &unit), names(&[role]), "{unit}");
        pids.push(main_pid(h, &unit));
        let port = id.ports().http;
        let served_by = until(&format!("{unit} to be ready on {port}"), || ready(h, port));
        if lab.uses_standin() {
            assert_eq!(
                served_by,
                format!("host1/{role}"),
                "port {port} is {unit}'s"
            );
        }
    }
    assert_ne!(pids[0], pids[1]);
    let (d, i) = (ports("tempo:distributor"), ports("tempo:ingester"));
    let all = [d.http, d.grpc, d.memberlist, i.http, i.grpc, i.memberlist];
    let mut distinct = all.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), all.len(), "{all:?}");
    // Neither process restarted: no bind failure, no crash loop.
    for role in ["distributor", "ingester"] {
        assert_eq!(n_restarts(h, &format!("lgtm-tempo-{role}.service")), 0);
    }
}

#[test]
fn loki_and_mimir_share_a_host_with_their_own_ports_and_cluster_labels() {
    let Some(lab) = lab(1) else { return };
    let h = lab.host(1);
    assign(&lab, "host1", "mimir:all");
    assign(&lab, "host1", "loki:all");
    wait_host(&lab, "host1");

    let mut labels = Vec::new();
    let mut seen_ports = Vec::new();
    for backend in ["mimir", "loki"] {
        let unit = format!("lgtm-{backend}.service");
        let planned = ports(&format!("{backend}:all"));
        assert_eq!(show(h, &unit, "ActiveState"), "active", "{unit}");
        assert_eq!(n_restarts(h, &unit), 0, "{unit}");
        let config = read_text(h, &format!("/etc/lgtm/{backend}/{backend}.yaml"));
        let y: Value = serde_yaml_ng::from_str(&config).unwrap();
        let label = y["memberlist"]["cluster_label"]
            .as_str()
            .unwrap_or_default();
        assert!(!label.is_empty(), "{backend}: no memberlist.cluster_label");
        labels.push(label.to_owned());
        assert_eq!(
            y["server"]["http_listen_port"].as_u64(),
            Some(u64::from(planned.http))
        );
        assert_eq!(
            y["server"]["grpc_listen_port"].as_u64(),
            Some(u64::from(planned.grpc))
        );
        assert_eq!(
            y["memberlist"]["bind_port"].as_u64(),
            Some(u64::from(planned.memberlist))
        );
        seen_ports.extend([planned.http, planned.grpc, planned.memberlist]);
        let served_by = until(&format!("{unit} to be ready"), || ready(h, planned.http));
        if lab.uses_standin() {
            assert!(
                served_by.starts_with("host1/all"),
                "{unit} on {}: {served_by}",
                planned.http
            );
        }
    }
    assert_ne!(labels[0], labels[1], "one memberlist cluster per backend");
    let mut distinct = seen_ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), seen_ports.len(), "{seen_ports:?}");
    assert_ne!(
        main_pid(h, "lgtm-mimir.service"),
        main_pid(h, "lgtm-loki.service")
    );
}
