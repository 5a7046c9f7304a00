//! The real Loki and Tempo (`shared/real-backends`, or `LGTM_BACKEND_BIN_DIR`) under lgtm:
//! every topology lgtm allows starts, gets ready, ingests through the gateway with real
//! clients' wire formats (Loki protobuf+snappy and JSON; Tempo OTLP/gRPC and OTLP/HTTP from the
//! OpenTelemetry SDK) and answers queries, also after flushes and restarts.
//!
//! Without the binaries these tests skip with one line; under CI (`CI=true`) they fail.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use lgtm_model::Backend;
use lgtm_model::gateway::{
    LOKI_PORT, TEMPO_OTLP_GRPC_PORT, TEMPO_OTLP_HTTP_PORT, TEMPO_QUERY_PORT,
};
use lgtm_model::process::ProcessId;
use lgtm_tests::clients::loki::{self, Stream};
use lgtm_tests::clients::otlp::{self, Protocol};
use lgtm_tests::lab::{Host, Lab, http};

use super::support::*;

/// Assigns `roles` (qualified) to host `n`.
pub(super) fn assign_all(lab: &Lab, n: usize, roles: &[&str]) {
    for role in roles {
        assign(lab, lab.host(n).name(), role);
    }
}

/// Places `backend`'s roles with one `lgtmctl switch` (`host1=write,read`, ...): every
/// process is new and starts at once, where assigning role after role would restart the ones
/// already running for each later role (ring seeds, replication, frontend addresses).
pub(super) fn place(lab: &Lab, backend: &str, placement: &[&str]) {
    ctl_ok(lab, &[&["switch", backend][..], placement].concat());
}

/// Loki simple-scalable on three hosts: write on all (replication factor 3), read on host1
/// and host2, backend on host1 and host3, the gateway on host1; every host ready.
pub(super) fn simple_scalable_on_three(lab: &Lab) {
    place(
        lab,
        "loki",
        &[
            "host1=write,read,backend",
            "host2=write,read",
            "host3=write,backend",
        ],
    );
    assign(lab, "host1", "loki:gateway");
    wait_all(lab);
}

/// How long a real backend may take to get ready: a Tempo compactor waits a minute for its
/// ring to settle, ingesters 15 s after joining, and every change before it restarts them.
const READY_ARG: &str = "600s";

/// `lgtmctl wait HOST`: applied, active and ready.
fn wait_ready(lab: &Lab, host: &str) {
    ctl_ok(lab, &["wait", host, "--timeout", READY_ARG]);
}

/// [`wait_ready`] on every host, twice: a gateway host may have converged before a later
/// host became ready, and only the second pass sees it route to that host too.
pub(super) fn wait_all(lab: &Lab) {
    for _ in 0..2 {
        for h in lab.hosts() {
            wait_ready(lab, h.name());
        }
    }
}

/// `n` numbered lines for a test run.
fn lines(tag: &str, n: usize) -> Vec<(i64, String)> {
    let start = loki::now_ns() - 60_000_000_000;
    (0..n)
        .map(|i| (start + i as i64 * 1_000_000, format!("{tag} line {i:04}")))
        .collect()
}

/// Pushes `n` lines as protobuf and `n` as JSON through the gateway; every line pushed.
fn push_logs(gw: SocketAddr, job: &str, n: usize) -> BTreeSet<String> {
    let labels = format!("{{job=\"{job}\",format=\"protobuf\"}}");
    let proto = lines(&format!("{job} protobuf"), n);
    let json = lines(&format!("{job} json"), n);
    until(&format!("a protobuf push to {gw} to be accepted"), || {
        loki::push_protobuf(
            gw,
            &Stream {
                labels: &labels,
                lines: &proto,
            },
        )
        .map_err(|e| eprintln!("push: {e}"))
        .ok()
    });
    loki::push_json(gw, &[("job", job), ("format", "json")], &json)
        .unwrap_or_else(|e| panic!("JSON push through {gw}: {e}"));
    proto.into_iter().chain(json).map(|(_, l)| l).collect()
}

/// Waits until querying `job` through the gateway returns exactly `want`.
fn logs_queryable(gw: SocketAddr, job: &str, want: &BTreeSet<String>, when: &str) {
    let start = loki::now_ns() - 3_600_000_000_000;
    let mut last = String::new();
    let found =
        lgtm_tests::lab::wait_for(&format!("{when}: every line of {job}"), PATIENCE, || {
            match loki::query_lines(gw, &format!("{{job=\"{job}\"}}"), start) {
                Ok(got) => {
                    let got: BTreeSet<String> = got.into_iter().collect();
                    last = format!("{} of {} lines", got.len(), want.len());
                    (&got == want).then_some(())
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
    found.unwrap_or_else(|e| panic!("{e}; last answer: {last}"));
}

/// Sends one trace over OTLP/HTTP and one over OTLP/gRPC through the gateway on `gw`.
pub(super) fn send_traces(gw: &Host, service: &str) -> Vec<String> {
    [
        (Protocol::Http, TEMPO_OTLP_HTTP_PORT),
        (Protocol::Grpc, TEMPO_OTLP_GRPC_PORT),
    ]
    .into_iter()
    .map(|(p, port)| {
        until(&format!("an OTLP {p:?} export to be accepted"), || {
            otlp::send_trace(p, gw.addr(port), service)
                .map_err(|e| eprintln!("{e}"))
                .ok()
        })
    })
    .collect()
}

/// Waits until every trace comes back by id through the gateway with both its spans, `times`
/// times in a row (several query-frontends take turns behind the gateway).
pub(super) fn traces_queryable(gw: &Host, ids: &[String], times: usize, when: &str) {
    let addr = gw.addr(TEMPO_QUERY_PORT);
    // A few fetchers at once: the rollout tests check hundreds of traces, and one after
    // another that took minutes. Fetches meant to reach each frontend in turn stay alone.
    let fetchers = if times > 1 { 1 } else { TRACE_FETCHERS };
    let part = ids.len().div_ceil(fetchers).max(1);
    let missing: Vec<String> = std::thread::scope(|s| {
        let fetchers: Vec<_> = ids
            .chunks(part)
            .map(|ids| {
                s.spawn(move || {
                    ids.iter()
                        .find_map(|id| trace_missing(addr, id, times, when))
                })
            })
            .collect();
        fetchers
            .into_iter()
            .filter_map(|f| f.join().expect("a trace fetcher panicked"))
            .collect()
    });
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// How many fetches [`traces_queryable`] makes at once.
const TRACE_FETCHERS: usize = 4;

/// Why trace `id` did not come back whole `times` in a row within [`PATIENCE`], if it did not.
fn trace_missing(addr: SocketAddr, id: &str, times: usize, when: &str) -> Option<String> {
    let mut last = String::new();
    let found = lgtm_tests::lab::wait_for(&format!("{when}: trace {id}"), PATIENCE, || {
        for _ in 0..times {
            match otlp::trace_spans(addr, id) {
                Ok(2) => {}
                Ok(n) => {
                    last = format!("{n} spans");
                    return None;
                }
                Err(e) => {
                    last = e;
                    return None;
                }
            }
        }
        Some(())
    });
    found.err().map(|e| format!("{e}; last answer: {last}"))
}

/// Waits until a TraceQL search for `service` finds every trace.
fn traces_searchable(gw: &Host, service: &str, ids: &[String]) {
    let q = format!("{{ resource.service.name = \"{service}\" }}");
    let mut last = String::new();
    let found =
        lgtm_tests::lab::wait_for(&format!("TraceQL {q}"), PATIENCE, || {
            match otlp::search(gw.addr(TEMPO_QUERY_PORT), &q) {
                Ok(got) => {
                    last = format!("{got:?}");
                    ids.iter().all(|id| got.contains(id)).then_some(())
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
    found.unwrap_or_else(|e| panic!("{e}; last answer: {last}"));
}

/// Pushes `n` lines of job `name` and two traces of service `name` through the gateway on
/// `h`, and checks they come back: by query, by id and by TraceQL.
fn ingest_both(h: &Host, name: &str, n: usize) -> (BTreeSet<String>, Vec<String>) {
    let gw = h.addr(LOKI_PORT);
    let logs = push_logs(gw, name, n);
    let traces = send_traces(h, name);
    logs_queryable(gw, name, &logs, "after the push");
    traces_queryable(h, &traces, 1, "after the push");
    traces_searchable(h, name, &traces);
    (logs, traces)
}

/// Restarts `unit` on `host` and waits until its `/ready` on `port` answers again.
fn restart_until_ready(lab: &Lab, host: &Host, unit: &str, port: u16) {
    let before = main_pid(host, unit);
    let out = host.systemctl(&["restart", unit]).unwrap();
    assert!(out.status.success(), "restart {unit}: {out:?}");
    assert_ne!(main_pid(host, unit), before, "{unit} restarted");
    until(
        &format!("{unit} on {} to be ready again", host.name()),
        || ready(host, port).map(|_| ()),
    );
    wait_host(lab, host.name());
}

/// Makes a host's Tempo compactor index the store's blocks and its querier read that index
/// now rather than at their next poll: restarts them in that order.
fn repoll(lab: &Lab, h: &Host) {
    for role in ["tempo:compactor", "tempo:querier"] {
        let p = process(role);
        restart_until_ready(lab, h, &p.unit_name(), p.ports().http);
    }
}

/// The process that runs `role` (qualified).
pub(super) fn process(role: &str) -> ProcessId {
    ProcessId::for_role(role.parse().unwrap())
}

/// Queriers poll the block list every 10 s (5 min upstream), so blocks an ingester flushed
/// are found soon.
pub(super) fn short_blocklist_poll(lab: &Lab) {
    ctl_ok(
        lab,
        &[
            "config",
            "set",
            "tempo.overrides",
            "storage:\n  trace:\n    blocklist_poll: 10s\n",
        ],
    );
}

/// `POST /flush` on a process.
pub(super) fn flush(host: &Host, port: u16) {
    let r = http::post(host.addr(port), "/flush", b"").unwrap();
    assert!(
        r.status == 204 || r.status == 200,
        "flush: {} {}",
        r.status,
        r.text()
    );
}

/// Files below `dir` of the lab's S3 root whose name ends with `suffix`.
pub(super) fn stored(lab: &Lab, suffix: &str) -> usize {
    let root = lab.s3().expect("the lab's S3 server").root().to_path_buf();
    walk(&root)
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .count()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn real_loki_and_tempo_on_one_host_answer_after_a_restart() {
    let Some(lab) = real_lab(1, &[Backend::Loki, Backend::Tempo]) else {
        return;
    };
    assert!(lab.is_real(Backend::Loki) && lab.is_real(Backend::Tempo));
    assign_all(
        &lab,
        1,
        &["loki:all", "tempo:all", "loki:gateway", "tempo:gateway"],
    );
    wait_all(&lab);
    let h = lab.host(1);
    let gw = h.addr(LOKI_PORT);
    let (logs, traces) = ingest_both(h, "single", 50);
    let loki_port = process("loki:all").ports().http;
    let tempo_port = process("tempo:all").ports().http;
    restart_until_ready(&lab, h, "lgtm-loki.service", loki_port);
    restart_until_ready(&lab, h, "lgtm-tempo-all.service", tempo_port);
    logs_queryable(gw, "single", &logs, "after a restart");
    traces_queryable(h, &traces, 1, "after a restart");
}

#[test]
fn real_loki_simple_scalable_keeps_every_line_across_flush_and_rolling_restarts() {
    let Some(lab) = real_lab(3, &[Backend::Loki]) else {
        return;
    };
    simple_scalable_on_three(&lab);
    let status = cluster_status(&lab);
    let loki = status
        .backends
        .iter()
        .find(|b| b.backend == Backend::Loki)
        .unwrap();
    assert!(loki.consistent, "{loki:#?}");
    assert!(
        loki.replication
            .iter()
            .any(|r| r.role.known().is_some_and(|r| r.name() == "ingester") && r.factor == 3),
        "{loki:#?}"
    );
    let gw = lab.host(1).addr(LOKI_PORT);
    let logs = push_logs(gw, "ssd", 100);
    logs_queryable(gw, "ssd", &logs, "after the push");
    let write = process("loki:write");
    for h in lab.hosts() {
        flush(h, write.ports().http);
    }
    until("flushed chunks in object storage", || {
        (stored(&lab, "") > 0).then_some(())
    });
    for h in lab.hosts() {
        restart_until_ready(&lab, h, &write.unit_name(), write.ports().http);
    }
    logs_queryable(gw, "ssd", &logs, "after every write process restarted");
}

#[test]
fn real_tempo_microservices_answer_through_two_frontends_after_a_flush() {
    let Some(lab) = real_lab(3, &[Backend::Tempo]) else {
        return;
    };
    // The third ingester host raises replication to 3 once host1's and host2's processes
    // run: queriers and ingesters then wait two block list polls after their flush.
    short_blocklist_poll(&lab);
    assign_all(
        &lab,
        1,
        &[
            "tempo:distributor",
            "tempo:ingester",
            "tempo:query-frontend",
            "tempo:gateway",
        ],
    );
    assign_all(
        &lab,
        2,
        &[
            "tempo:distributor",
            "tempo:ingester",
            "tempo:querier",
            "tempo:query-frontend",
        ],
    );
    assign_all(
        &lab,
        3,
        &["tempo:ingester", "tempo:querier", "tempo:compactor"],
    );
    wait_all(&lab);
    let gw = lab.host(1);
    let traces = send_traces(gw, "microservices");
    // Six fetches in a row: nginx takes the two frontends in turn.
    traces_queryable(gw, &traces, 6, "after the push");
    traces_searchable(gw, "microservices", &traces);
    let ingester = process("tempo:ingester");
    for h in lab.hosts() {
        flush(h, ingester.ports().http);
    }
    until("flushed blocks in object storage", || {
        (stored(&lab, "meta.json") > 0).then_some(())
    });
    traces_queryable(gw, &traces, 6, "after the flush");
}

#[test]
fn real_loki_microservices_run_every_target_lgtm_offers_including_the_optional_ones() {
    let Some(lab) = real_lab(3, &[Backend::Loki]) else {
        return;
    };
    let roles: [&[&str]; 3] = [
        &[
            "loki:distributor",
            "loki:ingester",
            "loki:query-frontend",
            "loki:query-scheduler",
            "loki:compactor",
            "loki:gateway",
        ],
        &[
            "loki:ingester",
            "loki:querier",
            "loki:index-gateway",
            "loki:ruler",
            "loki:pattern-ingester",
        ],
        // A second index gateway: its ring's factor follows to 2.
        &["loki:ingester", "loki:querier", "loki:index-gateway"],
    ];
    for (i, r) in roles.iter().enumerate() {
        assign_all(&lab, i + 1, r);
    }
    wait_all(&lab);
    // Three processes per host, each on its own ports, each ready.
    for h in lab.hosts() {
        for group in ["loki:write", "loki:read", "loki:backend"] {
            let p = process(group);
            assert!(
                ready(h, p.ports().http).is_some(),
                "{} on {} is not ready",
                p.unit_name(),
                h.name()
            );
        }
    }
    let gw = lab.host(1).addr(LOKI_PORT);
    let logs = push_logs(gw, "micro", 50);
    logs_queryable(gw, "micro", &logs, "after the push");
    // The pattern ingester is fed by the distributors and asked by the queriers.
    let start = loki::now_ns() / 1_000_000_000 - 3600;
    let path = format!(
        "/loki/api/v1/patterns?query={}&start={start}",
        lgtm_tests::clients::encode("{job=\"micro\"}")
    );
    let mut last = String::new();
    let found = lgtm_tests::lab::wait_for("patterns of the pushed lines", PATIENCE, || {
        let r = http::get(gw, &path).ok()?;
        last = format!("{} {}", r.status, r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).ok()?;
        let patterns: Vec<&str> = v["data"]
            .as_array()?
            .iter()
            .filter_map(|p| p["pattern"].as_str())
            .collect();
        let want = ["micro json line <_>", "micro protobuf line <_>"];
        want.iter().all(|w| patterns.contains(w)).then_some(())
    });
    found.unwrap_or_else(|e| panic!("{e}; last answer: {last}"));
}

#[test]
fn real_tempo_per_role_and_loki_share_a_host_and_survive_a_switch_to_one_process() {
    let Some(lab) = real_lab(1, &[Backend::Loki, Backend::Tempo]) else {
        return;
    };
    place(
        &lab,
        "tempo",
        &["host1=distributor,ingester,querier,query-frontend,compactor"],
    );
    assign_all(&lab, 1, &["loki:all", "loki:gateway", "tempo:gateway"]);
    wait_all(&lab);
    let h = lab.host(1);
    let gw = h.addr(LOKI_PORT);
    let (logs, traces) = ingest_both(h, "colocated", 40);

    // Flushed blocks land in the host's one Tempo store, where the querier reads them: with
    // the ingester's WAL (and its local copies of complete blocks) gone, traces still come
    // back. Queriers learn of new blocks by polling the store's block list, which the
    // compactor indexes (every 5 minutes upstream, and at start): restarting both, in that
    // order, makes them look now.
    let ingester = process("tempo:ingester");
    flush(h, ingester.ports().http);
    let unit = ingester.unit_name();
    assert!(h.systemctl(&["stop", &unit]).unwrap().status.success());
    h.run(&["rm", "-rf", "/var/lib/lgtm/tempo-ingester/wal"])
        .unwrap();
    let blocks = h
        .run(&[
            "find",
            "/var/lib/lgtm/tempo-store/blocks",
            "-name",
            "meta.json",
        ])
        .unwrap();
    assert!(!blocks.trim().is_empty(), "no flushed block in the store");
    assert!(h.systemctl(&["start", &unit]).unwrap().status.success());
    repoll(&lab, h);
    traces_queryable(h, &traces, 1, "with only the store holding them");
    // Monolithic Loki to simple-scalable on the same host in one staged switch: the `all`
    // process flushes and leaves its rings, then the new processes (the same rings under the
    // same instance name) start, and the read process finds everything in the shared store.
    let out = switch(&lab, "loki", "host1=write,read,backend");
    assert!(out.contains("lgtm-loki.service on host1"), "{out}");
    wait_all(&lab);
    logs_queryable(
        gw,
        "colocated",
        &logs,
        "after loki:all became write, read and backend",
    );

    // Tempo per-role processes to the single binary, staged the same way: the ingester flushes
    // and leaves its ring before the single binary takes its place, and the single binary's
    // compactor indexes the store as it starts.
    let out = switch(&lab, "tempo", "host1=all");
    assert!(
        out.contains(&format!("{unit} on host1")),
        "the ingester drains: {out}"
    );
    wait_all(&lab);
    traces_queryable(h, &traces, 1, "after tempo became one process");
    let more = send_traces(h, "colocated-all");
    traces_queryable(h, &more, 1, "sent to the single binary");
}

/// `lgtmctl switch BACKEND PLACEMENT --wait`: its answer and what the wait reached (drains
/// and the real backends' stops included).
fn switch(lab: &Lab, backend: &str, placement: &str) -> String {
    ctl_ok(
        lab,
        &["switch", backend, placement, "--wait", "--timeout", "10m"],
    )
}
