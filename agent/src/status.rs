//! Unit status as reported: systemd's properties plus readiness, and a pure classification
//! of failures (`failure`) that decides when the journal is worth attaching.

use lgtm_model::wire::UnitStatus;

/// What systemd says of one unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawUnit {
    /// Unit name.
    pub name: String,
    /// LoadState: loaded, not-found, ...
    pub load_state: String,
    /// ActiveState.
    pub active_state: String,
    /// SubState.
    pub sub_state: String,
    /// NRestarts.
    pub n_restarts: u32,
    /// MainPID.
    pub main_pid: u32,
    /// ExecMainStatus.
    pub exec_main_status: i32,
    /// Result: success, exit-code, signal, timeout, start-limit-hit, ...
    pub result: String,
}

/// Why a unit is unhealthy, in one line; `None` when it is not (or merely stopped).
pub fn failure(u: &RawUnit, wanted: bool) -> Option<String> {
    if wanted && u.load_state == "not-found" {
        return Some("the unit file is missing".to_owned());
    }
    if u.active_state == "failed" {
        return Some(format!(
            "failed: result '{}', exit status {}, {} restarts",
            u.result, u.exec_main_status, u.n_restarts
        ));
    }
    if u.sub_state == "auto-restart" {
        return Some(format!(
            "restarting after a failure: result '{}', exit status {}, {} restarts",
            u.result, u.exec_main_status, u.n_restarts
        ));
    }
    None
}

/// Whether a unit belongs in the report: every wanted unit, and any other managed unit that
/// has a unit file or a process, or failed. A removed unit that systemd still holds in memory
/// (no file, inactive: its cgroup or a reference keeps it from being collected) does not.
pub fn reportable(u: &RawUnit, wanted: bool) -> bool {
    wanted || !(u.load_state == "not-found" && u.active_state == "inactive")
}

/// Identifies one failure, so its journal lines are read once, not on every resync.
pub fn failure_key(u: &RawUnit) -> (String, String, u32) {
    (u.active_state.clone(), u.sub_state.clone(), u.n_restarts)
}

/// The reported status of `u`.
pub fn unit_status(u: &RawUnit, ready: Option<bool>, error: Option<String>) -> UnitStatus {
    UnitStatus {
        unit: u.name.clone(),
        active_state: u.active_state.clone(),
        sub_state: u.sub_state.clone(),
        n_restarts: u.n_restarts,
        main_pid: u.main_pid,
        exec_main_status: u.exec_main_status,
        ready,
        error,
    }
}

/// Decodes a systemd unit object path (`.../unit/lgtm_2dmimir_2eservice`) to its unit name.
pub fn unit_of_path(path: &str) -> Option<String> {
    let label = path.strip_prefix("/org/freedesktop/systemd1/unit/")?;
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(active: &str, sub: &str) -> RawUnit {
        RawUnit {
            name: "lgtm-mimir.service".into(),
            load_state: "loaded".into(),
            active_state: active.into(),
            sub_state: sub.into(),
            n_restarts: 2,
            main_pid: 0,
            exec_main_status: 1,
            result: "exit-code".into(),
        }
    }

    #[test]
    fn classification() {
        assert_eq!(failure(&unit("active", "running"), true), None);
        assert_eq!(failure(&unit("inactive", "dead"), true), None);
        assert_eq!(
            failure(&unit("failed", "failed"), true).as_deref(),
            Some("failed: result 'exit-code', exit status 1, 2 restarts")
        );
        assert!(
            failure(&unit("activating", "auto-restart"), true)
                .unwrap()
                .starts_with("restarting after a failure")
        );
        let mut missing = unit("inactive", "dead");
        missing.load_state = "not-found".into();
        assert!(failure(&missing, true).is_some());
        assert_eq!(
            failure(&missing, false),
            None,
            "an unwanted unit may be gone"
        );
    }

    #[test]
    fn ghosts_of_removed_units_are_not_reported() {
        let mut ghost = unit("inactive", "dead");
        ghost.load_state = "not-found".into();
        assert!(!reportable(&ghost, false));
        assert!(
            reportable(&ghost, true),
            "a wanted unit is reported, file or not"
        );
        assert!(
            reportable(&unit("inactive", "dead"), false),
            "a stray unit file"
        );
        let mut running = unit("active", "running");
        running.load_state = "not-found".into();
        assert!(reportable(&running, false), "a process without a unit file");
    }

    #[test]
    fn object_paths() {
        assert_eq!(
            unit_of_path(
                "/org/freedesktop/systemd1/unit/lgtm_2dtempo_2dquery_2dfrontend_2eservice"
            )
            .as_deref(),
            Some("lgtm-tempo-query-frontend.service")
        );
        assert_eq!(unit_of_path("/org/freedesktop/systemd1/job/12"), None);
        assert_eq!(unit_of_path("/org/freedesktop/systemd1/unit/bad_2"), None);
    }

    #[test]
    fn status_carries_everything() {
        let s = unit_status(&unit("active", "running"), Some(true), None);
        assert_eq!(s.unit, "lgtm-mimir.service");
        assert_eq!(
            (s.active_state.as_str(), s.sub_state.as_str()),
            ("active", "running")
        );
        assert_eq!(
            (s.n_restarts, s.exec_main_status, s.ready),
            (2, 1, Some(true))
        );
    }
}
