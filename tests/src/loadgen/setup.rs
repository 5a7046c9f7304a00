//! Setting up the simulated hosts: register each (as its agent would) and assign it a role,
//! a few requests at a time, with progress on stderr and a time limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use lgtm_model::Role;
use lgtm_model::wire::{AssignRequest, RegisterRequest};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{sim_address, sim_host};

/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Registers hosts 1..=n and assigns each `role`, `concurrency` hosts at a time.
pub async fn hosts(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    role: Role,
    concurrency: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let done = Arc::new(AtomicUsize::new(0));
    // Latency of the latest assignment: each change costs the coordinator more as hosts grow.
    let last_change_us = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let work = run(http, base, n, role, concurrency, &done, &last_change_us);
    let progress = async {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            eprintln!(
                "loadgen: {}/{n} hosts set up after {:.0}s; latest assignment took {} ms",
                done.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64(),
                last_change_us.load(Ordering::Relaxed) / 1000
            );
        }
    };
    tokio::select! {
        result = tokio::time::timeout(limit, work) => match result {
            Ok(r) => r,
            Err(_) => bail!(
                "setting up {n} hosts took longer than {limit:?}: {} were registered and assigned; the latest assignment took {} ms",
                done.load(Ordering::Relaxed),
                last_change_us.load(Ordering::Relaxed) / 1000
            ),
        },
        () = progress => unreachable!("the progress loop never ends"),
    }
}

async fn run(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    role: Role,
    concurrency: usize,
    done: &Arc<AtomicUsize>,
    last_change_us: &Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for i in 1..=n {
        let permit = limit.clone().acquire_owned().await?;
        let (http, base) = (http.clone(), base.to_owned());
        let (done, last_change_us) = (done.clone(), last_change_us.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let host = sim_host(i);
            let register = RegisterRequest {
                host: host.parse()?,
                address: sim_address(i),
                data_root: "/var/lib/lgtm".into(),
                agent_version: "loadgen".into(),
            };
            send(http.post(format!("{base}/v1/hosts")).json(&register)).await?;
            let assign = AssignRequest {
                role: role.to_string(),
                backend: None,
            };
            let t = Instant::now();
            send(http.post(format!("{base}/v1/hosts/{host}/roles")).json(&assign)).await?;
            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            last_change_us.store(us, Ordering::Relaxed);
            done.fetch_add(1, Ordering::Relaxed);
            anyhow::Ok(())
        });
        // Surface the first failure early instead of after all hosts.
        while let Some(finished) = tasks.try_join_next() {
            finished??;
        }
    }
    while let Some(finished) = tasks.join_next().await {
        finished??;
    }
    Ok(())
}

/// Sends a request; a non-2xx answer is an error carrying the coordinator's body.
pub async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<String> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("coordinator answered {status}: {body}");
    }
    Ok(body)
}
