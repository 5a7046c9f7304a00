//! `lgtm-loadgen`: a benchmark command, not a test. Simulates many agents against one
//! coordinator and ends with one line:
//! `agents=N p50_ms=.. p99_ms=.. fanout_ms=.. rss_mb=..`.
//!
//! Example: `cargo build --release -p lgtm-coordinator -p lgtm-tests &&
//! target/release/lgtm-loadgen --agents 10000`.

#[path = "../loadgen/mod.rs"]
mod loadgen;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Simulate N agents against one coordinator; measure latency, fan-out and memory.
#[derive(Debug, Parser)]
#[command(name = "lgtm-loadgen")]
struct Args {
    /// Simulated agents (hosts sim-00001, ... with addresses in 198.18.0.0/15).
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Use this running coordinator instead of starting one.
    #[arg(long, value_name = "URL")]
    coordinator: Option<String>,
    /// PID of that coordinator, to read its peak RSS.
    #[arg(long, requires = "coordinator")]
    coordinator_pid: Option<u32>,
    /// Coordinator binary to start (default: lgtm-coordinator next to this binary).
    #[arg(long, conflicts_with = "coordinator")]
    coordinator_bin: Option<PathBuf>,
    /// Role every host gets.
    #[arg(long, default_value = "mimir:querier")]
    role: String,
    /// Seconds between two reports of one agent.
    #[arg(long, default_value_t = 5)]
    report_every_s: u64,
    /// Seconds latencies are measured once all agents run.
    #[arg(long, default_value_t = 15)]
    measure_s: u64,
    /// Concurrent requests while registering and assigning hosts (the coordinator applies
    /// changes that arrive together as one).
    #[arg(long, default_value_t = 64)]
    setup_concurrency: usize,
    /// Seconds allowed for setting up hosts, and again for starting agents.
    #[arg(long, default_value_t = 600)]
    setup_timeout_s: u64,
    /// Seconds allowed for the fan-out.
    #[arg(long, default_value_t = 60)]
    fanout_timeout_s: u64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let options = loadgen::Options {
        agents: a.agents.max(1),
        coordinator: a.coordinator,
        coordinator_pid: a.coordinator_pid,
        coordinator_bin: a.coordinator_bin,
        role: a.role,
        report_every: Duration::from_secs(a.report_every_s.max(1)),
        measure: Duration::from_secs(a.measure_s),
        setup_concurrency: a.setup_concurrency,
        setup_timeout: Duration::from_secs(a.setup_timeout_s),
        fanout_timeout: Duration::from_secs(a.fanout_timeout_s),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(loadgen::run(options)) {
        Ok(summary) => {
            let p = |s: &loadgen::stats::Samples, q| {
                s.percentile_ms(q).map_or("-".into(), |v| format!("{v:.1}"))
            };
            eprintln!(
                "loadgen: reports n={} p50={}ms p99={}ms; start: every agent's first fetch within {:.1}s, n={} p50={}ms p99={}ms; fan-out reached {}/{}; errors {}",
                summary.reports.count(),
                p(&summary.reports, 50.0),
                p(&summary.reports, 99.0),
                summary.ramp.as_secs_f64(),
                summary.immediate.count(),
                p(&summary.immediate, 50.0),
                p(&summary.immediate, 99.0),
                summary.fanout_arrived,
                summary.agents,
                summary.errors,
            );
            if let Some(cpu) = summary.cpu {
                let per_1000 = match summary.reports.count() {
                    0 => "-".to_owned(),
                    n => format!("{:.2}", cpu.coordinator_s * 1000.0 / n as f64),
                };
                eprintln!(
                    "loadgen: CPU over {:.1}s of measurement: coordinator {:.1}s ({:.0}% of a core; {per_1000}s per 1,000 reports, long-polls held meanwhile), load generator {:.1}s",
                    cpu.window_s,
                    cpu.coordinator_s,
                    100.0 * cpu.coordinator_s / cpu.window_s,
                    cpu.loadgen_s,
                );
            }
            if let Some(e) = &summary.first_error {
                eprintln!("loadgen: first error: {e}");
            }
            println!("{}", summary.line());
            if summary.errors > 0 || summary.fanout.is_none() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
