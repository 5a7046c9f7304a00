//! A backend unit as systemd inside a host sees it, and the agent's journal events.

use std::collections::BTreeMap;

use anyhow::Context;
use lgtm_tests::lab::Host;
use serde_json::Value;

/// `systemctl show -p P1,P2.. UNIT` inside `host`, as a map.
pub fn props(host: &Host, unit: &str, names: &[&str]) -> anyhow::Result<BTreeMap<String, String>> {
    let list = names.join(",");
    let out = host.run(&["systemctl", "show", "-p", &list, unit])?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// A numeric property from [`props`]' answer (0 when absent).
pub fn num(props: &BTreeMap<String, String>, name: &str) -> u64 {
    props.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// One agent journal event: its fields and journald's monotonic timestamp (µs).
#[derive(Clone, Debug)]
pub struct Event {
    /// `__MONOTONIC_TIMESTAMP`.
    pub mono_us: u64,
    /// Every field, as journald exported it.
    pub fields: Value,
}

impl Event {
    /// A string field (`F_INDEX`, `F_ACTION`...), empty when absent.
    pub fn field(&self, name: &str) -> &str {
        self.fields[name].as_str().unwrap_or("")
    }
}

/// The agent's journal events on `host` that count `metric` (`lgtm_agent_..._total`).
pub fn agent_events(host: &Host, metric: &str) -> anyhow::Result<Vec<Event>> {
    let filter = format!("F_METRIC={metric}");
    let out = host.run(&[
        "journalctl",
        "--no-pager",
        "-o",
        "json",
        "-u",
        "lgtm-agent.service",
        &filter,
    ])?;
    out.lines()
        .map(|l| {
            let fields: Value = serde_json::from_str(l).context("journal JSON")?;
            let mono_us = fields["__MONOTONIC_TIMESTAMP"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .context("journal entry without __MONOTONIC_TIMESTAMP")?;
            Ok(Event { mono_us, fields })
        })
        .collect()
}
