//! Draining a ring member before it is removed: how each backend is asked to flush what
//! only its ingester holds and to leave its ring, how to see that it left, and when a drain
//! must be refused because the ring could no longer take writes.
//!
//! Endpoints verified against Loki 3.7.6 and Tempo 2.10.8 on loopback: Loki's
//! `/ingester/shutdown?flush=true&delete_ring_tokens=true&terminate=false` answers 204 once
//! flushed, the instance leaves `/ring` within seconds and the process stays up (not ready);
//! Tempo's `/flush` answers 204 with the blocks in the store, `/shutdown` answers 200 and the
//! instance leaves `/ingester/ring` within a second. Mimir's `/ingester/shutdown` flushes and
//! unregisters the same way (its documentation; no binary to verify against). Other ring
//! members (store-gateways, compactors, index gateways, metrics-generators) hold nothing that
//! is not in the object store, and leave their rings when stopped.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::catalog::{Replicated, Role};
use crate::consistency;
use crate::names::{Backend, HostName};
use crate::process::ProcessId;

/// `POST` that makes a Tempo ingester write what it holds to the object store and stay in its
/// ring: answered once the blocks are stored.
pub const TEMPO_FLUSH: &str = "/flush";

/// `POST` requests that make an ingester flush and leave its ring, in order, and the ring
/// page where it is seen gone, by backend.
const INGESTER: &[(Backend, &[&str], &str)] = &[
    (Backend::Mimir, &["/ingester/shutdown"], "/ingester/ring"),
    (
        Backend::Loki,
        &["/ingester/shutdown?flush=true&delete_ring_tokens=true&terminate=false"],
        "/ring",
    ),
    (
        Backend::Tempo,
        &[TEMPO_FLUSH, "/shutdown"],
        "/ingester/ring",
    ),
];

/// How a process running `roles` is drained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flush {
    /// Paths to `POST`, in order.
    pub calls: &'static [&'static str],
    /// The ring page that must stop listing the process.
    pub ring: &'static str,
}

/// The flush a process running `roles` needs before it stops; `None` when stopping it loses
/// nothing (it holds nothing the object store does not).
pub fn flush(roles: &[Role]) -> Option<Flush> {
    let backend = roles
        .iter()
        .flat_map(|r| r.expand())
        .find(|t| t.name() == "ingester")?
        .backend();
    INGESTER
        .iter()
        .find(|(b, _, _)| *b == backend)
        .map(|(_, calls, ring)| Flush { calls, ring })
}

#[derive(Deserialize)]
struct Page {
    shards: Option<Vec<Shard>>,
}

#[derive(Deserialize)]
struct Shard {
    address: String,
    state: String,
}

/// Whether a ring page (its JSON) no longer lists `member` (gRPC `address:port`); otherwise
/// the state it is listed in.
pub fn left(page: &str, member: &str) -> Result<(), String> {
    let page: Page =
        serde_json::from_str(page).map_err(|e| format!("its ring page is not JSON: {e}"))?;
    match page
        .shards
        .unwrap_or_default()
        .into_iter()
        .find(|s| s.address == member)
    {
        None => Ok(()),
        Some(s) => Err(format!("still in its ring ({})", s.state)),
    }
}

/// A process of a replicated ring, as a drain check sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    /// Its host.
    pub host: HostName,
    /// Its process.
    pub process: ProcessId,
    /// Whether its agent last said it is ready.
    pub ready: bool,
}

/// Members of the rings that take writes (ingesters: their data exists nowhere else yet),
/// by ring, from each host's roles and ready processes.
pub fn members(
    roles: &BTreeMap<HostName, Vec<Role>>,
    ready: &BTreeMap<HostName, BTreeSet<ProcessId>>,
) -> BTreeMap<Role, Vec<Member>> {
    let mut out: BTreeMap<Role, Vec<Member>> = BTreeMap::new();
    for (host, rs) in roles {
        for role in rs.iter().filter(|r| !r.is_gateway()) {
            let process = ProcessId::for_role(*role);
            for target in role
                .expand()
                .into_iter()
                .filter(|t| t.replicated() == Replicated::Data)
            {
                let ready = ready.get(host).is_some_and(|p| p.contains(&process));
                let list = out.entry(target).or_default();
                if !list.iter().any(|m| m.host == *host && m.process == process) {
                    list.push(Member {
                        host: host.clone(),
                        process,
                        ready,
                    });
                }
            }
        }
    }
    out
}

/// Why a change from `before` to `after` must be refused: a replicated ring losing a member
/// would keep fewer ready members than its replication factor needs to accept writes (a
/// quorum, `factor / 2 + 1`). The factor is the one the ring runs with now; members the
/// change adds are not ready yet and do not count.
pub fn refusal(
    before: &BTreeMap<Role, Vec<Member>>,
    after: &BTreeMap<Role, Vec<Member>>,
) -> Option<String> {
    let none = Vec::new();
    let problems: Vec<String> = before
        .iter()
        .filter_map(|(ring, ms)| {
            let kept = after.get(ring).unwrap_or(&none);
            let stays = |m: &Member| kept.iter().any(|k| k.host == m.host && k.process == m.process);
            let (staying, leaving): (Vec<&Member>, Vec<&Member>) = ms.iter().partition(|m| stays(m));
            if leaving.is_empty() {
                return None;
            }
            let hosts: BTreeSet<&HostName> = ms.iter().map(|m| &m.host).collect();
            let factor = consistency::replication_factor(hosts.len());
            let quorum = usize::from(factor) / 2 + 1;
            let ready = staying.iter().filter(|m| m.ready).count();
            if ready >= quorum {
                return None;
            }
            let not_ready: Vec<String> = staying
                .iter()
                .filter(|m| !m.ready)
                .map(|m| format!("{} on {} is not ready", m.process.unit_name(), m.host))
                .collect();
            let detail = if not_ready.is_empty() {
                String::new()
            } else {
                format!(" ({})", not_ready.join(", "))
            };
            Some(format!(
                "the {ring} ring runs with replication factor {factor} and needs {quorum} ready member{} to accept writes; after this change {ready} would be left{detail}",
                if quorum == 1 { "" } else { "s" }
            ))
        })
        .collect();
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<Role> {
        r.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn only_ingesters_flush() {
        let loki = flush(&roles(&["loki:write"])).unwrap();
        assert_eq!(loki.ring, "/ring");
        assert!(loki.calls[0].starts_with("/ingester/shutdown?flush=true"));
        assert!(
            loki.calls[0].contains("terminate=false"),
            "the agent stops it"
        );
        assert_eq!(flush(&roles(&["loki:all"])), Some(loki));
        assert_eq!(
            flush(&roles(&["tempo:ingester"])).unwrap().calls,
            ["/flush", "/shutdown"]
        );
        assert_eq!(
            flush(&roles(&["mimir:ingester", "mimir:store-gateway"]))
                .unwrap()
                .ring,
            "/ingester/ring"
        );
        assert_eq!(flush(&roles(&["mimir:store-gateway"])), None);
        assert_eq!(flush(&roles(&["loki:backend"])), None);
        assert_eq!(flush(&roles(&["tempo:metrics-generator"])), None);
    }

    #[test]
    fn a_member_has_left_when_its_ring_no_longer_lists_it() {
        let page = |shards: &str| format!(r#"{{"shards":[{shards}],"now":"x"}}"#);
        let a = r#"{"id":"h1","state":"ACTIVE","address":"198.18.0.2:9097"}"#;
        let b = r#"{"id":"h2","state":"LEAVING","address":"198.18.0.3:9097"}"#;
        assert_eq!(left(&page(a), "198.18.0.3:9097"), Ok(()));
        assert_eq!(
            left(&page(&format!("{a},{b}")), "198.18.0.3:9097"),
            Err("still in its ring (LEAVING)".into())
        );
        assert_eq!(left(r#"{"shards":null}"#, "m"), Ok(()));
        assert!(left("<html>", "m").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn refusals_follow_the_write_quorum() {
        let host = |n: &str| -> HostName { n.parse().unwrap() };
        let write = ProcessId::for_role("loki:write".parse().unwrap());
        let cluster = |n: usize, down: &[&str]| {
            let mut r = BTreeMap::new();
            let mut ready = BTreeMap::new();
            for i in 1..=n {
                let h = host(&format!("host{i}"));
                r.insert(h.clone(), roles(&["loki:write"]));
                if !down.contains(&h.as_str()) {
                    ready.insert(h, BTreeSet::from([write]));
                }
            }
            let m = members(&r, &ready);
            (r, m)
        };
        // `host` loses its write process.
        let leave = |(mut r, before): (BTreeMap<HostName, Vec<Role>>, _), h: &str| {
            r.remove(&host(h));
            refusal(&before, &members(&r, &BTreeMap::new()))
        };
        // Factor 3: two of three must stay ready.
        assert_eq!(leave(cluster(3, &[]), "host3"), None);
        let why = leave(cluster(3, &["host2"]), "host3").unwrap();
        assert_eq!(
            why,
            "the loki:ingester ring runs with replication factor 3 and needs 2 ready members to accept writes; after this change 1 would be left (lgtm-loki-write.service on host2 is not ready)"
        );
        // Factor 1: one must stay.
        assert_eq!(leave(cluster(2, &[]), "host2"), None);
        assert!(
            leave(cluster(1, &[]), "host1").unwrap().contains(
                "needs 1 ready member to accept writes; after this change 0 would be left"
            )
        );
        // A ring the change does not touch is not judged.
        let (_, before) = cluster(1, &["host1"]);
        assert_eq!(refusal(&before, &before), None);
    }
}
