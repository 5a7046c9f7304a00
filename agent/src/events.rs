//! Telemetry as named events: one structured log line per event, carrying the metric it
//! counts (`metric = "lgtm_agent_..._total"`), so journald fields (`F_METRIC`, `F_ACTION`...)
//! can be counted and filtered, and the same counts in [`crate::metrics`] for Prometheus.
//! Messages repeat the essentials for plain `journalctl` readers.

use lgtm_model::wire::{ActionResult, UnitStatus};

use crate::metrics::{METRICS, count, set};

/// An action of a plan finished (`lgtm_agent_actions_total`).
pub fn action_done(result: &ActionResult) {
    let action = &result.action;
    count(match result.error {
        None => &METRICS.actions_ok,
        Some(_) => &METRICS.actions_failed,
    });
    match &result.error {
        None => tracing::info!(
            metric = "lgtm_agent_actions_total",
            action = %action,
            ok = true,
            "Done: {action}."
        ),
        Some(error) => tracing::error!(
            metric = "lgtm_agent_actions_total",
            action = %action,
            ok = false,
            %error,
            "Failed: {error}"
        ),
    }
}

/// A new desired state was accepted and saved (`lgtm_agent_desired_accepted_total`).
pub fn desired_accepted(index: u64) {
    count(&METRICS.desired_accepted);
    set(&METRICS.desired_index, index);
    tracing::info!(
        metric = "lgtm_agent_desired_accepted_total",
        index,
        "Accepted desired state index {index}."
    );
}

/// A desired state was applied (`lgtm_agent_reconciles_total`).
pub fn reconciled(index: u64, actions: usize, failed: usize) {
    set(&METRICS.applied_index, index);
    count(match failed {
        0 => &METRICS.reconciles_ok,
        _ => &METRICS.reconciles_failed,
    });
    if failed == 0 {
        tracing::info!(
            metric = "lgtm_agent_reconciles_total",
            index,
            actions,
            failed,
            "Applied desired state index {index}: {actions} actions."
        );
    } else {
        tracing::error!(
            metric = "lgtm_agent_reconciles_total",
            index,
            actions,
            failed,
            "Applied desired state index {index}: {failed} of {actions} actions failed."
        );
    }
}

/// A unit's reported status changed (`lgtm_agent_unit_changes_total`); `trigger` says what
/// revealed it: `signal` (PropertiesChanged), `resync`, `probe`, `desired`, `apply`.
pub fn unit_changed(unit: &UnitStatus, trigger: &str) {
    count(&METRICS.unit_changes);
    let ready = match unit.ready {
        Some(true) => "ready",
        Some(false) => "not ready",
        None => "not probed",
    };
    tracing::info!(
        metric = "lgtm_agent_unit_changes_total",
        unit = %unit.unit,
        active_state = %unit.active_state,
        sub_state = %unit.sub_state,
        n_restarts = unit.n_restarts,
        main_pid = unit.main_pid,
        ready = ?unit.ready,
        trigger,
        "{}: {}/{}, {} restarts, {ready} (seen by {trigger}).",
        unit.unit,
        unit.active_state,
        unit.sub_state,
        unit.n_restarts
    );
}

/// A report was posted (`lgtm_agent_reports_total`).
pub fn reported(applied_index: u64, units: usize) {
    count(&METRICS.reports);
    tracing::debug!(
        metric = "lgtm_agent_reports_total",
        applied_index,
        units,
        "Posted the report (applied index {applied_index}, {units} units)."
    );
}
