//! Conformance: the stand-in and the real binary, given the same config, end the same way —
//! both refuse to start with the same error, or both start and serve HTTP. Each scenario is
//! a startup rule the real Tempo taught (`lgtm_tests::standin::wiring`); Mimir's tests run on
//! the stand-in, so its rules must be the real ones.
//!
//! Runs the processes directly on loopback (no lab). Without the real binary it skips with one
//! line; under CI (`CI=true`) it fails.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use lgtm_tests::lab::{binaries, http};

/// How a process ended up: refused to start (exit code, its stderr), or running and serving
/// (what `/ready` said, once it said something other than that services are starting).
#[derive(Debug)]
enum Outcome {
    Refused(i32, String),
    Serving(u16, String),
}

fn free_port() -> u16 {
    lgtm_tests::lab::net::free_local_port().unwrap()
}

/// A Tempo config on loopback, with its own ports and directories below `dir`.
fn tempo_config(dir: &Path, frontend: bool) -> (String, u16) {
    let (h, g, m, r) = (free_port(), free_port(), free_port(), free_port());
    let d = dir.display();
    let mut cfg = format!(
        "server: {{http_listen_address: 127.0.0.1, http_listen_port: {h}, grpc_listen_address: 127.0.0.1, grpc_listen_port: {g}}}\n\
         memberlist: {{bind_addr: [127.0.0.1], bind_port: {m}}}\n\
         distributor: {{receivers: {{otlp: {{protocols: {{http: {{endpoint: '127.0.0.1:{r}'}}}}}}}}}}\n\
         storage: {{trace: {{backend: local, local: {{path: {d}/blocks}}, wal: {{path: {d}/wal}}}}}}\n\
         usage_report: {{reporting_enabled: false}}\n"
    );
    if frontend {
        cfg.push_str(&format!(
            "querier: {{frontend_worker: {{frontend_address: '127.0.0.1:{g}'}}}}\n"
        ));
    }
    (cfg, h)
}

/// Runs `program` with the config and `-target=TARGET` until it exits or its `/ready` on
/// `port` answers (with `settled`, something other than that services are starting); kills
/// it afterwards.
fn outcome(
    program: &Path,
    args: &[&str],
    config: &str,
    (target, settled): (&str, bool),
    port: u16,
) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tempo.yaml");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .arg(format!("-config.file={}", file.display()))
        .arg(format!("-target={target}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child: Child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let result = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            break Outcome::Refused(status.code().unwrap_or(-1), err);
        }
        if let Ok(r) = http::get(([127, 0, 0, 1], port).into(), "/ready")
            && !(settled && r.text().starts_with("Some services are not Running"))
        {
            break Outcome::Serving(r.status, r.text().trim().to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "{program:?} neither exited nor served in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The real Tempo, or `None` after one line saying why (a failure under CI).
fn real_tempo() -> Option<std::path::PathBuf> {
    let ci = binaries::in_ci();
    let found = binaries::real_backends().unwrap().remove(&Backend::Tempo);
    if found.is_none() {
        assert!(
            !ci,
            "CI must run the conformance tests: no real tempo binary"
        );
        eprintln!(
            "skipping conformance test: no real tempo binary (put shared/real-backends beside the project, or set {})",
            binaries::BACKEND_BIN_DIR_ENV
        );
    }
    found
}

#[test]
fn a_tempo_frontend_without_queriers_is_not_ready_in_both() {
    let Some(tempo) = real_tempo() else { return };
    let standin = binaries::find("lgtm-standin").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, port) = tempo_config(dir.path(), false);
    let real = outcome(&tempo, &[], &cfg, ("query-frontend", true), port);
    let (cfg, port) = tempo_config(dir.path(), false);
    let stand = outcome(
        &standin,
        &["--as", "tempo"],
        &cfg,
        ("query-frontend", true),
        port,
    );
    let want =
        "Query Frontend not ready: not ready: number of queriers connected to query-frontend is 0";
    for (who, o) in [("real", &real), ("stand-in", &stand)] {
        match o {
            Outcome::Serving(503, body) if body == want => {}
            other => panic!("{who}: {other:?}, want 503 {want:?}"),
        }
    }
}

#[test]
fn tempo_scalable_single_binary_needs_its_frontend_address_in_both() {
    let Some(tempo) = real_tempo() else { return };
    let standin = binaries::find("lgtm-standin").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for frontend in [false, true] {
        let (cfg, port) = tempo_config(dir.path(), frontend);
        let ssb = ("scalable-single-binary", false);
        let real = outcome(&tempo, &[], &cfg, ssb, port);
        let (cfg, port) = tempo_config(dir.path(), frontend);
        let stand = outcome(&standin, &["--as", "tempo"], &cfg, ssb, port);
        match (frontend, &real, &stand) {
            (false, Outcome::Refused(a, ea), Outcome::Refused(b, eb)) => {
                assert_eq!(a, b, "exit codes: real {ea}, stand-in {eb}");
                for e in [ea, eb] {
                    assert!(
                        e.contains("querier: frontend worker address not specified"),
                        "{e}"
                    );
                }
            }
            (true, Outcome::Serving(..), Outcome::Serving(..)) => {}
            _ => panic!("frontend address {frontend}: real {real:?}, stand-in {stand:?}"),
        }
    }
}
