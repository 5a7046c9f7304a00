//! `lgtm-lab`: a local multi-host lgtm cluster on this machine, for trying lgtm out.
//!
//! Boots three real systemd hosts in namespaces, starts a coordinator (embedded SQLite store)
//! and an agent on each host, assigns a consistent Mimir microservices topology with `lgtmctl`,
//! waits until every host runs it, prints `lgtmctl status`, and keeps the lab up until
//! Ctrl-C (or SIGTERM), which tears everything down. Needs root.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use lgtm_tests::lab::{Lab, LabSpec};
use tokio::signal::unix::{SignalKind, signal};

/// Mimir microservices over three hosts: every required role, replicated ones on all three.
const TOPOLOGY: &[(usize, &[&str])] = &[
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
];

/// Run a local three-host lgtm lab until interrupted.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Boot the lab, print its status and tear it down at once (a smoke run).
    #[arg(long)]
    once: bool,
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
    eprintln!("booting 3 hosts...");
    let mut lab = Lab::start(LabSpec::hosts(3)).context("failed to start the lab")?;
    lab.start_coordinator()
        .context("failed to start the coordinator")?;
    for host in lab.hosts() {
        host.start_agent()
            .with_context(|| format!("failed to start the agent on {}", host.name()))?;
    }
    let backends = if lab.uses_standin() {
        "stand-in backends"
    } else {
        "real backends"
    };
    eprintln!("assigning a Mimir microservices topology ({backends})...");
    for (n, roles) in TOPOLOGY {
        let host = lab.host(*n).name().to_owned();
        for role in *roles {
            lab.lgtmctl_ok(&["assign-role", &host, &format!("mimir:{role}")])?;
        }
    }
    for (n, _) in TOPOLOGY {
        let host = lab.host(*n).name().to_owned();
        eprintln!("waiting for {host}...");
        lab.lgtmctl_ok(&["wait", &host, "--timeout", "3m"])?;
    }
    print!("{}", lab.lgtmctl_ok(&["status"])?);
    if args.once {
        return Ok(());
    }
    let url = lab.coordinator_url().to_owned();
    println!();
    println!("The lab is up. In another shell:");
    println!("  export LGTM_COORDINATOR={url}");
    println!("  target/debug/lgtmctl status");
    for host in lab.hosts() {
        println!(
            "  nsenter -t {} -a systemctl status lgtm-mimir.service   # {} ({})",
            host.pid(),
            host.name(),
            host.ip()
        );
    }
    println!("Press Ctrl-C to tear it down.");
    wait_for_signal()?;
    eprintln!("tearing the lab down...");
    drop(lab);
    Ok(())
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
