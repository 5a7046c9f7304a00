//! What the fault tests look at: backend units and their processes, the desired state the
//! coordinator serves, the config files on a host, and settings written over raw HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use lgtm_model::wire::{DesiredProcess, DesiredState, Liveness};
use lgtm_tests::lab::{Host, Lab, http};

use super::support::{main_pid, n_restarts, until_status};

/// The backend units on `host` (every `lgtm-*` service but the agent).
pub fn backend_units(host: &Host) -> Vec<String> {
    let out = host
        .run(&[
            "systemctl",
            "list-units",
            "--type=service",
            "--all",
            "--plain",
            "--no-legend",
            "lgtm-*",
        ])
        .unwrap();
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|u| *u != "lgtm-agent.service")
        .map(str::to_owned)
        .collect()
}

/// (host, unit) -> (MainPID, NRestarts) for every backend unit of the lab.
pub fn processes(lab: &Lab) -> BTreeMap<(String, String), (u32, u32)> {
    let mut out = BTreeMap::new();
    for host in lab.hosts() {
        for unit in backend_units(host) {
            let seen = (main_pid(host, &unit), n_restarts(host, &unit));
            out.insert((host.name().to_owned(), unit), seen);
        }
    }
    out
}

/// The coordinator's address.
pub fn coordinator(lab: &Lab) -> SocketAddr {
    lab.coordinator().unwrap().addr()
}

/// The desired state the coordinator serves `host` now.
pub fn desired(lab: &Lab, host: &str) -> DesiredState {
    let r = http::get(coordinator(lab), &format!("/v1/hosts/{host}/desired")).unwrap();
    assert_eq!(r.status, 200, "desired state of {host}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

/// Where the agent writes a process's config.
pub fn config_path(p: &DesiredProcess) -> String {
    format!("/etc/lgtm/{}/{}.yaml", p.id.backend, p.id.instance())
}

/// path -> config text, as the coordinator wants it on `host`.
pub fn desired_configs(lab: &Lab, host: &str) -> BTreeMap<String, String> {
    desired(lab, host)
        .processes
        .iter()
        .map(|p| (config_path(p), p.config.clone()))
        .collect()
}

/// path -> text of each of `paths` on `host` (`None` when missing).
pub fn configs_on_disk<'a>(
    host: &Host,
    paths: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<String, Option<String>> {
    paths
        .into_iter()
        .map(|p| {
            let text = host
                .read_file(p)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            (p.clone(), text)
        })
        .collect()
}

/// `PUT /v1/settings/KEY`: the new index, or the status and body of a refusal or failure.
pub fn put_setting(addr: SocketAddr, key: &str, value: &str) -> Result<u64, String> {
    let body = serde_json::json!({ "value": value }).to_string();
    let r = http::request(
        "PUT",
        addr,
        &format!("/v1/settings/{key}"),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("{} {}", r.status, r.text()));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
    v["index"].as_u64().ok_or_else(|| r.text())
}

/// Waits until every host is alive and has applied its current desired state.
pub fn converged(lab: &Lab) {
    let n = lab.hosts().len();
    until_status(lab, "every host to converge", |s| {
        s.hosts.len() == n
            && s.hosts.iter().all(|h| {
                h.liveness == Liveness::Alive
                    && !h.behind
                    && h.applied_index == Some(h.desired_index)
            })
    });
}

/// Every config the coordinator wants on `host` is on disk, byte for byte.
pub fn assert_configs_applied(lab: &Lab, host: &Host) {
    let want = desired_configs(lab, host.name());
    let disk = configs_on_disk(host, want.keys());
    for (path, text) in &want {
        assert_eq!(
            disk[path].as_deref(),
            Some(text.as_str()),
            "{}: {path} is not the desired config",
            host.name()
        );
    }
}
