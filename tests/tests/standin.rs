//! The stand-in binary, run as `mimir`, `loki` and `tempo` through symlinks, as the agent runs it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use lgtm_model::render::{Cluster, HostIntent, host_processes};
use lgtm_model::settings::{Secrets, Settings};
use lgtm_tests::lab::http;
use lgtm_tests::lab::wait_for;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const STANDIN: &str = env!("CARGO_BIN_EXE_lgtm-standin");

/// A directory with the stand-in installed as each backend.
fn install() -> (tempfile::TempDir, impl Fn(&str) -> PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for name in ["mimir", "loki", "tempo"] {
        std::os::unix::fs::symlink(STANDIN, dir.path().join(name)).unwrap();
    }
    let root = dir.path().to_path_buf();
    (dir, move |name: &str| root.join(name))
}

fn free_port() -> u16 {
    lgtm_tests::lab::net::free_local_port().unwrap()
}

/// Three free ports as the flags that override the config's.
fn port_flags() -> (u16, Vec<String>) {
    let http = free_port();
    let flags = vec![
        format!("-server.http-listen-port={http}"),
        format!("-server.grpc-listen-port={}", free_port()),
        format!("-memberlist.bind-port={}", free_port()),
    ];
    (http, flags)
}

/// A rendered config for one host running `roles`.
fn rendered(roles: &[&str], data_root: &Path) -> String {
    let hosts: BTreeMap<_, _> = [(
        "h1".parse().unwrap(),
        HostIntent {
            address: Some("127.0.0.1".parse().unwrap()),
            data_root: Some(data_root.to_string_lossy().into_owned()),
            roles: roles.iter().map(|r| r.parse().unwrap()).collect(),
        },
    )]
    .into();
    let settings = Settings::default();
    let cluster = Cluster {
        settings: &settings,
        secrets: &Secrets::new(),
        hosts: &hosts,
    };
    let procs = host_processes(cluster, &"h1".parse().unwrap()).unwrap();
    procs[0].config.clone()
}

/// A running stand-in, killed on drop.
struct Running(Child);

impl Running {
    fn start(bin: &Path, args: &[String], env: &[(&str, &str)]) -> Running {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Running(cmd.spawn().unwrap())
    }

    fn wait_ready(&mut self, port: u16) {
        let addr = local(port);
        let res = wait_for("the stand-in's /ready", Duration::from_secs(20), || {
            if let Ok(Some(status)) = self.0.try_wait() {
                panic!("stand-in exited early: {status}");
            }
            http::get(addr, "/ready").ok().filter(|r| r.status == 200)
        });
        assert_eq!(res.unwrap().text(), "ready");
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.0.id() as i32), sig).unwrap();
    }

    fn wait(mut self) -> ExitStatus {
        let status = wait_for("the stand-in to exit", Duration::from_secs(20), || {
            self.0.try_wait().ok().flatten()
        });
        status.unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn run(bin: &Path, args: &[String]) -> Output {
    Command::new(bin).args(args).output().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn runs_as_mimir_with_a_rendered_config() {
    let (dir, bin) = install();
    let config = write(
        dir.path(),
        "mimir.yaml",
        &rendered(&["mimir:all"], dir.path()),
    );
    let (port, mut args) = port_flags();
    args.extend([format!("-config.file={config}"), "-target=all".into()]);
    let mut p = Running::start(&bin("mimir"), &args, &[]);
    p.wait_ready(port);
    let addr = local(port);

    let r = http::request(
        "GET",
        addr,
        "/services",
        &[("Accept", "application/json")],
        b"",
    )
    .unwrap();
    let services: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let names: Vec<&str> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"ingester") && names.contains(&"distributor"),
        "{services}"
    );

    let r = http::request(
        "POST",
        addr,
        "/api/v1/push",
        &[("X-Scope-OrgID", "team-a")],
        b"x",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let served_by = r.header("x-lgtm-served-by").unwrap();
    assert!(served_by.ends_with("/all"), "{served_by}");
    let recorded: serde_json::Value =
        serde_json::from_slice(&http::get(addr, "/standin/requests").unwrap().body).unwrap();
    assert_eq!(
        recorded,
        serde_json::json!([{"method": "POST", "path": "/api/v1/push", "target": "distributor", "tenant": "team-a"}])
    );
    let metrics = http::get(addr, "/metrics").unwrap().text();
    assert!(
        metrics.contains(
            "lgtm_standin_requests_total{path=\"/api/v1/push\",target=\"distributor\"} 1"
        ),
        "{metrics}"
    );

    // /ingester/shutdown: 204, /ready turns 503, the process keeps running.
    assert_eq!(
        http::post(addr, "/ingester/shutdown", b"").unwrap().status,
        204
    );
    let r = http::get(addr, "/ready").unwrap();
    assert_eq!(
        (r.status, r.text().as_str()),
        (503, "Some services are not Running:\nTerminated: 1")
    );
    assert!(p.0.try_wait().unwrap().is_none());

    p.signal(Signal::SIGTERM);
    assert_eq!(p.wait().code(), Some(0));
}

#[test]
fn paths_of_modules_not_running_answer_404() {
    let (dir, bin) = install();
    let config = write(
        dir.path(),
        "m.yaml",
        &rendered(&["mimir:querier"], dir.path()),
    );
    let (port, mut args) = port_flags();
    args.extend([format!("-config.file={config}"), "-target=querier".into()]);
    let mut p = Running::start(&bin("mimir"), &args, &[]);
    p.wait_ready(port);
    assert_eq!(
        http::post(local(port), "/api/v1/push", b"").unwrap().status,
        404
    );
    let r = http::get(local(port), "/prometheus/api/v1/query?query=up").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("x-lgtm-served-by").unwrap().ends_with("/querier"));
    assert_eq!(
        http::post(local(port), "/ingester/shutdown", b"")
            .unwrap()
            .status,
        404
    );
}

#[test]
fn unknown_keys_and_bad_yaml_refuse_to_start() {
    let (dir, bin) = install();
    let good = rendered(&["mimir:all"], dir.path());
    let bad = write(
        dir.path(),
        "bad.yaml",
        &format!("{good}not_a_mimir_key: 1\n"),
    );
    let out = run(&bin("mimir"), &[format!("-config.file={bad}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not_a_mimir_key"), "{stderr}");

    let broken = write(dir.path(), "broken.yaml", "server: [unclosed\n");
    let out = run(
        &bin("loki"),
        &[format!("-config.file={broken}"), "-verify-config".into()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("yaml"));

    let out = run(&bin("mimir"), &["-config.file=/nonexistent/x.yaml".into()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn validate_only_modes() {
    let (dir, bin) = install();
    let mimir = write(dir.path(), "m.yaml", &rendered(&["mimir:all"], dir.path()));
    let out = run(
        &bin("mimir"),
        &["-modules".into(), format!("-config.file={mimir}")],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l == "ingester *") && stdout.lines().any(|l| l == "alertmanager"),
        "{stdout}"
    );

    let loki = write(dir.path(), "l.yaml", &rendered(&["loki:all"], dir.path()));
    let out = run(
        &bin("loki"),
        &["-verify-config".into(), format!("-config.file={loki}")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let tempo = write(
        dir.path(),
        "t.yaml",
        &rendered(&["tempo:ingester"], dir.path()),
    );
    let out = run(
        &bin("tempo"),
        &["-config.verify".into(), format!("-config.file={tempo}")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&bin("tempo"), &["-version".into()]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Tempo, version"));
    let out = run(
        Path::new(STANDIN),
        &["--as".into(), "loki".into(), "-version".into()],
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Loki, version"));
    let out = run(Path::new(STANDIN), &["-version".into()]);
    assert_eq!(out.status.code(), Some(2), "no personality: refuse");
    let out = run(&bin("mimir"), &["-no-such-flag".into()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn target_checks() {
    let (dir, bin) = install();
    let mimir = write(dir.path(), "m.yaml", &rendered(&["mimir:all"], dir.path()));
    let (_, mut args) = port_flags();
    args.extend([
        format!("-config.file={mimir}"),
        "-target=ingester,quorier".into(),
    ]);
    let out = run(&bin("mimir"), &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognised module name: quorier"));

    let tempo = write(
        dir.path(),
        "t.yaml",
        &rendered(&["tempo:ingester"], dir.path()),
    );
    let (_, mut args) = port_flags();
    args.extend([
        format!("-config.file={tempo}"),
        "-target=distributor,ingester".into(),
    ]);
    let out = run(&bin("tempo"), &args);
    assert_eq!(out.status.code(), Some(1), "Tempo runs exactly one target");
    assert!(String::from_utf8_lossy(&out.stderr).contains("distributor,ingester"));
}

#[test]
fn a_port_clash_fails_loudly() {
    let (dir, bin) = install();
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = write(dir.path(), "m.yaml", &rendered(&["mimir:all"], dir.path()));
    let (_, mut args) = port_flags();
    args.extend([
        format!("-config.file={config}"),
        format!("-server.http-listen-port={port}"),
    ]);
    let out = run(&bin("mimir"), &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("address already in use") || stderr.contains("Address already in use"),
        "{stderr}"
    );
}

#[test]
fn loki_ingester_shutdown_exits_0() {
    let (dir, bin) = install();
    let config = write(dir.path(), "l.yaml", &rendered(&["loki:write"], dir.path()));
    let (port, mut args) = port_flags();
    args.extend([format!("-config.file={config}"), "-target=write".into()]);
    let mut p = Running::start(&bin("loki"), &args, &[]);
    p.wait_ready(port);
    let services = http::get(local(port), "/services").unwrap().text();
    assert!(services.contains("ingester => Running"), "{services}");
    let r = http::request(
        "POST",
        local(port),
        "/loki/api/v1/push",
        &[("X-Scope-OrgID", "t1")],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(
        http::get(local(port), "/loki/api/v1/query_range")
            .unwrap()
            .status,
        404,
        "write does not query"
    );
    assert_eq!(
        http::post(local(port), "/ingester/shutdown", b"")
            .unwrap()
            .status,
        204
    );
    assert_eq!(p.wait().code(), Some(0));
}

#[test]
fn faults_crash_fail_start_and_ready_delay() {
    let (dir, bin) = install();
    let config = write(dir.path(), "m.yaml", &rendered(&["mimir:all"], dir.path()));
    let (port, mut args) = port_flags();
    args.push(format!("-config.file={config}"));

    let out = Command::new(bin("mimir"))
        .args(&args)
        .env("LGTM_STANDIN_FAIL_START", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LGTM_STANDIN_FAIL_START"));

    let p = Running::start(
        &bin("mimir"),
        &args,
        &[("LGTM_STANDIN_READY_DELAY_MS", "600000")],
    );
    let r = wait_for("the stand-in to listen", Duration::from_secs(20), || {
        http::get(local(port), "/ready").ok()
    })
    .unwrap();
    assert_eq!(r.status, 503);
    assert!(
        r.text()
            .starts_with("Some services are not Running:\nStarting:"),
        "{}",
        r.text()
    );
    assert_eq!(
        http::post(local(port), "/standin/slow?ms=1", b"")
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        http::post(local(port), "/standin/slow", b"")
            .unwrap()
            .status,
        400
    );
    let _ = http::post(local(port), "/standin/crash", b"");
    assert_eq!(p.wait().code(), Some(2));
}

#[test]
fn tempo_distributor_opens_otlp_receivers() {
    let (dir, bin) = install();
    let (grpc, otlp_http) = (free_port(), free_port());
    let config = write(
        dir.path(),
        "t.yaml",
        &format!(
            "distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: 127.0.0.1:{grpc}\n        http:\n          endpoint: 127.0.0.1:{otlp_http}\n"
        ),
    );
    let (port, mut args) = port_flags();
    args.extend([
        format!("-config.file={config}"),
        "-target=distributor".into(),
    ]);
    let mut p = Running::start(&bin("tempo"), &args, &[]);
    p.wait_ready(port);
    assert!(std::net::TcpStream::connect(local(grpc)).is_ok());
    let r = http::request(
        "POST",
        local(otlp_http),
        "/v1/traces",
        &[("X-Scope-OrgID", "t")],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let rec = http::get(local(port), "/standin/requests").unwrap().text();
    assert!(
        rec.contains("\"/v1/traces\"") && rec.contains("\"distributor\""),
        "{rec}"
    );
    assert_eq!(
        http::get(local(port), "/status/services").unwrap().status,
        200
    );
    assert_eq!(
        http::get(local(port), "/services").unwrap().status,
        404,
        "Tempo has no /services"
    );
}
