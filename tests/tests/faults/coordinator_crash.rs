//! `kill -9` of the coordinator, with agents attached, while four clients write settings:
//! each acknowledged write survives, the index never goes back, agents converge after.
//!
//! The coordinator's own crash test covers assignments without agents; here each writer owns
//! one key and writes numbered values in order, so "lost" has an exact meaning: after the
//! restart a key holds the last value acknowledged, or the one in flight at the kill. One key
//! (mimir.log_level) changes host1's config, so agents apply changes between kills.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use lgtm_tests::lab::{Lab, http};

use super::probes::{assert_configs_applied, converged, coordinator, put_setting};

const KEYS: [&str; 4] = [
    "mimir.storage.s3.bucket",
    "loki.storage.s3.bucket",
    "tempo.storage.s3.bucket",
    "mimir.log_level",
];
const LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];
const KILLS: usize = 3;
/// Acknowledged writes per round before the kill.
const WRITES_BEFORE_KILL: usize = 24;

fn value(writer: usize, n: usize) -> String {
    if KEYS[writer] == "mimir.log_level" {
        LEVELS[n % LEVELS.len()].to_owned()
    } else {
        format!("w{writer}-{n:06}")
    }
}

/// What one writer saw in one round.
struct Round {
    /// (n, index) of the last acknowledged write.
    acked: Option<(usize, u64)>,
    /// The write that got no answer.
    in_flight: usize,
    count: usize,
}

fn writer(
    addr: SocketAddr,
    w: usize,
    first: usize,
    total: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Round {
    let mut round = Round {
        acked: None,
        in_flight: first,
        count: 0,
    };
    for n in first.. {
        round.in_flight = n;
        if stop.load(Ordering::SeqCst) {
            return round;
        }
        match put_setting(addr, KEYS[w], &value(w, n)) {
            Ok(index) => {
                round.acked = Some((n, index));
                round.count += 1;
                total.fetch_add(1, Ordering::SeqCst);
            }
            // Killed mid-request or refused: never acknowledged.
            Err(_) => return round,
        }
    }
    round
}

fn setting(addr: SocketAddr, key: &str) -> String {
    let r = http::get(addr, "/v1/settings").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let all: Vec<lgtm_model::wire::SettingEntry> = serde_json::from_slice(&r.body).unwrap();
    all.into_iter()
        .find(|e| e.key == key)
        .and_then(|e| e.value)
        .unwrap_or_default()
}

fn index(addr: SocketAddr) -> u64 {
    let r = http::get(addr, "/healthz").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["index"].as_u64().unwrap()
}

pub fn acknowledged_writes_survive_kill_9(lab: &mut Lab) {
    let mut next = [0usize; 4];
    let mut max_acked = 0u64;
    let mut acked_total = 0;
    let mut in_flight_kept = 0;
    for kill in 0..KILLS {
        let addr = coordinator(lab);
        let total = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..KEYS.len())
            .map(|w| {
                let (total, stop, first) = (total.clone(), stop.clone(), next[w]);
                thread::spawn(move || writer(addr, w, first, total, stop))
            })
            .collect();
        while total.load(Ordering::SeqCst) < WRITES_BEFORE_KILL {
            thread::sleep(Duration::from_millis(5));
        }
        lab.coordinator().unwrap().kill9();
        stop.store(true, Ordering::SeqCst);
        let rounds: Vec<Round> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        lab.start_coordinator().unwrap();
        let addr = coordinator(lab);
        for (w, r) in rounds.iter().enumerate() {
            acked_total += r.count;
            let now = setting(addr, KEYS[w]);
            let in_flight = value(w, r.in_flight);
            match r.acked {
                Some((n, i)) => {
                    max_acked = max_acked.max(i);
                    let acked = value(w, n);
                    assert!(
                        now == acked || now == in_flight,
                        "kill {kill}: {} is {now:?}; acknowledged {acked:?} (in flight {in_flight:?})",
                        KEYS[w]
                    );
                }
                None => assert!(
                    next[w] == 0 || now == value(w, next[w] - 1) || now == in_flight,
                    "kill {kill}: {} is {now:?}",
                    KEYS[w]
                ),
            }
            in_flight_kept += usize::from(now == in_flight);
            next[w] = r.in_flight + 1;
        }
        let i = index(addr);
        assert!(
            i >= max_acked,
            "kill {kill}: index {i} < acknowledged {max_acked}"
        );
    }
    eprintln!(
        "coordinator kill -9 x{KILLS} under writes: {acked_total} acknowledged writes, none \
         lost; {in_flight_kept} unacknowledged in-flight writes were kept"
    );
    converged(lab);
    assert_configs_applied(lab, lab.host(1));
}
