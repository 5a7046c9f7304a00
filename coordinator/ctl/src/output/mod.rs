//! Pure formatting of the coordinator's answers: no I/O, so every format is unit-tested.

mod plan;
mod rendered;
mod rollout;
mod table;

pub mod status;

pub use plan::plan;
pub use rendered::rendered;
pub use rollout::rollout;

use lgtm_model::Role;
use lgtm_model::consistency::AssignOutcome;
use lgtm_model::wire::{
    AssignResponse, DrainResponse, HostRecord, HostRemoved, Known, SettingChanged, SettingEntry,
    Switched, UnassignResponse,
};

pub use table::{Table, printable, printable_lines};

/// Pretty JSON, as `--output json` prints it.
pub fn json(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    s.push('\n');
    s
}

/// Roles as `mimir:ingester, mimir:querier`; one a newer coordinator added as it says it.
pub fn join_roles(roles: &[Known<Role>]) -> String {
    roles
        .iter()
        .map(|r| printable(&r.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `-` for an empty cell, so columns never look shifted.
pub fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

/// A role as resolved by the coordinator; a meta-role also says what it runs.
fn role_with_expansion(role: &Known<Role>) -> String {
    let Known::Is(role) = *role else {
        return join_roles(std::slice::from_ref(role));
    };
    if role.is_meta() {
        let targets: Vec<&str> = role.expand().iter().map(|r| r.name()).collect();
        format!("{role} ({})", targets.join(", "))
    } else {
        role.to_string()
    }
}

/// "assigned mimir:ingester to host3 (index 12)".
pub fn assigned(a: &AssignResponse) -> String {
    let mut role = role_with_expansion(&a.role);
    for also in &a.also_assigned {
        role.push_str(&format!(" and {}", join_roles(std::slice::from_ref(also))));
    }
    match a.outcome {
        AssignOutcome::Added => format!("assigned {role} to {} (index {})\n", a.host, a.index),
        AssignOutcome::AlreadyAssigned => format!(
            "{} already has {role}; nothing changed (index {})\n",
            a.host, a.index
        ),
    }
}

/// "unassigned mimir:ingester from host3 (index 13)".
pub fn unassigned(u: &UnassignResponse) -> String {
    let mut out = format!(
        "unassigned {} from {} (index {})\n",
        role_with_expansion(&u.role),
        u.host,
        u.index
    );
    out.push_str(&draining(&u.draining));
    out
}

/// "drained host3: unassigned loki:write (index 15); draining lgtm-loki-write.service".
pub fn drained(d: &DrainResponse) -> String {
    let roles = if d.roles.is_empty() {
        "no roles left to unassign".to_owned()
    } else {
        format!("unassigned {}", join_roles(&d.roles))
    };
    let mut out = format!("drained {}: {roles} (index {})\n", d.host, d.index);
    out.push_str(&draining(&d.draining));
    out
}

/// "switched loki (index 20): host1 loki:backend, loki:read, loki:write; ..." and what drains.
pub fn switched(s: &Switched) -> String {
    let hosts: Vec<String> = s
        .hosts
        .iter()
        .map(|(h, roles)| format!("{h} {}", join_roles(roles)))
        .collect();
    let mut out = format!(
        "switched {} (index {}): {}\n",
        s.backend,
        s.index,
        hosts.join("; ")
    );
    if !s.draining.is_empty() {
        out.push_str(&format!(
            "{} flush and leave their rings once the new processes are healthy, one ring member at a time; a new process that runs what one of them runs starts once it is gone (`lgtmctl rollout status`)\n",
            s.draining.join(", ")
        ));
    }
    out
}

/// The line saying which units drain through the rollout, if any.
pub fn draining(units: &[String]) -> String {
    if units.is_empty() {
        return String::new();
    }
    format!(
        "{} flush{} and leave{} {} ring{} first, one ring member at a time (`lgtmctl rollout status`)\n",
        units.join(", "),
        if units.len() == 1 { "es" } else { "" },
        if units.len() == 1 { "s" } else { "" },
        if units.len() == 1 { "its" } else { "their" },
        if units.len() == 1 { "" } else { "s" },
    )
}

/// "rollout aborted (index 20): ..." and what was taken back.
pub fn aborted(a: &lgtm_model::wire::RolloutAborted) -> String {
    let mut out = format!(
        "rollout aborted (index {}): roles and settings are back to before it\n",
        a.index
    );
    for r in &a.reverted {
        out.push_str(&format!("  {}\n", printable(r)));
    }
    out.push_str(
        "processes already restarted restart back one at a time (`lgtmctl rollout status`)\n",
    );
    out
}

/// "removed host host3 (index 14)".
pub fn host_removed(r: &HostRemoved) -> String {
    format!("removed host {} (index {})\n", r.host, r.index)
}

/// Warnings for stderr, one `warning: ...` line each.
pub fn warnings(list: &[String]) -> String {
    list.iter()
        .map(|w| format!("warning: {}\n", printable(w)))
        .collect()
}

/// "set mimir.log_level (index 14)"; never shows the value, which may be a secret.
pub fn setting_changed(c: &SettingChanged) -> String {
    format!("set {} (index {})\n", c.key, c.index)
}

/// `lgtmctl hosts`.
pub fn hosts(list: &[HostRecord]) -> String {
    if list.is_empty() {
        return "no hosts yet: start lgtm-agent on a host, or `lgtmctl assign-role HOST ROLE`\n"
            .to_owned();
    }
    let mut t = Table::new(&["HOST", "ADDRESS", "ROLES (desired)"]);
    for h in list {
        let address = h
            .address
            .map_or("- (not registered)".to_owned(), |a| a.to_string());
        t.row([h.name.to_string(), address, or_dash(&join_roles(&h.roles))]);
    }
    t.render()
}

/// `lgtmctl config get`: secrets only say `<set>` or `<unset>`.
pub fn settings(list: &[SettingEntry]) -> String {
    let mut t = Table::new(&["KEY", "VALUE", "HELP"]);
    for s in list {
        let value = match (&s.value, s.secret, s.is_set) {
            (_, true, true) => "<set>".to_owned(),
            (_, true, false) => "<unset>".to_owned(),
            (Some(v), false, _) if !v.is_empty() => v.clone(),
            _ => "-".to_owned(),
        };
        t.row([s.key.as_str(), &value, &s.help]);
    }
    t.render()
}

#[cfg(test)]
mod tests;
