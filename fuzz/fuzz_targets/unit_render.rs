//! The agent's unit renderer over hostile data directories and role lists: it refuses or
//! renders, and every rendered line is a section, a comment or one `Key=value` directive.
#![no_main]

use lgtm_agent::layout::Layout;
use lgtm_agent::safe_path::SafePath;
use lgtm_agent::unit::{UnitSpec, render};
use lgtm_model::Role;
use lgtm_model::process::ProcessId;
use lgtm_model::wire::DesiredProcess;
use libfuzzer_sys::fuzz_target;

fn path(p: &str) -> SafePath {
    SafePath::parse(p).expect("a fixed safe path")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: data dir; the rest: roles.
    let mut lines = text.split('\n');
    let data_dir = lines.next().unwrap_or_default();
    let roles: Vec<Role> = lines.filter_map(|l| l.parse().ok()).collect();
    let Some(first) = roles.first() else { return };
    let id = ProcessId::for_role(*first);
    let process = DesiredProcess {
        id,
        roles: roles.clone(),
        ports: id.ports(),
        config: String::new(),
        data_dir: data_dir.to_owned(),
    };
    let layout = Layout {
        bin_dir: path("/usr/bin"),
        config_dir: path("/etc/lgtm"),
        unit_dir: path("/etc/systemd/system"),
        state_dir: path("/var/lib/lgtm-agent"),
        data_root: path("/var/lib/lgtm"),
        sysusers_dir: path("/etc/sysusers.d"),
    };
    let Ok(spec) = UnitSpec::new(&process, &layout) else {
        return;
    };
    let Ok(unit) = render(&spec) else { return };
    for line in unit.lines() {
        let ok = line.is_empty()
            || line.starts_with('#')
            || line.starts_with('[')
            || line.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric())
            });
        assert!(ok, "unexpected line {line:?} for data_dir {data_dir:?}");
        assert!(!line.contains('\r'), "{line:?}");
    }
    // The data dir is only ever below the data root, and never carries a specifier.
    assert!(data_dir.starts_with("/var/lib/lgtm/"), "{data_dir:?}");
    assert!(
        !data_dir.contains('%') || unit.contains("%%"),
        "{data_dir:?}"
    );
});
