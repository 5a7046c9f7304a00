//! A dry run (`--dry-run`) as text: what each host would do, the rollout's waves, replication
//! and consistency after the change.

use lgtm_model::wire::{ChangePlan, GatewayAction, Known, PlannedStep, ProcessAction};

use super::status::backends;
use super::table::{printable, printable_lines};

/// The plan of a change; `then` says what the command does after it (e.g. removing a host
/// once it drained).
pub fn plan(p: &ChangePlan, then: Option<&str>) -> String {
    let mut out = format!(
        "dry run at intent index {i}: nothing changed; apply it with --check-index {i}\n",
        i = p.intent_index
    );
    if !p.reverts.is_empty() {
        out.push_str("\nthe abort takes back:\n");
        for r in &p.reverts {
            out.push_str(&format!("  {}\n", printable(r)));
        }
    }
    if p.hosts.is_empty() {
        out.push_str("\nno host's desired state changes\n");
    }
    for h in &p.hosts {
        out.push_str(&format!("\n{}:\n", h.host));
        for process in &h.processes {
            out.push_str(&format!("  {} {}\n", process.unit, action(&process.action)));
            out.push_str(&indented(&process.diff));
        }
        if let Some(g) = &h.gateway {
            let what = match &g.action {
                Known::Is(GatewayAction::Start) => "starts",
                Known::Is(GatewayAction::Reload) => "reloads (no request is cut off)",
                Known::Is(GatewayAction::Stop) => "stops",
                Known::Newer(what) => &printable(what),
            };
            out.push_str(&format!("  lgtm-gateway.service {what}\n"));
            out.push_str(&indented(&g.diff));
        }
    }
    out.push('\n');
    if p.waves.is_empty() {
        out.push_str("rollout: nothing to restart or drain\n");
    } else {
        out.push_str("rollout, wave after wave, if every process stays healthy:\n");
        for (n, wave) in p.waves.iter().enumerate() {
            let steps: Vec<String> = wave.iter().map(step).collect();
            out.push_str(&format!("  {}. {}\n", n + 1, steps.join(", ")));
        }
    }
    if let Some(why) = &p.held_up {
        out.push_str(&format!("rollout held up: {}\n", printable(why)));
    }
    for r in &p.replication {
        let factor = |f: u8| match f {
            0 => "none".to_owned(),
            f => f.to_string(),
        };
        out.push_str(&format!(
            "replication factor of {}: {} -> {}\n",
            r.role,
            factor(r.before),
            factor(r.after)
        ));
    }
    if !p.consistency.is_empty() {
        out.push_str("\nafter the change:\n");
        out.push_str(&backends(&p.consistency));
    }
    if let Some(then) = then {
        out.push_str(&format!("\nthen: {then}\n"));
    }
    out
}

fn action(a: &Known<ProcessAction>) -> String {
    let what = match a {
        Known::Is(ProcessAction::Start) => "starts",
        Known::Is(ProcessAction::StartAfterDrain) => {
            "starts once the process it replaces on this host drained and stopped"
        }
        Known::Is(ProcessAction::Restart) => "restarts, when the rollout permits",
        Known::Is(ProcessAction::Rewrite) => "gets its new config without a restart",
        Known::Is(ProcessAction::Drain) => {
            "flushes and leaves its ring when the rollout permits, then stops"
        }
        Known::Is(ProcessAction::Stop) => "stops at once",
        // A newer coordinator's action, in its own word.
        Known::Newer(what) => return printable(what),
    };
    what.to_owned()
}

fn step(s: &PlannedStep) -> String {
    let what = match &s.action {
        Known::Is(ProcessAction::Drain) => "drain",
        Known::Is(_) => "restart",
        Known::Newer(what) => &printable(what),
    };
    let earlier = if s.earlier { ", an earlier change" } else { "" };
    format!("{what} {} on {}{earlier}", s.unit, s.host)
}

/// A diff under its process, four spaces in.
fn indented(diff: &str) -> String {
    if diff.is_empty() {
        return String::new();
    }
    printable_lines(diff)
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect()
}
