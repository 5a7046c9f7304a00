//! Draining: a ring member leaving its host first flushes and leaves its ring, then stops;
//! with the real Loki under push load nothing pushed is lost, and `host remove` drains a host
//! before it forgets it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use lgtm_model::gateway::{
    LOKI_PORT, TEMPO_OTLP_GRPC_PORT, TEMPO_OTLP_HTTP_PORT, TEMPO_QUERY_PORT,
};
use lgtm_tests::clients::loki::{self, Stream};
use lgtm_tests::clients::otlp::{self, Protocol};
use lgtm_tests::lab::{Host, http};

use super::real::{
    assign_all, process, send_traces, short_blocklist_poll, traces_queryable, wait_all,
};
use super::rolling::{logs_all_there, rollout_idle};
use super::support::*;

/// The stand-in logs this when asked to flush and leave its ring, as upstream's ingesters do.
const SHUT_DOWN: &str = "ingester shut down: flushed and left the ring";

/// Mimir (stand-in) on three hosts, an ingester on each: `lgtmctl drain` flushes host3's
/// ingester before its process stops, `host remove` drains host2 before it forgets it, and
/// `--force` stops at once.
#[test]
fn drain_and_host_remove_flush_ring_members_before_they_stop() {
    let Some(lab) = lab(3) else { return };
    for role in [
        "distributor",
        "ingester",
        "querier",
        "query-frontend",
        "query-scheduler",
        "store-gateway",
        "compactor",
        "ruler",
    ] {
        assign(&lab, "host1", &format!("mimir:{role}"));
    }
    assign(&lab, "host2", "mimir:ingester");
    assign(&lab, "host3", "mimir:ingester");
    for h in lab.hosts() {
        wait_host(&lab, h.name());
    }
    let unit = process("mimir:ingester").unit_name();

    let out = ctl_ok(&lab, &["drain", "host3", "--wait", "--timeout", "3m"]);
    eprintln!("{out}");
    assert!(
        out.contains("drained host3: unassigned mimir:ingester")
            && out.contains(&format!("{unit} flushes and leaves its ring first")),
        "{out}"
    );
    let h3 = lab.host(3);
    assert_eq!(show(h3, &unit, "LoadState"), "not-found", "unit removed");
    let journal = h3.journal(&unit, 200).unwrap();
    let flushed = journal.find(SHUT_DOWN);
    let stopped = journal.find("lgtm-standin stopping");
    assert!(
        matches!((flushed, stopped), (Some(f), Some(s)) if f < s),
        "host3's ingester flushed and left its ring before it stopped:\n{journal}"
    );
    let hosts: serde_json::Value =
        serde_json::from_str(&ctl_ok(&lab, &["--output", "json", "hosts"])).unwrap();
    let h3_roles = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "host3")
        .map(|h| h["roles"].clone());
    assert_eq!(h3_roles, Some(serde_json::json!([])), "{hosts:#}");

    // `host remove` drains first (once the replication change of host3's drain rolled
    // through: host1's ingester must be ready for host2's to leave).
    rollout_idle(&lab, Duration::from_secs(180));
    let out = ctl_ok(&lab, &["host", "remove", "host2", "--timeout", "3m"]);
    assert!(out.starts_with("removed host host2"), "{out}");
    let h2 = lab.host(2);
    until("host2's ingester to be removed", || {
        (show(h2, &unit, "LoadState") == "not-found").then_some(())
    });
    let journal = h2.journal(&unit, 200).unwrap();
    assert!(journal.contains(SHUT_DOWN), "host2 drained:\n{journal}");

    // The last ingester: refused (writes would fail), unless forced.
    let out = ctl(&lab, &["drain", "host1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mimir:ingester ring runs with replication factor 1 and needs 1 ready member")
            && err.contains("--force"),
        "{err}"
    );
    let out = ctl_ok(&lab, &["drain", "host1", "--force", "--wait"]);
    assert!(out.starts_with("drained host1"), "{out}");
    let journal = lab.host(1).journal(&unit, 200).unwrap();
    assert!(
        !journal.contains(SHUT_DOWN),
        "forced: stopped without a drain:\n{journal}"
    );
}

/// What the load saw.
#[derive(Debug, Default)]
struct Load {
    /// Lines acknowledged.
    pushed: BTreeSet<String>,
    /// Pushes refused and sent again, as log shippers do.
    refused: Vec<String>,
}

/// Pushes a line every 50 ms to one of eight streams (so both ingesters own some, at
/// replication factor 1), until `stop`; a refused push is sent again after 100 ms.
fn run_load(gw: SocketAddr, stop: &AtomicBool) -> Load {
    let mut load = Load::default();
    let mut i = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let line = format!("drain line {i:06}");
        let labels = format!("{{job=\"drain\",stream=\"s{}\"}}", i % 8);
        let lines = [(loki::now_ns(), line.clone())];
        let stream = Stream {
            labels: &labels,
            lines: &lines,
        };
        loop {
            match loki::push_protobuf(gw, &stream) {
                Ok(_) => break,
                Err(e) => load.refused.push(format!("{line}: {e}")),
            }
            assert!(load.refused.len() < 50, "pushes keep failing: {load:#?}");
            thread::sleep(Duration::from_millis(100));
        }
        load.pushed.insert(line);
        i += 1;
        thread::sleep(Duration::from_millis(50));
    }
    load
}

/// Real Loki, write processes on two hosts at replication factor 1 (every stream on one
/// ingester only): draining host2 under push load flushes its ingester and takes it out of
/// the ring while it still runs, then stops it; every line acknowledged is still there.
#[test]
fn real_loki_drain_under_load_loses_nothing() {
    let Some(lab) = real_lab(2, &[Backend::Loki]) else {
        return;
    };
    for role in ["loki:write", "loki:read", "loki:backend", "loki:gateway"] {
        assign(&lab, "host1", role);
    }
    assign(&lab, "host2", "loki:write");
    wait_all(&lab);
    let gw = lab.host(1).addr(LOKI_PORT);
    let write = process("loki:write");
    let ring_at = lab.host(1).addr(write.ports().http);
    let h2 = lab.host(2);
    let member = h2.addr(write.ports().grpc).to_string();
    let unit = write.unit_name();

    let stop = AtomicBool::new(false);
    let (load, (seen, left_while_running), took, out) = thread::scope(|s| {
        let load = s.spawn(|| run_load(gw, &stop));
        let watcher = s.spawn(|| watch_ring(ring_at, "/ring", &member, h2, &unit, &stop));
        thread::sleep(Duration::from_secs(10));
        let started = Instant::now();
        let out = ctl_ok(
            &lab,
            &[
                "drain",
                "host2",
                "--backend",
                "loki",
                "--wait",
                "--timeout",
                "5m",
            ],
        );
        let took = started.elapsed();
        thread::sleep(Duration::from_secs(5));
        stop.store(true, Ordering::SeqCst);
        (load.join().unwrap(), watcher.join().unwrap(), took, out)
    });
    eprintln!(
        "drain of host2's write process took {:.1}s; {} lines pushed, {} pushes refused and sent again: {:#?}",
        took.as_secs_f64(),
        load.pushed.len(),
        load.refused.len(),
        load.refused
    );
    assert!(
        out.contains(&format!(
            "{} flushes and leaves its ring first",
            write.unit_name()
        )),
        "{out}"
    );
    assert_eq!(
        show(h2, &write.unit_name(), "LoadState"),
        "not-found",
        "host2's write process is gone"
    );
    assert!(
        seen && left_while_running,
        "host2's ingester left the ring before its unit stopped (seen {seen}, left while running {left_while_running})"
    );
    assert!(load.pushed.len() > 100, "the load ran: {load:?}");
    // At replication factor 1 the ingester leaving is the only one for its streams: Loki
    // refuses their pushes from the moment it stops taking writes until it is out of the
    // ring. The ingester says it is shutting down; a distributor that already sees it LEAVING
    // finds no replica, as its ring lookup never extends past a member that is not ACTIVE
    // (`ring.WriteNoExtend` in Loki's distributor). Only those two refusals are expected.
    assert!(
        load.refused
            .iter()
            .all(|r| r.contains("Ingester is shutting down")
                || (r.contains("live replicas required") && r.contains(&member))),
        "{:#?}",
        load.refused
    );
    // Everything pushed, host2's streams included, comes back from host1 and the store.
    logs_all_there(gw, "{job=\"drain\"}", &load.pushed);
    let out = ctl_ok(&lab, &["host", "remove", "host2"]);
    assert!(out.starts_with("removed host host2"), "{out}");
}

/// Samples every 50 ms whether `leaving`'s `unit` was out of the ring page `page` at
/// `ring_at` while it still ran: (seen in the ring, seen out of it while running). The
/// coordinator releases the stop as soon as every ring page lets the member go, so the
/// window to catch can be a fraction of a second.
fn watch_ring(
    ring_at: SocketAddr,
    page: &str,
    member: &str,
    leaving: &Host,
    unit: &str,
    stop: &AtomicBool,
) -> (bool, bool) {
    let (mut seen, mut left_while_running) = (false, false);
    while !stop.load(Ordering::SeqCst) {
        let answer = http::request("GET", ring_at, page, &[("Accept", "application/json")], b"");
        if let Ok(answer) = answer
            && answer.status == 200
        {
            let in_ring = lgtm_model::ring::verdict(&answer.text(), member).is_ok();
            seen |= in_ring;
            if seen && !in_ring && show(leaving, unit, "ActiveState") == "active" {
                left_while_running = true;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    (seen, left_while_running)
}

/// Real Tempo, ingesters on two hosts at replication factor 1 (every trace on one ingester
/// only): draining host2 while traces keep coming flushes its ingester (`/flush`, then
/// `/shutdown`) and takes it out of the ring while it still runs, then stops it; every trace
/// sent before and during the drain is found afterwards.
#[test]
fn real_tempo_drain_flushes_an_ingester_and_loses_no_trace() {
    let Some(lab) = real_lab(2, &[Backend::Tempo]) else {
        return;
    };
    // Traces flushed by the drained ingester are served from the store once queriers poll
    // its block list (at most twice `blocklist_poll`, 5 min upstream): short here.
    short_blocklist_poll(&lab);
    assign_all(
        &lab,
        1,
        &[
            "tempo:distributor",
            "tempo:ingester",
            "tempo:query-frontend",
            "tempo:querier",
            "tempo:compactor",
            "tempo:gateway",
        ],
    );
    assign_all(&lab, 2, &["tempo:ingester"]);
    wait_all(&lab);
    let gw = lab.host(1);
    let h2 = lab.host(2);
    let ingester = process("tempo:ingester");
    let unit = ingester.unit_name();
    let mut traces: Vec<String> = (0..3)
        .flat_map(|i| send_traces(gw, &format!("before-{i}")))
        .collect();
    traces_queryable(gw, &traces, 1, "before the drain");

    let member = h2.addr(ingester.ports().grpc).to_string();
    let ring_at = gw.addr(ingester.ports().http);
    let stop = AtomicBool::new(false);
    let ((during, refused), (seen, left_while_running), took, out) = thread::scope(|s| {
        let sender = s.spawn(|| {
            let (mut ids, mut refused) = (Vec::new(), Vec::new());
            let protocols = [
                (Protocol::Http, TEMPO_OTLP_HTTP_PORT),
                (Protocol::Grpc, TEMPO_OTLP_GRPC_PORT),
            ];
            for (p, port) in protocols.into_iter().cycle() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                // An export refused is sent again, as OTLP exporters do.
                loop {
                    match otlp::send_trace(p, gw.addr(port), "during") {
                        Ok(id) => break ids.push(id),
                        Err(e) => refused.push(e),
                    }
                    assert!(refused.len() < 50, "exports keep failing: {refused:#?}");
                }
            }
            (ids, refused)
        });
        let watcher = s.spawn(|| watch_ring(ring_at, "/ingester/ring", &member, h2, &unit, &stop));
        thread::sleep(Duration::from_secs(3));
        let started = Instant::now();
        let out = ctl_ok(&lab, &["drain", "host2", "--wait", "--timeout", "5m"]);
        let took = started.elapsed();
        thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::SeqCst);
        (sender.join().unwrap(), watcher.join().unwrap(), took, out)
    });
    eprintln!(
        "drain of host2's Tempo ingester took {:.1}s; {} traces sent during it, {} exports refused and sent again: {refused:#?}",
        took.as_secs_f64(),
        during.len(),
        refused.len()
    );
    assert!(
        out.contains(&format!("{unit} flushes and leaves its ring first")),
        "{out}"
    );
    assert_eq!(show(h2, &unit, "LoadState"), "not-found", "removed");
    assert!(
        seen && left_while_running,
        "host2's ingester left the ring before its unit stopped (seen {seen}, left while running {left_while_running})"
    );
    assert!(!during.is_empty(), "traces were sent during the drain");
    let before = traces.len();
    traces.extend(during);
    let query = gw.addr(TEMPO_QUERY_PORT);
    let mut missing: Vec<String> = Vec::new();
    let found = lgtm_tests::lab::wait_for("every trace after the drain", PATIENCE, || {
        missing = traces
            .iter()
            .enumerate()
            .filter(|(_, id)| !matches!(otlp::trace_spans(query, id), Ok(2)))
            .map(|(i, id)| {
                let when = if i < before { "before" } else { "during" };
                format!("{id} (sent {when} the drain)")
            })
            .collect();
        missing.is_empty().then_some(())
    });
    if let Err(e) = found {
        let config = http::get(
            gw.addr(process("tempo:querier").ports().http),
            "/status/config",
        )
        .map(|r| r.text())
        .unwrap_or_default();
        let poll: Vec<&str> = config
            .lines()
            .filter(|l| l.contains("blocklist_poll:"))
            .collect();
        panic!(
            "{e}: {} of {} traces missing: {missing:#?}; blocks in the store: {}; querier's {poll:?}",
            missing.len(),
            traces.len(),
            super::real::stored(&lab, "meta.json"),
        );
    }
}
