//! What the test reads back from the rolled-out hosts: package versions, unit PIDs, files,
//! and the coordinator's view through `lgtmctl` on the coordinator host.

use std::collections::BTreeMap;

use lgtm_tests::lab::Host;
use serde_json::Value;

/// Runs argv in `host`; its trimmed stdout, or why it failed.
pub fn run(host: &Host, argv: &[&str]) -> Result<String, String> {
    let out = host.exec(argv).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{}: `{}` exited {}: {}",
            host.name(),
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The installed version of `package`, `None` when it is not installed.
pub fn installed(host: &Host, package: &str) -> Option<String> {
    run(
        host,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${db:Status-Status} ${Version}",
            package,
        ],
    )
    .ok()
    .and_then(|s| s.strip_prefix("installed ").map(str::to_owned))
}

/// A unit property (`systemctl show -P`).
pub fn unit(host: &Host, unit: &str, property: &str) -> String {
    run(host, &["systemctl", "show", "-P", property, unit]).unwrap_or_default()
}

/// MainPID of every active backend unit (`lgtm-*` but the agent and coordinator).
pub fn backend_pids(host: &Host) -> BTreeMap<String, String> {
    let list = run(
        host,
        &[
            "systemctl",
            "list-units",
            "--type=service",
            "--state=active",
            "--plain",
            "--no-legend",
            "lgtm-*",
        ],
    )
    .unwrap_or_default();
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|u| !matches!(*u, "lgtm-agent.service" | "lgtm-coordinator.service"))
        .map(|u| (format!("{} {u}", host.name()), unit(host, u, "MainPID")))
        .collect()
}

/// `lgtmctl --output json ARGS` on the coordinator host, parsed.
pub fn lgtmctl_json(coordinator: &Host, args: &[&str]) -> Result<Value, String> {
    let mut argv = vec!["lgtmctl", "--output", "json"];
    argv.extend_from_slice(args);
    let text = run(coordinator, &argv)?;
    serde_json::from_str(&text).map_err(|e| format!("lgtmctl {}: {e}: {text}", args.join(" ")))
}

/// Backends of `lgtmctl status` that are not deployed and consistent; empty when all are.
pub fn inconsistent(status: &Value) -> Vec<String> {
    let Some(backends) = status["backends"].as_array() else {
        return vec![format!("no backends in {status}")];
    };
    backends
        .iter()
        .filter(|b| b["deployed"] != Value::Bool(true) || b["consistent"] != Value::Bool(true))
        .map(|b| {
            format!(
                "{}: deployed {}, consistent {}, missing {}",
                b["backend"], b["deployed"], b["consistent"], b["missing"]
            )
        })
        .collect()
}

/// A setting's value and whether it is set, from `lgtmctl config get`.
pub fn setting(settings: &Value, key: &str) -> Option<(Option<String>, bool)> {
    settings
        .as_array()?
        .iter()
        .find(|e| e["key"] == key)
        .map(|e| {
            (
                e["value"].as_str().map(str::to_owned),
                e["is_set"] == Value::Bool(true),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_verdicts_and_settings_are_read_from_the_api_json() {
        let status = serde_json::json!({"backends": [
            {"backend": "mimir", "deployed": true, "consistent": true, "missing": []},
            {"backend": "loki", "deployed": true, "consistent": false, "missing": ["loki:querier"]},
        ]});
        let bad = inconsistent(&status);
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].contains("loki") && bad[0].contains("loki:querier"),
            "{bad:?}"
        );
        let settings = serde_json::json!([
            {"key": "cluster.name", "value": "x", "is_set": true},
            {"key": "mimir.storage.s3.secret_access_key", "value": null, "is_set": true},
        ]);
        assert_eq!(
            setting(&settings, "cluster.name"),
            Some((Some("x".into()), true))
        );
        assert_eq!(
            setting(&settings, "mimir.storage.s3.secret_access_key"),
            Some((None, true))
        );
        assert_eq!(setting(&settings, "nope"), None);
    }
}
