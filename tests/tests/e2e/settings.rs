//! A settings change restarts exactly the processes whose config changed.

use serde_yaml_ng::Value;

use super::support::*;

const MIMIR: &str = "lgtm-mimir.service";
const LOKI: &str = "lgtm-loki.service";
const LOKI_CONFIG: &str = "/etc/lgtm/loki/loki.yaml";
const MIMIR_CONFIG: &str = "/etc/lgtm/mimir/mimir.yaml";

fn log_level(config: &str) -> String {
    let y: Value = serde_yaml_ng::from_str(config).unwrap();
    y["server"]["log_level"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_loki_setting_restarts_loki_only() {
    let Some(lab) = lab(3) else { return };
    for host in lab.hosts() {
        assign(&lab, host.name(), "mimir:all");
    }
    assign(&lab, "host1", "loki:all");
    for host in lab.hosts() {
        wait_host(&lab, host.name());
    }
    let h1 = lab.host(1);
    let mimir_pids: Vec<u32> = lab.hosts().iter().map(|h| main_pid(h, MIMIR)).collect();
    let mimir_configs: Vec<String> = lab
        .hosts()
        .iter()
        .map(|h| read_text(h, MIMIR_CONFIG))
        .collect();
    let loki_pid = main_pid(h1, LOKI);
    let loki_config = read_text(h1, LOKI_CONFIG);
    assert_eq!(log_level(&loki_config), "info");

    ctl_ok(&lab, &["config", "set", "loki.log_level", "debug"]);
    until("host1's loki to restart", || {
        let pid = main_pid(h1, LOKI);
        (pid != 0 && pid != loki_pid && show(h1, LOKI, "ActiveState") == "active").then_some(())
    });
    for host in lab.hosts() {
        wait_host(&lab, host.name());
    }

    let new_config = read_text(h1, LOKI_CONFIG);
    assert_ne!(new_config, loki_config);
    assert_eq!(log_level(&new_config), "debug");
    let now: Vec<u32> = lab.hosts().iter().map(|h| main_pid(h, MIMIR)).collect();
    assert_eq!(now, mimir_pids, "no mimir process restarted");
    let configs: Vec<String> = lab
        .hosts()
        .iter()
        .map(|h| read_text(h, MIMIR_CONFIG))
        .collect();
    assert!(configs == mimir_configs, "a mimir config changed");
    for host in lab.hosts() {
        assert_eq!(n_restarts(host, MIMIR), 0, "{}", host.name());
    }
    // The agent restarted it; systemd did not have to.
    assert_eq!(n_restarts(h1, LOKI), 0);
    let status = cluster_status(&lab);
    let loki = reported(&host_status(&status, "host1"), LOKI)
        .cloned()
        .unwrap();
    assert_eq!(loki.main_pid, main_pid(h1, LOKI));
}
