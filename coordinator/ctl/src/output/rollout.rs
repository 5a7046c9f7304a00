//! `lgtmctl rollout status` as text.

use lgtm_model::wire::{RolloutProcess, RolloutStatus};

use super::table::{Table, first_line, printable};

/// Longest note shown.
const NOTE_WIDTH: usize = 100;

/// Where the rollout stands: a line, then the processes restarting and waiting.
pub fn rollout(r: &RolloutStatus) -> String {
    let mut out = match (&r.paused, r.restarting.len() + r.waiting.len()) {
        (Some(why), _) => format!("rollout PAUSED: {}\n", printable(why)),
        (None, 0) => return "rollout: idle, nothing waits for a restart\n".to_owned(),
        (None, _) => format!(
            "rollout: {} restarting, {} waiting\n",
            r.restarting.len(),
            r.waiting.len()
        ),
    };
    if r.restarting.is_empty() && r.waiting.is_empty() {
        return out;
    }
    let mut t = Table::new(&["HOST", "UNIT", "RING", "STATE", "NOTE"]);
    let mut row = |p: &RolloutProcess, state: &str| {
        let ring = if p.stateful { "member" } else { "-" };
        let note = p
            .note
            .as_deref()
            .map_or("-".to_owned(), |n| first_line(n, NOTE_WIDTH));
        t.row(vec![
            p.host.to_string(),
            p.unit.clone(),
            ring.into(),
            state.into(),
            note,
        ]);
    };
    for p in &r.restarting {
        row(p, if p.retire { "draining" } else { "restarting" });
    }
    for p in &r.waiting {
        row(
            p,
            if p.retire {
                "waits to drain"
            } else {
                "waiting"
            },
        );
    }
    out.push_str(&t.render());
    out
}
