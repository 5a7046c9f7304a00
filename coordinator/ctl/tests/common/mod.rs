//! Test harness: the real `lgtm-coordinator` on a free loopback port with a temporary state
//! directory, the real `lgtmctl` binary, and a simulated agent speaking the wire API.

#![allow(dead_code)] // Each test file uses a different part of the harness.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lgtm_model::wire::{RegisterRequest, Report, UnitStatus};

/// How long the coordinator may take to answer its first health check.
const STARTUP: Duration = Duration::from_secs(30);

/// A running coordinator, killed on drop.
pub struct Coordinator {
    child: Child,
    /// Its base URL.
    pub url: String,
    /// Its admin token.
    pub token: String,
    /// Its CA certificate file.
    pub ca: PathBuf,
    _state: tempfile::TempDir,
}

fn coordinator_binary() -> PathBuf {
    // target/debug/deps/<test> -> target/debug
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("test binary lives in target/<profile>/deps");
    let bin = dir.join("lgtm-coordinator");
    assert!(
        bin.is_file(),
        "{} is missing: run cargo build -p lgtm-coordinator first",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local addr").port()
}

impl Coordinator {
    /// Starts a coordinator and waits until `/healthz` answers.
    pub fn start() -> Coordinator {
        let state = tempfile::tempdir().expect("temp state dir");
        let port = free_port();
        let child = Command::new(coordinator_binary())
            .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
            .arg(state.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn lgtm-coordinator");
        let mut c = Coordinator {
            child,
            url: format!("https://127.0.0.1:{port}"),
            token: String::new(),
            ca: state.path().join("tls/ca.pem"),
            _state: state,
        };
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Some(status)) = c.child.try_wait() {
                panic!(
                    "lgtm-coordinator exited before answering: {status}; run cargo build -p lgtm-coordinator first"
                );
            }
            if c.ca.is_file()
                && http(&c.url, &c.ca, "", "GET", "/healthz", None).is_ok_and(|(s, _)| s == 200)
            {
                let file = c._state.path().join("credentials/admin.token");
                let token = std::fs::read_to_string(file).expect("the admin token file");
                c.token = token.trim().to_owned();
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "lgtm-coordinator did not answer /healthz on {} within {STARTUP:?}",
                c.url
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `lgtmctl ARGS` against this coordinator.
    pub fn ctl(&self, args: &[&str]) -> Run {
        self.ctl_with_stdin(args, None)
    }

    /// Runs `lgtmctl ARGS` with `stdin` piped in.
    pub fn ctl_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = lgtmctl(args);
        cmd.env("LGTM_COORDINATOR", &self.url)
            .env("LGTM_TOKEN", &self.token)
            .env("LGTM_CA_FILE", &self.ca);
        run(cmd, stdin)
    }

    /// Puts `backend` on S3 with `lgtmctl config set`, as a backend on several hosts needs.
    pub fn on_s3(&self, backend: &str) {
        for (k, v) in [
            ("storage.s3.endpoint", "http://198.18.0.1:9000"),
            ("storage.s3.bucket", backend),
            ("storage.s3.access_key_id", "lab"),
            ("storage.backend", "s3"),
        ] {
            self.ctl(&["config", "set", &format!("{backend}.{k}"), v])
                .ok();
        }
        let secret = format!("{backend}.storage.s3.secret_access_key");
        self.ctl_with_stdin(&["config", "set", &secret, "--from-stdin"], Some("secret"))
            .ok();
    }

    /// A request to the API; returns status and body.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let (status, text) = http(&self.url, &self.ca, &self.token, method, path, body)
            .expect("coordinator answers");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// Registers `host` the way its agent would.
    pub fn register(&self, host: &str, address: &str) {
        let req = RegisterRequest {
            host: host.parse().expect("host name"),
            address: address.parse().expect("address"),
            data_root: "/var/lib/lgtm".into(),
            agent_version: "0.1.0-test".into(),
        };
        let (status, body) = self.api(
            "POST",
            "/v1/hosts",
            Some(serde_json::to_value(req).expect("json")),
        );
        assert!(
            (200..300).contains(&status),
            "register {host}: {status} {body}"
        );
    }

    /// Posts an agent report for `host`.
    pub fn report(&self, host: &str, applied_index: u64, units: Vec<UnitStatus>) {
        let report = Report {
            applied_index,
            agent_version: "0.1.0-test".into(),
            units,
            ..Report::default()
        };
        let path = format!("/v1/hosts/{host}/report");
        let (status, body) = self.api(
            "POST",
            &path,
            Some(serde_json::to_value(report).expect("json")),
        );
        assert!(
            (200..300).contains(&status),
            "report {host}: {status} {body}"
        );
    }

    /// The host's current desired index, from the status.
    pub fn desired_index(&self, host: &str) -> u64 {
        let (_, status) = self.api("GET", "/v1/status", None);
        status["hosts"]
            .as_array()
            .and_then(|hs| hs.iter().find(|h| h["name"] == host))
            .and_then(|h| h["desired_index"].as_u64())
            .unwrap_or_else(|| panic!("{host} not in status: {status}"))
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A unit in a report.
pub fn unit(name: &str, active: &str, error: Option<&str>) -> UnitStatus {
    UnitStatus {
        unit: name.into(),
        active_state: active.into(),
        sub_state: if active == "active" {
            "running"
        } else {
            "failed"
        }
        .into(),
        n_restarts: 0,
        main_pid: if active == "active" { 4242 } else { 0 },
        exec_main_status: if active == "active" { 0 } else { 1 },
        ready: Some(active == "active"),
        error: error.map(str::to_owned),
    }
}

/// `lgtmctl` with a clean environment for the coordinator address.
pub fn lgtmctl(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lgtmctl"));
    cmd.args(args)
        .env_remove("LGTM_COORDINATOR")
        .env_remove("LGTM_TOKEN")
        .env_remove("LGTM_CREDENTIALS")
        .env_remove("LGTM_CA_FILE");
    cmd
}

/// What a finished `lgtmctl` run printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0 and returns self.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "lgtmctl failed: {self:#?}");
        self
    }
}

/// Runs a command to completion, feeding `stdin`.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn lgtmctl");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin piped");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    finish(child)
}

/// Waits for a spawned `lgtmctl` and collects its output.
pub fn finish(child: Child) -> Run {
    let out: Output = child.wait_with_output().expect("lgtmctl runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One HTTP request over a throwaway runtime, with `token` unless empty: (status, body).
fn http(
    base: &str,
    ca: &std::path::Path,
    token: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<(u16, String), reqwest::Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).expect("the CA file"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()?;
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client.request(method, format!("{base}{path}"));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    })
}
