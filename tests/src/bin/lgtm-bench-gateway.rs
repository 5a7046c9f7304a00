//! `lgtm-bench-gateway`: a benchmark command, not a test. Boots two real systemd hosts (a
//! Mimir distributor and a gateway, each run by its agent), then drives pushes with Debian's
//! `wrk` straight at the distributor and through the gateway's nginx, and ends with one line:
//! `direct_rps=.. direct_p99_ms=.. gateway_rps=.. gateway_p99_ms=..`.
//!
//! Needs root and `wrk`. Use release binaries: the lab runs what it finds next to this
//! executable: `cargo build --release --workspace --bins && target/release/lgtm-bench-gateway`.

use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use lgtm_model::gateway::MIMIR_PORT;
use lgtm_model::wire::HostRecord;
use lgtm_tests::lab::{Lab, LabSpec, http, wait_for};

/// Requests/s and p99 latency of pushes, direct to a worker and through the gateway.
#[derive(Debug, Parser)]
#[command(name = "lgtm-bench-gateway")]
struct Args {
    /// Seconds each wrk run lasts.
    #[arg(long, default_value_t = 15)]
    duration_s: u64,
    /// Open connections.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
}

/// One wrk run's figures.
struct Figures {
    rps: f64,
    p99_ms: f64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    match run(&a) {
        Ok((direct, gateway)) => {
            println!(
                "direct_rps={:.0} direct_p99_ms={:.2} gateway_rps={:.0} gateway_p99_ms={:.2}",
                direct.rps, direct.p99_ms, gateway.rps, gateway.p99_ms
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lgtm-bench-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> anyhow::Result<(Figures, Figures)> {
    let mut lab = Lab::start(LabSpec::hosts(2))?;
    lab.start_coordinator()?;
    for n in [1, 2] {
        lab.host(n).start_agent()?;
    }
    let patience = Duration::from_secs(120);
    for n in [1, 2] {
        let name = lab.host(n).name().to_owned();
        wait_for(&format!("{name} to register"), patience, || {
            let out = lab
                .lgtmctl_ok(&["--output", "json", "host", "show", &name])
                .ok()?;
            let rec: HostRecord = serde_json::from_str(&out).ok()?;
            rec.address.map(|_| ())
        })?;
    }
    lab.lgtmctl_ok(&["assign-role", "host2", "mimir:distributor"])?;
    lab.lgtmctl_ok(&["assign-role", "host1", "gateway"])?;
    for h in ["host1", "host2"] {
        lab.lgtmctl_ok(&["wait", h, "--timeout", "120s"])?;
    }
    let gateway = lab.host(1).addr(MIMIR_PORT);
    let direct = lab.host(2).addr(8080);
    wait_for("the gateway to route pushes", patience, || {
        let r = http::post(gateway, "/api/v1/push", b"sample").ok()?;
        (r.status == 200).then_some(())
    })?;
    let script = lab.dir().join("push.lua");
    std::fs::write(&script, "wrk.method = \"POST\"\nwrk.body = \"sample\"\n")
        .context("failed to write the wrk script")?;
    let direct = wrk(a, direct, &script)?;
    let gateway = wrk(a, gateway, &script)?;
    eprintln!(
        "wrk -t{} -c{} -d{}s, POST /api/v1/push to the stand-in distributor; lab hosts, nginx and wrk share this machine's CPUs",
        a.threads, a.connections, a.duration_s
    );
    Ok((direct, gateway))
}

fn wrk(a: &Args, addr: SocketAddr, script: &std::path::Path) -> anyhow::Result<Figures> {
    let out = Command::new("wrk")
        .args([
            format!("-t{}", a.threads),
            format!("-c{}", a.connections),
            format!("-d{}s", a.duration_s),
            "--latency".into(),
            "-s".into(),
        ])
        .arg(script)
        .arg(format!("http://{addr}/api/v1/push"))
        .output()
        .context("failed to run wrk; install it with `apt-get install wrk`")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("--- {addr}\n{text}");
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    if text.contains("Non-2xx or 3xx responses") || text.contains("Socket errors") {
        bail!("wrk saw failed requests against {addr}");
    }
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .with_context(|| format!("no '{prefix}' in wrk's output"))
    };
    let rps: f64 = field("Requests/sec:")?.parse()?;
    let p99_ms = duration_ms(field("99%")?)?;
    Ok(Figures { rps, p99_ms })
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in milliseconds.
fn duration_ms(s: &str) -> anyhow::Result<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("unknown wrk duration {s:?}")
    };
    Ok(num.parse::<f64>()? * scale)
}
