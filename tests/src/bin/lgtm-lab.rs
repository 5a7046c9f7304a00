//! `lgtm-lab`: a local multi-host lgtm cluster on this machine, for trying lgtm out.
//!
//! Boots three real systemd hosts in namespaces, starts a coordinator (embedded SQLite store),
//! an S3-compatible server (`lgtm-s3`, on the lab's gateway address) and an agent on each
//! host, puts the backend (`--backend`, Mimir unless told) on that object storage and assigns a
//! consistent topology of it with `lgtmctl` — plus its nginx gateway on host1 when nginx is
//! installed —, waits until every host runs it and every backend answers ready, prints
//! `lgtmctl status`, and keeps the lab up until Ctrl-C (or SIGTERM), which tears everything
//! down. Loki and Tempo run their real binaries when the lab finds them
//! (`LGTM_BACKEND_BIN_DIR`, or `shared/real-backends` beside the project). Needs root.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use lgtm_model::Backend;
use lgtm_model::wire::ClusterStatus;
use lgtm_tests::lab::{Lab, LabSpec};
use tokio::signal::unix::{SignalKind, signal};

/// A consistent topology per backend over three hosts: every required role, the replicated
/// ones (ingesters, Mimir's store-gateways) on all three.
fn topology(backend: Backend) -> &'static [(usize, &'static [&'static str])] {
    match backend {
        Backend::Mimir => &[
            (
                1,
                &[
                    "distributor",
                    "ingester",
                    "query-frontend",
                    "query-scheduler",
                    "store-gateway",
                ],
            ),
            (2, &["ingester", "querier", "store-gateway"]),
            (3, &["ingester", "compactor", "ruler", "store-gateway"]),
        ],
        // Simple scalable: read, write and backend processes.
        Backend::Loki => &[
            (1, &["write", "read", "backend"]),
            (2, &["write", "read"]),
            (3, &["write", "backend"]),
        ],
        Backend::Tempo => &[
            (1, &["distributor", "ingester", "query-frontend"]),
            (2, &["ingester", "querier", "compactor"]),
            (3, &["ingester", "querier"]),
        ],
    }
}

/// Run a local three-host lgtm lab until interrupted.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Boot the lab, print its status and tear it down at once (a smoke run).
    #[arg(long)]
    once: bool,
    /// The backend to bring up: mimir (stand-in), loki or tempo (real binaries when found).
    #[arg(long, default_value = "mimir")]
    backend: Backend,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lgtm-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let backend = args.backend;
    let found =
        lgtm_tests::lab::binaries::real_backends().context("failed to look for real backends")?;
    let real: Vec<Backend> = found.into_keys().filter(|b| *b == backend).collect();
    eprintln!("booting 3 hosts...");
    let mut lab = Lab::start(LabSpec::hosts(3).real(&real)).context("failed to start the lab")?;
    lab.start_coordinator()
        .context("failed to start the coordinator")?;
    // Mimir on several hosts needs object storage: the local filesystem is per host.
    let endpoint = lab
        .start_s3()
        .context("failed to start the S3 server")?
        .endpoint();
    eprintln!("object storage at {endpoint}; putting {backend} on it...");
    lab.use_s3(backend)
        .with_context(|| format!("failed to put {backend} on object storage"))?;
    for host in lab.hosts() {
        host.start_agent()
            .with_context(|| format!("failed to start the agent on {}", host.name()))?;
    }
    let binary = if lab.is_real(backend) {
        "its real binary"
    } else {
        "the stand-in"
    };
    eprintln!("assigning a {backend} topology ({binary})...");
    for (n, roles) in topology(backend) {
        let host = lab.host(*n).name().to_owned();
        for role in *roles {
            lab.lgtmctl_ok(&["assign-role", &host, &format!("{backend}:{role}")])?;
        }
    }
    // The gateway runs Debian's nginx: offered when it is installed, skipped (and said) if not.
    let gateway = Path::new(NGINX).exists();
    if gateway {
        lab.lgtmctl_ok(&[
            "assign-role",
            lab.host(1).name(),
            &format!("{backend}:gateway"),
        ])?;
    } else {
        eprintln!("{NGINX} not found: no gateway (apt-get install nginx-light to get one)");
    }
    for (n, _) in topology(backend) {
        let host = lab.host(*n).name().to_owned();
        eprintln!("waiting for {host}...");
        lab.lgtmctl_ok(&["wait", &host, "--timeout", "3m"])?;
    }
    eprintln!("waiting for every backend process to answer ready...");
    wait_ready(&lab, Duration::from_secs(120))?;
    print!("{}", lab.lgtmctl_ok(&["status"])?);
    if args.once {
        return Ok(());
    }
    let url = lab.coordinator_url().to_owned();
    println!();
    println!("The lab is up. In another shell:");
    println!("  export LGTM_COORDINATOR={url}");
    if let Some(c) = lab.coordinator() {
        // HTTPS with the lab coordinator's own CA; its admin credential.
        println!("  export LGTM_CA_FILE={}", c.ca_file().display());
        println!(
            "  export LGTM_CREDENTIALS={}",
            c.admin_token_file().display()
        );
    }
    println!("  target/debug/lgtmctl status");
    for host in lab.hosts() {
        println!(
            "  nsenter -t {} -a systemctl status 'lgtm-{backend}*'   # {} ({})",
            host.pid(),
            host.name(),
            host.ip()
        );
    }
    if gateway {
        let (port, path) = match backend {
            Backend::Mimir => (
                lgtm_model::gateway::MIMIR_PORT,
                "/prometheus/api/v1/query?query=up",
            ),
            Backend::Loki => (lgtm_model::gateway::LOKI_PORT, "/loki/api/v1/labels"),
            Backend::Tempo => (lgtm_model::gateway::TEMPO_QUERY_PORT, "/api/echo"),
        };
        println!(
            "  curl http://{}:{port}{path}   # through the gateway",
            lab.host(1).ip(),
        );
    }
    if let Some(s3) = lab.s3() {
        println!(
            "  ls -R {}   # what {backend} stored in S3 ({endpoint})",
            s3.root().display()
        );
    }
    println!("Press Ctrl-C to tear it down.");
    wait_for_signal()?;
    eprintln!("tearing the lab down...");
    drop(lab);
    Ok(())
}

const NGINX: &str = "/usr/sbin/nginx";

/// Waits until no unit reports `ready: false` (`lgtmctl wait` stops at active; a backend is
/// ready only once it reached its object storage and joined its rings).
fn wait_ready(lab: &Lab, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let json = lab.lgtmctl_ok(&["status", "--output", "json"])?;
        let status: ClusterStatus =
            serde_json::from_str(&json).context("lgtmctl status --output json")?;
        let waiting: Vec<String> = status
            .hosts
            .iter()
            .flat_map(|h| {
                h.units
                    .iter()
                    .filter(|u| u.ready == Some(false))
                    .map(move |u| format!("{} on {}", u.unit, h.name))
            })
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if start.elapsed() > limit {
            anyhow::bail!("not ready after {limit:?}: {}", waiting.join(", "));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Blocks until SIGINT or SIGTERM. Handlers, not a blocked mask: children must still get
/// their own signals (a blocked mask would be inherited across exec).
fn wait_for_signal() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}
