//! `lgtmctl status` and `lgtmctl host show` as text: desired state and reported state, labelled.

use lgtm_model::Role;
use lgtm_model::process::processes;
use lgtm_model::wire::{
    BackendVerdict, ClusterStatus, HostRecord, HostStatus, Known, Liveness, UnitStatus,
};

use super::table::{Table, first_line, printable};
use super::{join_roles, or_dash};

/// Longest error text shown in a table cell.
const ERROR_WIDTH: usize = 80;

/// The whole status, readable at a glance.
pub fn status(s: &ClusterStatus) -> String {
    let mut out = format!("cluster index {}\n", s.index);
    out.push_str("desired:  backend verdicts, roles, desired index (coordinator)\n");
    out.push_str(&format!(
        "reported: agent liveness, applied index, units ({})\n\n",
        report_ages(&s.hosts)
    ));
    out.push_str(&backends(&s.backends));
    if !s.rollout.is_idle() {
        out.push('\n');
        out.push_str(&super::rollout(&s.rollout));
    }
    out.push('\n');
    out.push_str(&hosts(&s.hosts));
    let units = units(&s.hosts, true);
    if !units.is_empty() {
        out.push('\n');
        out.push_str(&units);
    }
    out.push_str(&failed_actions(&s.hosts));
    out
}

/// "by agents 2s to 40s ago", or why there is nothing reported.
fn report_ages(hosts: &[HostStatus]) -> String {
    let ages: Vec<u64> = hosts
        .iter()
        .filter_map(|h| h.last_report_seconds_ago)
        .collect();
    match (ages.iter().min(), ages.iter().max()) {
        (Some(min), Some(max)) if min == max => format!("by agents {min}s ago"),
        (Some(min), Some(max)) => format!("by agents {min}s to {max}s ago"),
        _ => "no agent has reported yet".to_owned(),
    }
}

/// The backends table and their warnings.
pub fn backends(list: &[BackendVerdict]) -> String {
    let mut t = Table::new(&["BACKEND", "STATE", "REPLICATION"]);
    for b in list {
        let state = if !b.deployed {
            "not deployed".to_owned()
        } else if b.consistent {
            "consistent".to_owned()
        } else {
            let names: Vec<String> = b.missing.iter().map(short_name).collect();
            format!("MISSING {}", names.join(", "))
        };
        let replication: Vec<String> = b
            .replication
            .iter()
            .map(|r| {
                let s = if r.hosts == 1 { "" } else { "s" };
                format!(
                    "{} RF {} on {} host{s}",
                    short_name(&r.role),
                    r.factor,
                    r.hosts
                )
            })
            .collect();
        t.row([
            b.backend.as_str().to_owned(),
            state,
            or_dash(&replication.join(", ")),
        ]);
    }
    let mut out = t.render();
    for w in list.iter().flat_map(|b| &b.warnings) {
        out.push_str(&format!("warning: {}\n", printable(w)));
    }
    out
}

/// A role without its backend (the row names it); one a newer coordinator added as it says it.
fn short_name(role: &Known<Role>) -> String {
    match role {
        Known::Is(r) => r.name().to_owned(),
        Known::Newer(text) => printable(text.split_once(':').map_or(text, |(_, name)| name)),
    }
}

/// The hosts table: desired roles and index beside what the agent reported.
pub fn hosts(list: &[HostStatus]) -> String {
    if list.is_empty() {
        return "no hosts yet: start lgtm-agent on a host, or `lgtmctl assign-role HOST ROLE`\n"
            .to_owned();
    }
    let mut t = Table::new(&["HOST", "ROLES", "AGENT", "APPLIED/DESIRED"]);
    for h in list {
        t.row([
            h.name.to_string(),
            or_dash(&join_roles(&h.roles)),
            agent(h),
            index(h),
        ]);
    }
    t.render()
}

/// "alive, 3s ago", "stale, 95s ago", "never reported".
fn agent(h: &HostStatus) -> String {
    let word = match &h.liveness {
        Known::Is(Liveness::Alive) => "alive",
        Known::Is(Liveness::Stale) => "STALE",
        Known::Is(Liveness::Unknown) => return "never reported".to_owned(),
        Known::Newer(word) => &printable(word),
    };
    match h.last_report_seconds_ago {
        Some(s) => format!("{word}, {s}s ago"),
        None => word.to_owned(),
    }
}

/// "12/12", or "10/12 behind".
fn index(h: &HostStatus) -> String {
    let applied = h.applied_index.map_or("-".to_owned(), |i| i.to_string());
    let behind = if h.behind { " behind" } else { "" };
    format!("{applied}/{}{behind}", h.desired_index)
}

/// Units per host: every reported unit, plus the units the host's roles need that no agent
/// reported (`not reported`). Empty when there is nothing to show.
pub fn units(list: &[HostStatus], with_host: bool) -> String {
    let mut header = vec!["UNIT", "STATE", "READY", "RESTARTS", "ERROR"];
    if with_host {
        header.insert(0, "HOST");
    }
    let mut t = Table::new(&header);
    for h in list {
        for row in unit_rows(h) {
            let mut cells = row.to_vec();
            if with_host {
                cells.insert(0, h.name.to_string());
            }
            t.row(cells);
        }
    }
    if t.is_empty() {
        String::new()
    } else {
        t.render()
    }
}

fn unit_rows(h: &HostStatus) -> Vec<[String; 5]> {
    let mut rows: Vec<[String; 5]> = h.units.iter().map(unit_row).collect();
    for id in processes(&Known::known_values(&h.roles)).keys() {
        let unit = id.unit_name();
        if !h.units.iter().any(|u| u.unit == unit) {
            let empty = String::new;
            rows.push([unit, "not reported".into(), empty(), empty(), empty()]);
        }
    }
    rows
}

fn unit_row(u: &UnitStatus) -> [String; 5] {
    let state = if u.sub_state.is_empty() {
        u.active_state.clone()
    } else {
        format!("{}/{}", u.active_state, u.sub_state)
    };
    let ready = match u.ready {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "-",
    };
    let error = u
        .error
        .as_deref()
        .map_or(String::new(), |e| first_line(e, ERROR_WIDTH));
    [
        u.unit.clone(),
        state,
        ready.to_owned(),
        u.n_restarts.to_string(),
        error,
    ]
}

/// Failed actions of each host's last apply, one line each.
fn failed_actions(list: &[HostStatus]) -> String {
    let mut out = String::new();
    for h in list {
        for a in &h.failed_actions {
            let why = a.error.as_deref().unwrap_or("no reason given");
            out.push_str(&format!(
                "failed: {}: {}: {}\n",
                h.name,
                printable(&a.action),
                first_line(why, ERROR_WIDTH)
            ));
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\n{out}")
    }
}

/// One host in detail: its record, and what its agent reported when the status has it.
pub fn host(record: &HostRecord, status: Option<&HostStatus>) -> String {
    let mut t = Table::headless(2);
    t.row(["host", record.name.as_str()]);
    let address = record
        .address
        .map_or("- (agent not registered)".to_owned(), |a| a.to_string());
    t.row(["address", &address]);
    t.row(["data root", record.data_root.as_deref().unwrap_or("-")]);
    t.row(["roles (desired)", &or_dash(&join_roles(&record.roles))]);
    if let Some(h) = status {
        t.row(["agent (reported)", &agent(h)]);
        t.row(["applied/desired", &index(h)]);
    }
    let mut out = t.render();
    if let Some(h) = status {
        let units = units(std::slice::from_ref(h), false);
        if !units.is_empty() {
            out.push_str("\nunits (reported):\n");
            out.push_str(&units);
        }
        out.push_str(&failed_actions(std::slice::from_ref(h)));
        if let Some(f) = &h.facts {
            out.push_str(&format!(
                "\nfacts (reported): {} CPUs, load {:.2}, memory {} of {} MiB available\n",
                f.cpus,
                f.load1,
                f.memory_available_bytes >> 20,
                f.memory_total_bytes >> 20
            ));
        }
    }
    out
}
