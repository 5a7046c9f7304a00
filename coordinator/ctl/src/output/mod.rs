//! Pure formatting of the coordinator's answers: no I/O, so every format is unit-tested.

mod rendered;
mod rollout;
mod table;

pub mod status;

pub use rendered::rendered;
pub use rollout::rollout;

use lgtm_model::Role;
use lgtm_model::consistency::AssignOutcome;
use lgtm_model::wire::{
    AssignResponse, HostRecord, HostRemoved, SettingChanged, SettingEntry, UnassignResponse,
};

pub use table::{Table, printable, printable_lines};

/// Pretty JSON, as `--output json` prints it.
pub fn json(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    s.push('\n');
    s
}

/// Roles as `mimir:ingester, mimir:querier`.
pub fn join_roles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(Role::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `-` for an empty cell, so columns never look shifted.
pub fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

/// A role as resolved by the coordinator; a meta-role also says what it runs.
fn role_with_expansion(role: Role) -> String {
    if role.is_meta() {
        let targets: Vec<&str> = role.expand().iter().map(|r| r.name()).collect();
        format!("{role} ({})", targets.join(", "))
    } else {
        role.to_string()
    }
}

/// "assigned mimir:ingester to host3 (index 12)".
pub fn assigned(a: &AssignResponse) -> String {
    let mut role = role_with_expansion(a.role);
    for also in &a.also_assigned {
        role.push_str(&format!(" and {also}"));
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
    format!(
        "unassigned {} from {} (index {})\n",
        role_with_expansion(u.role),
        u.host,
        u.index
    )
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
