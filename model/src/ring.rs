//! The backends' own ring pages: where a stateful target's ring is shown, and whether it is
//! healthy. A rollout step of a ring member is done only when its ring says every member is
//! ACTIVE and heartbeating, the restarted one included.
//!
//! Every page is dskit's ring status handler: with `Accept: application/json` it answers
//! `{"shards": [{"id", "state", "address", "timestamp", ...}], "now"}`, where `state` is
//! `UNHEALTHY` for a member whose heartbeat is older than the ring's heartbeat timeout.
//! Paths verified against Loki 3.7.6 and Tempo 2.10.8 (`tests/tests/conformance.rs`).

use serde::Deserialize;

use crate::catalog::Role;
use crate::names::Backend;

/// Ring pages by (backend, target): the rings a stateful target is a member of.
const PAGES: &[(Backend, &str, &str)] = &[
    (Backend::Mimir, "ingester", "/ingester/ring"),
    (Backend::Mimir, "store-gateway", "/store-gateway/ring"),
    (Backend::Mimir, "compactor", "/compactor/ring"),
    (
        Backend::Mimir,
        "alertmanager",
        "/multitenant_alertmanager/ring",
    ),
    (Backend::Loki, "ingester", "/ring"),
    (Backend::Loki, "compactor", "/compactor/ring"),
    (Backend::Loki, "index-gateway", "/indexgateway/ring"),
    (Backend::Loki, "pattern-ingester", "/pattern/ring"),
    (Backend::Tempo, "ingester", "/ingester/ring"),
    (
        Backend::Tempo,
        "metrics-generator",
        "/metrics-generator/ring",
    ),
];

/// The ring pages of a process running `roles`, sorted and without repeats.
pub fn pages(roles: &[Role]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = roles
        .iter()
        .flat_map(|r| r.expand())
        .filter_map(|t| {
            PAGES
                .iter()
                .find(|(b, name, _)| *b == t.backend() && *name == t.name())
                .map(|(_, _, page)| *page)
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[derive(Deserialize)]
struct Page {
    shards: Option<Vec<Shard>>,
}

#[derive(Deserialize)]
struct Shard {
    id: String,
    state: String,
    address: String,
}

/// Whether a ring page (its JSON) shows every member ACTIVE, with `member` (the
/// restarted process's gRPC `address:port`) among them; otherwise why not.
pub fn verdict(page: &str, member: &str) -> Result<(), String> {
    let page: Page =
        serde_json::from_str(page).map_err(|e| format!("its ring page is not JSON: {e}"))?;
    let shards = page.shards.unwrap_or_default();
    let bad: Vec<String> = shards
        .iter()
        .filter(|s| s.state != "ACTIVE")
        .map(|s| format!("{} ({}) is {}", s.id, s.address, s.state))
        .collect();
    if !bad.is_empty() {
        return Err(format!("ring member {}", bad.join(", ")));
    }
    if !shards.iter().any(|s| s.address == member) {
        return Err(format!("{member} is not in its ring yet"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_processes() {
        let roles = |r: &[&str]| -> Vec<Role> { r.iter().map(|s| s.parse().unwrap()).collect() };
        assert_eq!(
            pages(&roles(&["loki:write"])),
            ["/ring"],
            "Loki's write process: the ingester"
        );
        assert_eq!(
            pages(&roles(&["loki:write", "loki:pattern-ingester"])),
            ["/pattern/ring", "/ring"],
            "with the pattern ingester assigned"
        );
        assert_eq!(pages(&roles(&["tempo:ingester"])), ["/ingester/ring"]);
        assert!(pages(&roles(&["tempo:querier"])).is_empty());
        assert_eq!(
            pages(&roles(&["mimir:ingester", "mimir:store-gateway"])),
            ["/ingester/ring", "/store-gateway/ring"]
        );
    }

    #[test]
    fn verdicts() {
        let page =
            |shards: &str| format!(r#"{{"shards":[{shards}],"now":"2026-12-03T00:00:00Z"}}"#);
        let shard = |id: &str, state: &str, addr: &str| {
            format!(
                r#"{{"id":"{id}","state":"{state}","address":"{addr}","timestamp":"2026-12-03T00:00:00Z","registered_timestamp":"2026-12-03T00:00:00Z","zone":"","tokens":[1,2]}}"#
            )
        };
        let a = shard("h1", "ACTIVE", "198.18.0.2:9097");
        let b = shard("h2", "ACTIVE", "198.18.0.3:9097");
        let leaving = shard("h2", "LEAVING", "198.18.0.3:9097");
        let dead = shard("h3", "UNHEALTHY", "198.18.0.4:9097");
        assert_eq!(
            verdict(&page(&format!("{a},{b}")), "198.18.0.2:9097"),
            Ok(())
        );
        assert_eq!(
            verdict(&page(&format!("{a},{leaving}")), "198.18.0.2:9097"),
            Err("ring member h2 (198.18.0.3:9097) is LEAVING".into())
        );
        assert_eq!(
            verdict(&page(&format!("{a},{dead}")), "198.18.0.2:9097"),
            Err("ring member h3 (198.18.0.4:9097) is UNHEALTHY".into())
        );
        assert_eq!(
            verdict(&page(&b), "198.18.0.2:9097"),
            Err("198.18.0.2:9097 is not in its ring yet".into())
        );
        assert!(verdict("<html>", "x").unwrap_err().contains("not JSON"));
        assert_eq!(
            verdict(r#"{"shards":null,"now":"x"}"#, "m"),
            Err("m is not in its ring yet".into())
        );
    }
}
