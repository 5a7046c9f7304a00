//! Setting up the simulated hosts: register each (as its agent would) and assign it a role,
//! a few requests at a time, with progress on stderr and a time limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use lgtm_client::Client;
use lgtm_model::Role;
use lgtm_model::wire::{AssignRequest, RegisterRequest};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{sim_address, sim_host};

/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Registers hosts 1..=n with a join token, as their agents would, then assigns each `role`,
/// `concurrency` requests at a time; the hosts' credentials, in order.
pub async fn hosts(
    api: &Client,
    n: usize,
    role: Role,
    concurrency: usize,
    limit: Duration,
) -> anyhow::Result<Vec<String>> {
    let registered = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    // Latency of the latest assignment: each change costs the coordinator more as hosts grow.
    let last_change_us = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let counters = Counters {
        registered: registered.clone(),
        assigned: done.clone(),
        last_change_us: last_change_us.clone(),
    };
    let work = run(api, n, role, concurrency, &counters);
    let progress = async {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            eprintln!(
                "loadgen: {}/{n} hosts registered, {}/{n} assigned after {:.0}s; latest assignment took {} ms",
                registered.load(Ordering::Relaxed),
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
                "setting up {n} hosts took longer than {limit:?}: {} were registered, {} assigned; the latest assignment took {} ms",
                registered.load(Ordering::Relaxed),
                done.load(Ordering::Relaxed),
                last_change_us.load(Ordering::Relaxed) / 1000
            ),
        },
        () = progress => unreachable!("the progress loop never ends"),
    }
}

/// Setup progress, shared with the progress printer.
struct Counters {
    registered: Arc<AtomicUsize>,
    assigned: Arc<AtomicUsize>,
    last_change_us: Arc<AtomicU64>,
}

async fn run(
    api: &Client,
    n: usize,
    role: Role,
    concurrency: usize,
    c: &Counters,
) -> anyhow::Result<Vec<String>> {
    object_storage(api, role).await?;
    let join = api.create_join_token(24 * 3600).await?.value.token;
    let joining = api.with_token(Some(join));
    let tokens = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
    // Register every host first: a host without roles renders to nothing, so registrations
    // stay cheap; each assignment then re-renders only hosts that run something.
    each_host(n, concurrency, |i| {
        let joining = joining.clone();
        let registered = c.registered.clone();
        let tokens = tokens.clone();
        async move {
            let register = RegisterRequest {
                host: sim_host(i).parse()?,
                address: sim_address(i),
                data_root: "/var/lib/lgtm".into(),
                agent_version: "loadgen".into(),
            };
            let record = joining.register(&register).await?.value;
            let Some(token) = record.credential else {
                bail!("joining {} gave no credential", sim_host(i));
            };
            tokens.lock().unwrap_or_else(|p| p.into_inner())[i - 1] = token;
            registered.fetch_add(1, Ordering::Relaxed);
            anyhow::Ok(())
        }
    })
    .await?;
    each_host(n, concurrency, |i| {
        let api = api.clone();
        let (done, last_change_us) = (c.assigned.clone(), c.last_change_us.clone());
        async move {
            let assign = AssignRequest {
                role: role.to_string(),
                backend: None,
            };
            let t = Instant::now();
            api.assign(&sim_host(i).parse()?, &assign, None).await?;
            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            last_change_us.store(us, Ordering::Relaxed);
            done.fetch_add(1, Ordering::Relaxed);
            anyhow::Ok(())
        }
    })
    .await?;
    let tokens = std::mem::take(&mut *tokens.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(tokens)
}

/// Puts the role's backend on S3 settings, as a backend on many hosts needs (filesystem
/// storage is for one host). Simulated agents run nothing, so no server is needed.
async fn object_storage(api: &Client, role: Role) -> anyhow::Result<()> {
    let b = role.backend();
    for (key, value) in [
        ("storage.s3.endpoint", "http://198.18.0.1:9000".to_owned()),
        ("storage.s3.bucket", format!("loadgen-{b}")),
        ("storage.s3.access_key_id", "loadgen".to_owned()),
        ("storage.s3.secret_access_key", "loadgen-secret".to_owned()),
        ("storage.s3.path_style", "true".to_owned()),
        ("storage.backend", "s3".to_owned()),
    ] {
        api.set_setting(&format!("{b}.{key}"), value, false, None)
            .await?;
    }
    Ok(())
}

/// Runs `job(i)` for i in 1..=n, `concurrency` at a time, stopping at the first error.
async fn each_host<F, Fut>(n: usize, concurrency: usize, job: F) -> anyhow::Result<()>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for i in 1..=n {
        let permit = limit.clone().acquire_owned().await?;
        let work = job(i);
        tasks.spawn(async move {
            let _permit = permit;
            work.await
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
