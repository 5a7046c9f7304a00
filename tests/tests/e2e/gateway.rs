//! The gateway: real nginx (Debian's) run by the agent on a gateway host, in front of two
//! distributor hosts and a query-frontend host. One lab serves every check: routing, tenant,
//! spreading, 503 for a role with no ready host, reloads under load without a lost request,
//! a config nginx refuses never loaded, a host whose agent stopped kept while its
//! distributor answers, and a stopped distributor host taken out under load.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lgtm_model::Backend;
use lgtm_model::gateway::{MIMIR_PORT, STATUS_PORT};
use lgtm_model::wire::Liveness;
use lgtm_tests::lab::{Host, http};

use super::support::*;

const UNIT: &str = "lgtm-gateway.service";
const CONF: &str = "/etc/lgtm/gateway/nginx.conf";

/// How long the load's client waits for an answer: remote-write's default (Prometheus, Alloy).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// An answer slower than this is listed in the test's output.
const SLOW: Duration = Duration::from_secs(1);
/// No answer may take longer: a dead worker costs one connect attempt (2 s), then the
/// request goes to the next one.
const STALLED: Duration = Duration::from_secs(8);

/// What the load saw: answers, the slow ones (sent after, took), failures.
type Seen = (u64, Vec<(Duration, Duration)>, Vec<String>);

/// A client pushing through the gateway in a loop until stopped.
struct Load {
    began: Instant,
    /// When it began, UTC, as the journal prints time.
    began_utc: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Seen>,
}

impl Load {
    fn start(addr: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let began = Instant::now();
        let began_utc = lgtm_tests::clock::utc_now();
        let thread = std::thread::spawn(move || {
            let (mut ok, mut slow, mut failed) = (0, Vec::new(), Vec::new());
            while !flag.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let answer = http::post_within(addr, "/api/v1/push", b"sample", CLIENT_TIMEOUT);
                let (at, took) = (sent - began, sent.elapsed());
                let why = match answer {
                    Ok(r) if r.status == 200 => {
                        ok += 1;
                        if took > SLOW {
                            slow.push((at, took));
                        }
                        continue;
                    }
                    Ok(r) => format!("{}: {}", r.status, r.text()),
                    Err(e) => e.to_string(),
                };
                // When and how long, to line up with nginx's journal and the test's steps.
                failed.push(format!(
                    "at {} ms, after {} ms: {why}",
                    at.as_millis(),
                    took.as_millis()
                ));
            }
            (ok, slow, failed)
        });
        Load {
            began,
            began_utc,
            stop,
            thread,
        }
    }

    /// Stops the client; panics naming the failures and nginx's last words on `gw`, says
    /// how many pushes succeeded and which took longer than [`SLOW`].
    fn finish(self, during: &str, gw: &Host) -> String {
        self.stop.store(true, Ordering::SeqCst);
        let (ok, slow, failed) = self.thread.join().unwrap();
        assert!(
            failed.is_empty(),
            "{during}: {} failed pushes (the load began {} UTC): {:?}; nginx says:\n{}",
            failed.len(),
            self.began_utc,
            failed.iter().take(3).collect::<Vec<_>>(),
            gw.journal(UNIT, 40).unwrap_or_default()
        );
        assert!(ok > 0, "{during}: no push was answered");
        let stalled = slow.iter().any(|(_, took)| *took > STALLED);
        let slow: Vec<String> = slow
            .iter()
            .map(|(at, took)| format!("at {} ms: took {} ms", at.as_millis(), took.as_millis()))
            .collect();
        assert!(
            !stalled,
            "{during}: a push took over {STALLED:?} (the load began {} UTC): {slow:?}",
            self.began_utc
        );
        format!(
            "{ok} pushes ({} slower than {SLOW:?}: {slow:?})",
            slow.len()
        )
    }
}

/// The gateway's config as served.
fn conf(gw: &Host) -> String {
    read_text(gw, CONF)
}

/// The `distributor` upstream of the served config.
fn distributors(gw: &Host) -> String {
    let c = conf(gw);
    let Some(at) = c.find("upstream mimir_distributor {") else {
        return String::new();
    };
    c[at..at + c[at..].find('}').unwrap()].to_owned()
}

/// Which host served a push through the gateway.
fn push(gw: &Host) -> String {
    let r = http::post(gw.addr(MIMIR_PORT), "/api/v1/push", b"sample").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("x-lgtm-served-by").unwrap_or_default().to_owned()
}

#[test]
fn the_gateway_routes_spreads_reloads_and_fails_over_without_losing_requests() {
    let Some(mut lab) = lab(4) else { return };
    lab.start_s3().unwrap();
    lab.use_s3(Backend::Mimir).unwrap();
    let out = ctl(&lab, &["assign-role", "host1", "gateway"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no backend has hosts"),
        "{err}"
    );

    assign(&lab, "host2", "mimir:distributor");
    assign(&lab, "host3", "mimir:distributor");
    // A frontend without a scheduler serves only with a querier pulling from it (Mimir's,
    // Loki's and Tempo's alike): the querier runs beside it.
    assign(&lab, "host4", "mimir:query-frontend");
    assign(&lab, "host4", "mimir:querier");
    // Bare `gateway`: the gateway of every backend with hosts, here Mimir only.
    assign(&lab, "host1", "gateway");
    for h in ["host1", "host2", "host3", "host4"] {
        wait_host(&lab, h);
    }
    let gw = lab.host(1);
    until("the gateway to route to both distributors", || {
        let d = exists(gw, CONF).then(|| distributors(gw))?;
        (d.contains(&lab.host(2).ip().to_string()) && d.contains(&lab.host(3).ip().to_string()))
            .then_some(())
    });
    until("the gateway to answer its health check", || {
        let r = http::get(gw.addr(STATUS_PORT), "/health").ok()?;
        (r.status == 200).then_some(())
    });
    assert!(
        !exists(gw, "/etc/nginx/sites-enabled/lgtm")
            && show(gw, "nginx.service", "ActiveState") != "active",
        "the machine's own nginx is left alone"
    );
    let nginx_pid = main_pid(gw, UNIT);
    let status = http::get(gw.addr(STATUS_PORT), "/status").unwrap();
    assert!(
        status.text().contains("Active connections"),
        "{}",
        status.text()
    );

    // Pushes reach distributors, spread over both; queries reach the query-frontend. The
    // config file is written just before nginx reloads it: wait for nginx to serve it.
    let mut seen = std::collections::BTreeSet::new();
    until("pushes to reach both distributors", || {
        seen.insert(push(gw));
        (seen.len() == 2).then_some(())
    });
    let served: Vec<String> = (0..20).map(|_| push(gw)).collect();
    for h in ["host2", "host3"] {
        assert!(
            served.iter().any(|s| s.starts_with(&format!("{h}/"))),
            "{h} served no push: {served:?}"
        );
    }
    // Until host4 reports its query-frontend ready, that route answers 503 (checked below).
    let q = until("queries to reach the query-frontend", || {
        let q = http::get(gw.addr(MIMIR_PORT), "/prometheus/api/v1/query?query=up").ok()?;
        (q.status == 200).then_some(q)
    });
    assert_eq!(
        q.header("x-lgtm-served-by"),
        Some("host4/querier,query-frontend")
    );
    // The stand-ins recorded what they served, with the default tenant.
    for n in [2, 3] {
        let m = http::get(lab.host(n).addr(8080), "/metrics")
            .unwrap()
            .text();
        assert!(
            m.contains("lgtm_standin_requests_total{path=\"/api/v1/push\",target=\"distributor\"}"),
            "{m}"
        );
    }
    let log = http::get(lab.host(2).addr(8080), "/standin/requests")
        .unwrap()
        .text();
    assert!(log.contains("\"tenant\":\"anonymous\""), "{log}");

    // A role with no ready host answers 503 naming it, at once.
    let rules = http::get(gw.addr(MIMIR_PORT), "/prometheus/api/v1/rules").unwrap();
    assert_eq!(rules.status, 503);
    assert_eq!(rules.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&rules.body).unwrap();
    assert_eq!(body["role"], "mimir:ruler", "{body}");

    // Config changes under steady load: reloads, no restart, no lost push.
    let load = Load::start(gw.addr(MIMIR_PORT));
    for tenant in ["team-b", "team-c", "anonymous"] {
        ctl_ok(&lab, &["config", "set", "gateway.tenant", tenant]);
        until(&format!("the gateway to serve tenant {tenant}"), || {
            conf(gw).contains(&format!("'' {tenant};")).then_some(())
        });
        // Let pushes run on the reloaded workers for a moment.
        for _ in 0..5 {
            push(gw);
        }
    }
    let pushed = load.finish("reloads", gw);
    eprintln!("{pushed} through 3 reloads, none lost");
    assert_eq!(
        main_pid(gw, UNIT),
        nginx_pid,
        "config changes never restart nginx"
    );

    // A config nginx refuses is never loaded: the old one keeps serving, the report says why.
    gw.run(&["mv", "/usr/sbin/nginx", "/usr/sbin/nginx.real"])
        .unwrap();
    let refuse = "#!/bin/sh\ncase \" $* \" in *\" -t \"*) echo 'nginx: [emerg] refused by the test' >&2; exit 1;; esac\nexec /usr/sbin/nginx.real \"$@\"\n";
    gw.write_file("/usr/sbin/nginx", refuse.as_bytes(), 0o755)
        .unwrap();
    ctl_ok(&lab, &["config", "set", "gateway.tenant", "team-d"]);
    let failed = until_status(&lab, "the refused config to be reported", |s| {
        host_status(s, "host1").failed_actions.iter().any(|a| {
            a.error
                .as_deref()
                .is_some_and(|e| e.contains("refused by the test"))
        })
    });
    let h1 = host_status(&failed, "host1");
    assert!(h1.failed_actions[0].action.contains(CONF), "{h1:#?}");
    assert!(
        conf(gw).contains("'' anonymous;"),
        "the old config still serves"
    );
    push(gw);
    gw.run(&["mv", "/usr/sbin/nginx.real", "/usr/sbin/nginx"])
        .unwrap();
    until(
        "the agent to install the config once nginx accepts it",
        || conf(gw).contains("'' team-d;").then_some(()),
    );
    assert_eq!(main_pid(gw, UNIT), nginx_pid);

    // host2's agent stops, its distributor does not: the gateway keeps sending it requests
    // (the coordinator asks its `/ready` itself). Once the distributor stops too, it leaves.
    let h2 = lab.host(2);
    let kept = h2.ip().to_string();
    let stop_agent = h2.systemctl(&["stop", "lgtm-agent.service"]).unwrap();
    assert!(stop_agent.status.success(), "{stop_agent:?}");
    until_status(&lab, "host2's agent to be stale", |s| {
        host_status(s, "host2").liveness == Liveness::Stale
    });
    // Two rounds of probes (every quarter of the 30 s TTL) after it went stale.
    std::thread::sleep(Duration::from_secs(17));
    assert!(
        distributors(gw).contains(&kept),
        "an agent outage alone keeps host2 in the upstream: {}",
        distributors(gw)
    );
    let mut seen = std::collections::BTreeSet::new();
    until("pushes to reach host2 while its agent is out", || {
        seen.insert(push(gw));
        seen.iter().any(|s| s.starts_with("host2/")).then_some(())
    });
    let stop_backend = h2.systemctl(&["stop", "lgtm-mimir.service"]).unwrap();
    assert!(stop_backend.status.success(), "{stop_backend:?}");
    until(
        "host2 to leave the upstream once its distributor stops",
        || (!distributors(gw).contains(&kept)).then_some(()),
    );
    let start_agent = h2.systemctl(&["start", "lgtm-agent.service"]).unwrap();
    assert!(start_agent.status.success(), "{start_agent:?}");
    until("host2 back in the upstream with its agent", || {
        distributors(gw).contains(&kept).then_some(())
    });
    // Settled before the next check: host2's agent applied everything, nginx serves host2.
    wait_host(&lab, "host2");
    let mut seen = std::collections::BTreeSet::new();
    until("pushes to reach host2 again", || {
        seen.insert(push(gw));
        seen.iter().any(|s| s.starts_with("host2/")).then_some(())
    });

    // A distributor host stopped under load: taken out, every push still answered.
    let load = Load::start(gw.addr(MIMIR_PORT));
    let gone = lab.host(3).ip().to_string();
    lab.host(3).stop();
    eprintln!(
        "host3 powered off {} ms into the load",
        load.began.elapsed().as_millis()
    );
    until("the stopped host to leave the upstream", || {
        let d = distributors(gw);
        (!d.contains(&gone) && d.contains(&lab.host(2).ip().to_string())).then_some(())
    });
    for _ in 0..10 {
        assert!(push(gw).starts_with("host2/"));
    }
    let pushed = load.finish("a distributor host stopping", gw);
    eprintln!("{pushed} while host3 stopped, none lost");
}
