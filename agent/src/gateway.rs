//! The gateway unit: one nginx per host (Debian's package) with lgtm's own config, never the
//! machine's `/etc/nginx/nginx.conf` or default site.
//!
//! A config change is installed only after `nginx -t` accepted it as a candidate file, and is
//! then picked up by a reload (`ExecReload=` sends SIGHUP): nginx starts new workers on the
//! new config while the old ones finish their requests, so no request is lost, and a config
//! nginx refuses never replaces the one serving.

use std::process::Command;

use crate::safe_path::SafePath;

/// The gateway's unit.
pub const UNIT: &str = "lgtm-gateway.service";
/// Debian's nginx.
pub const NGINX: &str = "/usr/sbin/nginx";

/// Renders the unit file running nginx on `config`.
pub fn unit_file(config: &SafePath) -> String {
    // A SafePath holds no control characters, quotes or spaces; `%` is escaped for systemd.
    let config = config.as_str().replace('%', "%%");
    let runtime = lgtm_model::gateway::RUNTIME_DIR
        .trim_start_matches("/run/")
        .to_owned();
    format!(
        "# {UNIT}: the lgtm gateway (nginx) in front of this cluster's backends.
# Written by lgtm-agent from the coordinator's desired state; local edits are overwritten.

[Unit]
Description=lgtm gateway (nginx)
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=10min
StartLimitBurst=5

[Service]
# nginx stays in the foreground; lgtm-agent checks every config with `nginx -t` first.
Type=exec
ExecStart={NGINX} -e stderr -c {config} -g \"daemon off;\"
# A new config is a reload: new workers take new connections, old ones finish theirs.
ExecReload=/bin/kill -HUP $MAINPID
# SIGQUIT is nginx's graceful stop: in-flight requests finish.
KillSignal=SIGQUIT
TimeoutStopSec=1min
Restart=on-failure
RestartSec=2s
# pid and temporary files, kept across restarts (lgtm-agent's `nginx -t` uses it too).
RuntimeDirectory={runtime}
RuntimeDirectoryPreserve=yes
LimitNOFILE=65536
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes

[Install]
# Enabled: a reboot brings the gateway back without lgtm-agent or the coordinator.
WantedBy=multi-user.target
"
    )
}

/// Why nginx refused a config.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("failed to run {NGINX} -t; install Debian's nginx (nginx-light) on gateway hosts")]
    Run(#[source] std::io::Error),
    #[error("failed to prepare {0}")]
    Runtime(String, #[source] std::io::Error),
    #[error("nginx refused the config {path}: {message}")]
    Refused { path: SafePath, message: String },
}

/// `nginx -t` on `candidate`: `Ok` when nginx would load it.
pub fn check(candidate: &SafePath) -> Result<(), CheckError> {
    check_in(candidate, lgtm_model::gateway::RUNTIME_DIR)
}

/// `nginx -t` on `candidate`, whose temporary paths lie in `runtime`.
fn check_in(candidate: &SafePath, runtime: &str) -> Result<(), CheckError> {
    // nginx -t creates its temporary directories inside it, as the running nginx would.
    std::fs::create_dir_all(runtime).map_err(|e| CheckError::Runtime(runtime.into(), e))?;
    let out = Command::new(NGINX)
        .args(["-t", "-q", "-e", "stderr", "-c", candidate.as_str()])
        .output()
        .map_err(CheckError::Run)?;
    if out.status.success() {
        return Ok(());
    }
    let message = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Err(CheckError::Refused {
        path: candidate.clone(),
        message: message.escape_debug().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_unit() {
        let text = unit_file(&SafePath::parse("/etc/lgtm/gateway/nginx.conf").unwrap());
        let path = format!("{}/tests/golden/{UNIT}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("LGTM_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, want, "{UNIT} differs from its golden file");
    }

    /// Real nginx, when installed: the rendered configs pass, a broken one is refused with
    /// nginx's own message.
    #[test]
    fn nginx_checks_candidates() {
        if !std::path::Path::new(NGINX).exists() || !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: needs {NGINX} and root");
            return;
        }
        // Everything in a directory of its own: the machine's /run is left alone.
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("run");
        let runtime = runtime.to_str().unwrap();
        let golden = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../model/tests/golden/gateway-all.conf"
        );
        let text = std::fs::read_to_string(golden)
            .unwrap()
            .replace(lgtm_model::gateway::RUNTIME_DIR, runtime);
        let good = dir.path().join("good.conf");
        std::fs::write(&good, &text).unwrap();
        let good = SafePath::parse(good.to_str().unwrap()).unwrap();
        check_in(&good, runtime).unwrap();
        let bad = dir.path().join("bad.conf");
        std::fs::write(&bad, text.replace("keepalive 32;", "keepalive;")).unwrap();
        let bad = SafePath::parse(bad.to_str().unwrap()).unwrap();
        let e = check_in(&bad, runtime).unwrap_err().to_string();
        assert!(
            e.contains("nginx refused") && e.contains("keepalive"),
            "{e}"
        );
    }
}

#[cfg(test)]
#[path = "gateway_plan_tests.rs"]
mod plan_tests;
