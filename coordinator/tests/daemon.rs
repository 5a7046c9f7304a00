//! The binary as systemd runs it: READY/STATUS/WATCHDOG on `NOTIFY_SOCKET`, a clean exit on
//! SIGTERM with STOPPING, and configuration errors that name the problem.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::process::{Coordinator, http};

/// Reads notification datagrams until one contains `want`; returns everything read.
fn until(socket: &UnixDatagram, want: &str) -> String {
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains(want) {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {want:?} from the coordinator ({e}); got {seen:?}"));
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        seen.push('\n');
    }
    seen
}

#[test]
fn notifies_systemd_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let sock_path = tmp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&sock_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut c = Coordinator::start(
        &tmp.path().join("state"),
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let ready = until(&socket, "READY=1");
    assert!(
        ready.contains(&format!("STATUS=listening on {}", c.addr)),
        "{ready}"
    );
    until(&socket, "WATCHDOG=1");
    let body = r#"{"role":"mimir:all"}"#;
    assert_eq!(
        http(c.addr, "POST", "/v1/hosts/h1/roles", Some(body))
            .unwrap()
            .0,
        200
    );
    until(&socket, "STATUS=index 1, 1 hosts");

    let pid = c.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    until(&socket, "STOPPING=1");
    let status = c.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lgtm-coordinator"))
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn configuration_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.toml");
    let (ok, err) = run(&["--config", missing.to_str().unwrap()]);
    assert!(
        !ok && err.contains("failed to read config file") && err.contains("missing.toml"),
        "{err}"
    );

    let file = tmp.path().join("c.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nstate_dri = \"/x\"\n").unwrap();
    let (ok, err) = run(&["--config", file.to_str().unwrap()]);
    assert!(!ok && err.contains("state_dri"), "{err}");

    let (ok, err) = run(&["--listen", "localhost", "--host-ttl-seconds", "0"]);
    assert!(
        !ok && err.contains("listen 'localhost'") && err.contains("host_ttl_seconds 0"),
        "{err}"
    );
}
