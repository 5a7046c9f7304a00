//! A settings change restarts exactly the processes whose config changed; object storage
//! settings reach the backends (bucket, prefix, credentials: checked in the lab's S3 server),
//! a wrong secret keeps the backend unready and the right one heals it.

use serde_yaml_ng::Value;

use super::storage::{all_objects, assert_stored, storage_record};
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

/// Where Mimir writes, per purpose: (purpose, prefix).
const MIMIR_LOCATIONS: &[(&str, &str)] = &[
    ("blocks", "blocks"),
    ("ruler", "ruler"),
    ("alertmanager", "alertmanager"),
];
const LOKI_SECRET: &str = "loki.storage.s3.secret_access_key";

#[test]
fn a_loki_setting_restarts_loki_only_and_storage_reaches_every_backend() {
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

    object_storage(&lab, &mimir_pids);
}

/// Mimir on three hosts and Loki beside it on host1, on the lab's S3 server.
fn object_storage(lab: &lgtm_tests::lab::Lab, mimir_pids: &[u32]) {
    let h1 = lab.host(1);
    for host in lab.hosts() {
        assert_stored(lab, host, "mimir:all", MIMIR_LOCATIONS);
    }
    assert_stored(lab, h1, "loki:all", &[("chunks", "")]);
    // Each backend and each Mimir purpose wrote in its own place, and nothing else did.
    let mut want: Vec<String> = lab
        .hosts()
        .iter()
        .flat_map(|h| {
            MIMIR_LOCATIONS
                .iter()
                .map(move |(_, p)| format!("lab-mimir/{p}/lgtm-standin/{}/all", h.name()))
        })
        .collect();
    want.push("lab-loki/lgtm-standin/host1/all".into());
    want.sort();
    assert_eq!(all_objects(lab), want);

    // Filesystem storage is for one host: refused while Mimir runs on three.
    let out = ctl(
        lab,
        &["config", "set", "mimir.storage.backend", "filesystem"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("mimir runs on 3 hosts") && err.contains("single host"),
        "{err}"
    );

    // A wrong secret: Loki restarts, cannot write its bucket, stays unready and says why.
    let wrong = "not-the-lab-secret-0123456789";
    let pid = main_pid(h1, LOKI);
    lab.set_secret(LOKI_SECRET, wrong).unwrap();
    until("host1's loki to restart", || {
        let now = main_pid(h1, LOKI);
        (now != 0 && now != pid).then_some(())
    });
    until_status(lab, "host1's loki to be reported unready", |s| {
        reported(&host_status(s, "host1"), LOKI).is_some_and(|u| u.ready == Some(false))
    });
    let checks = until("a failed storage check", || {
        let c = storage_record(h1, "loki:all");
        c.iter()
            .any(|c| c["attempts"].as_u64() > Some(0) && c["ok"] == false)
            .then_some(c)
    });
    let error = checks[0]["error"].as_str().unwrap();
    assert!(error.contains("403"), "{error}");
    let journal = until("the refusal in loki's journal", || {
        let j = h1.journal(LOKI, 200).unwrap();
        j.contains("SignatureDoesNotMatch").then_some(j)
    });
    assert!(
        journal.contains("failed to access object storage"),
        "{journal}"
    );
    assert!(!journal.contains(wrong), "the journal shows the secret");
    let now: Vec<u32> = lab.hosts().iter().map(|h| main_pid(h, MIMIR)).collect();
    assert_eq!(now, mimir_pids, "a Loki secret restarted mimir");

    // The right one: Loki restarts again, writes, and is ready.
    let s3_secret = lab.s3().unwrap().secret().to_owned();
    lab.set_secret(LOKI_SECRET, &s3_secret).unwrap();
    until_status(lab, "host1's loki to be ready again", |s| {
        reported(&host_status(s, "host1"), LOKI).is_some_and(|u| u.ready == Some(true))
    });
    wait_host(lab, "host1");
    assert_stored(lab, h1, "loki:all", &[("chunks", "")]);
}
