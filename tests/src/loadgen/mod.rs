//! `lgtm-loadgen`: many simulated agents against one coordinator, measuring request latency,
//! desired-state fan-out and the coordinator's memory.
//!
//! Phases: set up N hosts (register, assign a role) · start N agents spread over one report
//! interval (first fetch, then long-poll + periodic reports) and record latencies · change one
//! setting every host's config depends on and time until every agent's long-poll returned it ·
//! read the coordinator's peak RSS.

pub mod agent;
pub mod process;
pub mod setup;
pub mod stats;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lgtm_client::{Client, http_builder};
use lgtm_model::process::ProcessId;
use lgtm_model::{Backend, Role};
use tokio::task::JoinSet;

use agent::{Agent, Shared};
use stats::Samples;

/// Agents per loopback source address, so 10,000 agents' connections stay far from the
/// ephemeral port range's end.
const AGENTS_PER_SOURCE: usize = 1000;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Simulated agents.
    pub agents: usize,
    /// An already running coordinator instead of starting one.
    pub coordinator: Option<String>,
    /// PID of that coordinator, for its RSS.
    pub coordinator_pid: Option<u32>,
    /// The coordinator binary to start.
    pub coordinator_bin: Option<PathBuf>,
    /// The role every host gets.
    pub role: String,
    /// Report interval of each agent.
    pub report_every: Duration,
    /// How long latencies are measured once every agent runs.
    pub measure: Duration,
    /// Concurrent requests while setting up hosts.
    pub setup_concurrency: usize,
    /// Limit for setting up hosts and starting agents.
    pub setup_timeout: Duration,
    /// Limit for the fan-out.
    pub fanout_timeout: Duration,
}

/// The measured figures.
#[derive(Debug)]
pub struct Summary {
    /// Simulated agents.
    pub agents: usize,
    /// Latencies of reports once every agent runs.
    pub reports: Samples,
    /// Latencies of every agent's first fetch, answered at once, during the start.
    pub immediate: Samples,
    /// From the first agent's start until every agent had its desired state.
    pub ramp: Duration,
    /// Time until every agent had the changed desired state; `None` when it timed out.
    pub fanout: Option<Duration>,
    /// Agents that got the change.
    pub fanout_arrived: usize,
    /// Peak RSS of the coordinator in MiB, when known.
    pub rss_mb: Option<f64>,
    /// CPU the coordinator and this load generator used while latencies were measured.
    pub cpu: Option<Cpu>,
    /// Failed requests.
    pub errors: usize,
    /// The first failure.
    pub first_error: Option<String>,
}

/// CPU time over the measurement window.
#[derive(Clone, Copy, Debug)]
pub struct Cpu {
    /// The window, in seconds.
    pub window_s: f64,
    /// The coordinator's CPU seconds.
    pub coordinator_s: f64,
    /// This load generator's CPU seconds (its simulated agents).
    pub loadgen_s: f64,
}

impl Summary {
    /// The one result line: `agents=N p50_ms=.. p99_ms=.. fanout_ms=.. rss_mb=..` (latencies
    /// of reports once every agent runs).
    pub fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or("none".to_owned(), |v| format!("{v:.1}"));
        let fanout = self
            .fanout
            .map_or("timeout".to_owned(), |d| d.as_millis().to_string());
        format!(
            "agents={} p50_ms={} p99_ms={} fanout_ms={fanout} rss_mb={}",
            self.agents,
            ms(self.reports.percentile_ms(50.0)),
            ms(self.reports.percentile_ms(99.0)),
            ms(self.rss_mb),
        )
    }
}

/// 198.18.0.0/15 (benchmark addresses), host `i` from 1: written as data, never contacted.
pub fn sim_address(i: usize) -> IpAddr {
    let n = u32::try_from(i).unwrap_or(u32::MAX) & 0x1_ffff;
    IpAddr::V4(Ipv4Addr::from(0xc612_0000 | n))
}

/// `sim-00001`.
pub fn sim_host(i: usize) -> String {
    format!("sim-{i:05}")
}

/// Runs the whole benchmark.
pub async fn run(o: Options) -> anyhow::Result<Summary> {
    let role =
        Role::resolve(&o.role, None, Backend::Mimir).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    // One connection per agent (HTTP/2: its long-poll and reports share it), and slack.
    let want = o.agents as u64 + 4096;
    let nofile = process::raise_nofile(want)?;
    eprintln!("loadgen: RLIMIT_NOFILE {nofile} (inherited by a coordinator started here)");
    if nofile < want {
        eprintln!(
            "loadgen: wanted {want} open files; the hard limit is lower and raising it needs CAP_SYS_RESOURCE"
        );
    }

    let spawned = match &o.coordinator {
        Some(_) => None,
        None => {
            let bin = match &o.coordinator_bin {
                Some(b) => b.clone(),
                None => process::default_binary()?,
            };
            Some(process::Spawned::start(&bin).await?)
        }
    };
    let base = match (&o.coordinator, &spawned) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(s)) => s.url.clone(),
        (None, None) => bail!("no coordinator"),
    };
    let pid = o
        .coordinator_pid
        .or(spawned.as_ref().map(process::Spawned::pid));
    eprintln!("loadgen: coordinator {base} (pid {pid:?})");

    // Setup requests queue behind each other in the coordinator's single writer: only the
    // overall setup limit bounds them.
    // The admin token: the spawned coordinator's, or LGTM_TOKEN for one already running.
    let admin = match &spawned {
        Some(s) => s.admin_token()?,
        None => std::env::var("LGTM_TOKEN")
            .context("set LGTM_TOKEN to the coordinator's admin token")?,
    };
    // The CA: the spawned coordinator's, or LGTM_CA_FILE for one already running.
    let ca = match &spawned {
        Some(s) => s.ca()?,
        None => {
            let file = std::env::var("LGTM_CA_FILE")
                .context("set LGTM_CA_FILE to the coordinator's tls/ca.pem")?;
            reqwest::Certificate::from_pem(&std::fs::read(&file)?)?
        }
    };
    let base: lgtm_client::Url = base
        .parse()
        .with_context(|| format!("coordinator URL {base}"))?;
    let http = http_builder("lgtm-loadgen", Some(ca.clone())).build()?;
    let api = Client::new(base.clone(), http)
        .with_token(Some(admin.trim().to_owned()))
        .with_timeout(o.setup_timeout.max(Duration::from_secs(60)));
    let started = Instant::now();
    let tokens = setup::hosts(&api, o.agents, role, o.setup_concurrency, o.setup_timeout).await?;
    eprintln!(
        "loadgen: {} hosts registered and assigned {role} in {:.1}s",
        o.agents,
        started.elapsed().as_secs_f64()
    );

    let shared = Arc::new(Shared::default());
    let unit = ProcessId::for_role(role).unit_name();
    let bind_sources = spawned.is_some();
    // Every client is built before any agent starts: building one costs about a
    // millisecond here, which would otherwise stretch the start and load this process.
    let mut ready = Vec::with_capacity(o.agents);
    for i in 1..=o.agents {
        // Like a real agent: the shared client, its version on every request, its own
        // connection.
        let mut b = http_builder("lgtm-loadgen", Some(ca.clone()))
            .pool_idle_timeout(Duration::from_secs(120));
        if bind_sources {
            let octet = u8::try_from((i - 1) / AGENTS_PER_SOURCE % 250 + 2).unwrap_or(2);
            b = b.local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, octet)));
        }
        let agent = Agent {
            host: sim_host(i).parse()?,
            api: Client::new(base.clone(), b.build()?).with_token(Some(tokens[i - 1].clone())),
            unit: unit.clone(),
            start_after: o.report_every.mul_f64(i as f64 / o.agents as f64),
            report_every: o.report_every,
        };
        ready.push(agent);
    }
    let mut agents = JoinSet::new();
    for agent in ready {
        agents.spawn(agent.run(shared.clone()));
    }
    let ramp = Instant::now();
    let all_started = async {
        while shared.started.load(Ordering::Relaxed) < o.agents {
            shared.arrival.notified().await;
        }
    };
    tokio::time::timeout(o.setup_timeout, all_started)
        .await
        .with_context(|| {
            format!(
                "only {} of {} agents got their desired state within {:?}",
                shared.started.load(Ordering::Relaxed),
                o.agents,
                o.setup_timeout
            )
        })?;
    // The start is a reconnect storm (every agent's TLS handshake and first fetch at once),
    // reported on its own above; latencies are measured once its backlog has drained.
    let ramp_took = ramp.elapsed();
    tokio::time::sleep(o.report_every).await;
    eprintln!(
        "loadgen: {} agents running after {:.1}s; measuring for {:?} after one report interval",
        o.agents,
        ramp_took.as_secs_f64(),
        o.measure
    );
    shared.measuring.store(true, Ordering::Relaxed);
    let ticks = |pid: Option<u32>| -> anyhow::Result<Option<u64>> {
        pid.map(|p| lgtm_tests::procfs::cpu_ticks(p as i32))
            .transpose()
    };
    let me = Some(std::process::id());
    let (window, coordinator0, loadgen0) = (Instant::now(), ticks(pid)?, ticks(me)?);
    tokio::time::sleep(o.measure).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let tck = lgtm_tests::procfs::clk_tck()?;
    let cpu = match (coordinator0, ticks(pid)?, loadgen0, ticks(me)?) {
        (Some(c0), Some(c1), Some(l0), Some(l1)) => Some(Cpu {
            window_s: window.elapsed().as_secs_f64(),
            coordinator_s: c1.saturating_sub(c0) as f64 / tck,
            loadgen_s: l1.saturating_sub(l0) as f64 / tck,
        }),
        _ => None,
    };

    let fanout = fan_out(&api, role.backend(), &shared, o.agents, o.fanout_timeout).await?;
    agents.abort_all();
    let rss_mb = match pid {
        Some(pid) => Some(lgtm_tests::procfs::status_mib(pid as i32, "VmHWM")?),
        None => None,
    };
    drop(spawned);

    let reports = shared.reports.lock().map(|s| s.clone()).unwrap_or_default();
    let immediate = shared
        .immediate
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    Ok(Summary {
        agents: o.agents,
        reports,
        immediate,
        ramp: ramp_took,
        fanout,
        fanout_arrived: shared.fanout_arrived.load(Ordering::Relaxed),
        rss_mb,
        cpu,
        errors: shared.errors.load(Ordering::Relaxed),
        first_error: shared.first_error.lock().ok().and_then(|e| e.clone()),
    })
}

/// Changes `<backend>.log_level` and waits until every agent got a desired state past it.
async fn fan_out(
    api: &Client,
    backend: Backend,
    shared: &Shared,
    agents: usize,
    timeout: Duration,
) -> anyhow::Result<Option<Duration>> {
    let key = format!("{backend}.log_level");
    let settings = api.settings().await?.value;
    let current = settings
        .iter()
        .find(|s| s.key == key)
        .and_then(|s| s.value.clone());
    let value = if current.as_deref() == Some("debug") {
        "info"
    } else {
        "debug"
    };
    let status = api.status().await?.value;
    shared
        .fanout_baseline
        .store(status.index, Ordering::Release);

    let started = Instant::now();
    api.set_setting(&key, value.into(), false, None).await?;
    let all_arrived = async {
        while shared.fanout_arrived.load(Ordering::Acquire) < agents {
            shared.arrival.notified().await;
        }
        started.elapsed()
    };
    let took = tokio::time::timeout(timeout, all_arrived).await.ok();
    match took {
        Some(d) => eprintln!(
            "loadgen: {key}={value}: all {agents} long-polls returned the change in {} ms",
            d.as_millis()
        ),
        None => eprintln!(
            "loadgen: {key}={value}: only {} of {agents} long-polls returned the change within {timeout:?}",
            shared.fanout_arrived.load(Ordering::Relaxed)
        ),
    }
    Ok(took)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_hosts_use_benchmark_addresses() {
        assert_eq!(sim_host(1), "sim-00001");
        assert_eq!(sim_host(10_000), "sim-10000");
        assert_eq!(sim_address(1).to_string(), "198.18.0.1");
        assert_eq!(sim_address(10_000).to_string(), "198.18.39.16");
        assert_eq!(sim_address(70_000).to_string(), "198.19.17.112");
    }
}
