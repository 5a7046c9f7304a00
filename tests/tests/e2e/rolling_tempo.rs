//! Rolling restarts against the real Tempo: a third ingester host raises the ingesters'
//! replication from 1 to 3 and a log level change restarts every process, in one rollout,
//! while traces keep coming and being fetched through the gateway.
//!
//! Tempo finds a trace by id from a quorum of ingesters (2 of 3 once at replication 3): a
//! trace written at replication 1 lives on one ingester only, and a querier at replication 3
//! misses it unless it is in object storage and in the querier's block list. The rollout
//! restarts the distributors first, flushes the ingesters, waits for two block list polls,
//! and only then restarts queriers and ingesters: no fetch may miss a trace. A frontend whose
//! only querier restarts leaves the gateway meanwhile: no fetch may fail either.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use lgtm_model::gateway::{TEMPO_OTLP_GRPC_PORT, TEMPO_OTLP_HTTP_PORT, TEMPO_QUERY_PORT};
use lgtm_tests::clients::otlp::{self, Protocol};
use lgtm_tests::lab::Host;

use super::real::{
    assign_all, flush, place, process, send_traces, short_blocklist_poll, traces_queryable,
    wait_all,
};
use super::rolling::rollout_idle;
use super::support::*;

/// A fetch that found no span of a trace sent before.
const MISSED: &str = "0 spans";

/// What the load saw.
#[derive(Debug, Default)]
struct Load {
    sent: Vec<String>,
    refused: Vec<String>,
    fetches: usize,
    /// Failed fetches: when (UTC, as the lab's logs say it) and what.
    fetch_failures: Vec<(String, String)>,
    /// Most ingesters not (active and ready) at one sample.
    max_down: usize,
    down_samples: Vec<String>,
}

impl Load {
    /// Asserts that the load ran, no export was refused and never two ingesters were down.
    fn assert_clean(&self) {
        assert!(self.refused.is_empty(), "{:#?}", self.refused);
        assert!(
            self.max_down <= 1,
            "more than one ingester down at once: {:?}",
            self.down_samples
        );
        assert!(self.sent.len() > 20, "the load ran: {self:?}");
    }
}

/// Real Tempo, distributors, query-frontends, queriers and ingesters on two hosts (replication
/// 1): an ingester on a third host moves the ring to replication 3, and the processes of the
/// first two restart one wave at a time while OTLP exports and trace fetches go on through
/// the gateway, none refused, never two ingesters down, every trace found once flushed.
#[test]
fn real_tempo_replication_rises_from_1_to_3_under_load_without_a_refused_export() {
    let Some(lab) = real_lab(3, &[Backend::Tempo]) else {
        return;
    };
    ctl_ok(&lab, &["config", "set", "rollout.min_healthy_seconds", "5"]);
    short_blocklist_poll(&lab);
    let serving = "distributor,ingester,query-frontend,querier";
    place(
        &lab,
        "tempo",
        &[
            &format!("host1={serving},compactor"),
            &format!("host2={serving}"),
        ],
    );
    assign(&lab, "host1", "tempo:gateway");
    wait_all(&lab);
    rollout_idle(&lab, Duration::from_secs(600));
    let gw = lab.host(1);
    let seed = send_traces(gw, "seed");
    traces_queryable(gw, &seed, 1, "before the change");
    let ingester = process("tempo:ingester");
    // Two changes in one rollout: paused, host3 takes an ingester (replication 1 -> 3) and
    // the log level changes (every process restarts), then resumed.
    let (load, took) = under_load(gw, &seed, &[lab.host(1), lab.host(2)], || {
        ctl_ok(
            &lab,
            &["rollout", "pause", "--reason", "two changes at once"],
        );
        assign_all(&lab, 3, &["tempo:ingester"]);
        ctl_ok(&lab, &["config", "set", "tempo.log_level", "warn"]);
        ctl_ok(&lab, &["rollout", "resume"]);
        rollout_idle(&lab, Duration::from_secs(900));
    });
    eprintln!(
        "Tempo replication 1 -> 3 and log level took {:.0}s; {} traces sent, {} refused; {} fetches, {} failed",
        took.as_secs_f64(),
        load.sent.len(),
        load.refused.len(),
        load.fetches,
        load.fetch_failures.len()
    );
    let missed = |(_, what): &&(String, String)| what == MISSED;
    let misses = load.fetch_failures.iter().filter(missed).count();
    eprintln!(
        "fetches that missed a trace written at replication 1: {misses}; other failures: {:#?}",
        load.fetch_failures
            .iter()
            .filter(|f| !missed(f))
            .collect::<Vec<_>>()
    );
    load.assert_clean();
    assert_eq!(misses, 0, "a fetch missed a trace written at replication 1");
    // A frontend whose only querier restarts leaves the gateway: nothing waits on it.
    assert!(
        load.fetch_failures.is_empty(),
        "fetches failed: {:#?}",
        load.fetch_failures
    );
    let status = cluster_status(&lab);
    let tempo = status
        .backends
        .iter()
        .find(|b| b.backend == Backend::Tempo)
        .expect("tempo");
    assert!(
        tempo.replication.iter().any(|r| r.factor == 3),
        "{:?}",
        tempo.replication
    );
    for n in 1..=3 {
        flush(lab.host(n), ingester.ports().http);
    }
    traces_queryable(gw, &seed, 1, "flushed after the change");
    traces_queryable(gw, &load.sent, 1, "flushed after the change");
}

/// Exports traces through `gw` (OTLP/HTTP and gRPC in turn, paced) and fetches the `seed`
/// traces by id every 250 ms while sampling the ingesters of `sampled`; makes `change` after
/// 5 s and stops 5 s after it returned: what the load saw, and how long `change` took.
fn under_load(
    gw: &Host,
    seed: &[String],
    sampled: &[&Host],
    change: impl FnOnce(),
) -> (Load, Duration) {
    let ingester = process("tempo:ingester");
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut load = Load::default();
            let protocols = [
                (Protocol::Http, TEMPO_OTLP_HTTP_PORT),
                (Protocol::Grpc, TEMPO_OTLP_GRPC_PORT),
            ];
            for (p, port) in protocols.into_iter().cycle() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match otlp::send_trace(p, gw.addr(port), "rolling") {
                    Ok(id) => load.sent.push(id),
                    Err(e) => load.refused.push(e),
                }
                // Paced, so that finding every trace afterwards stays quick.
                thread::sleep(Duration::from_millis(200));
            }
            load
        });
        let watcher = s.spawn(|| {
            let mut load = Load::default();
            let query = gw.addr(TEMPO_QUERY_PORT);
            while !stop.load(Ordering::SeqCst) {
                load.fetches += 1;
                let sent = lgtm_tests::clock::utc_now();
                match otlp::trace_spans(query, &seed[load.fetches % seed.len()]) {
                    Ok(2) => {}
                    Ok(0) => load.fetch_failures.push((sent, MISSED.into())),
                    Ok(n) => load.fetch_failures.push((sent, format!("{n} spans"))),
                    Err(e) => load.fetch_failures.push((sent, e)),
                }
                let down: Vec<&str> = sampled
                    .iter()
                    .filter(|h| {
                        show(h, &ingester.unit_name(), "ActiveState") != "active"
                            || ready(h, ingester.ports().http).is_none()
                    })
                    .map(|h| h.name())
                    .collect();
                if down.len() > 1 {
                    load.down_samples.push(down.join(","));
                }
                load.max_down = load.max_down.max(down.len());
                thread::sleep(Duration::from_millis(250));
            }
            load
        });
        thread::sleep(Duration::from_secs(5));
        let started = Instant::now();
        change();
        let took = started.elapsed();
        thread::sleep(Duration::from_secs(5));
        stop.store(true, Ordering::SeqCst);
        let mut load = sender.join().unwrap();
        let watched = watcher.join().unwrap();
        load.fetches = watched.fetches;
        load.fetch_failures = watched.fetch_failures;
        load.max_down = watched.max_down;
        load.down_samples = watched.down_samples;
        (load, took)
    })
}
