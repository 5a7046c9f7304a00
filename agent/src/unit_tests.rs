//! Golden files of rendered units (`agent/tests/golden/`, re-bless with `LGTM_BLESS=1`) and
//! refusal of hostile input.

use super::*;
use crate::layout::tests::layout;

pub(crate) fn process(roles: &[&str], data_dir: &str) -> DesiredProcess {
    let roles: Vec<Role> = roles.iter().map(|r| r.parse().unwrap()).collect();
    let id = ProcessId::for_role(roles[0]);
    DesiredProcess {
        id,
        roles,
        ports: id.ports(),
        config: "server:\n  http_listen_port: 1\n".into(),
        data_dir: data_dir.into(),
    }
}

fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("LGTM_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run with LGTM_BLESS=1 to create it"));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn rendered(roles: &[&str], data_dir: &str, l: &Layout) -> String {
    render(&UnitSpec::new(&process(roles, data_dir), l).unwrap()).unwrap()
}

#[test]
fn golden_units() {
    let l = layout();
    golden(
        "lgtm-mimir.service",
        &rendered(
            &["mimir:distributor", "mimir:ingester"],
            "/var/lib/lgtm/mimir",
            &l,
        ),
    );
    golden(
        "lgtm-loki-read.service",
        &rendered(&["loki:read"], "/var/lib/lgtm/loki-read", &l),
    );
    golden(
        "lgtm-tempo-ingester.service",
        &rendered(&["tempo:ingester"], "/var/lib/lgtm/tempo-ingester", &l),
    );
    // Data outside /var/lib: the agent creates the directory, the unit opens it for writing.
    let mut srv = layout();
    srv.data_root = SafePath::parse("/srv/lgtm").unwrap();
    srv.bin_dir = SafePath::parse("/opt/lgtm/bin").unwrap();
    golden(
        "lgtm-tempo-all.service",
        &rendered(&["tempo:all"], "/srv/lgtm/tempo-all", &srv),
    );
    golden("lgtm-mimir.sysusers.conf", &sysusers(Backend::Mimir));
}

#[test]
fn production_choices() {
    let l = layout();
    let mimir = rendered(&["mimir:all"], "/var/lib/lgtm/mimir", &l);
    for want in [
        "Type=notify\n",
        "TimeoutStartSec=20min\n",
        "ExecStart=/usr/bin/mimir -config.file=/etc/lgtm/mimir/mimir.yaml -target=all\n",
        "StateDirectory=lgtm/mimir\n",
        "WorkingDirectory=/var/lib/lgtm/mimir\n",
        "TimeoutStopSec=10min\n",
        "User=mimir\n",
    ] {
        assert!(mimir.contains(want), "mimir unit lacks {want:?}");
    }
    let querier = rendered(&["tempo:querier"], "/var/lib/lgtm/tempo-querier", &l);
    for want in [
        "Type=exec\n",
        "-target=querier\n",
        "TimeoutStopSec=45s\n",
        "Restart=on-failure\n",
    ] {
        assert!(querier.contains(want), "tempo querier unit lacks {want:?}");
    }
    assert!(!querier.contains("Type=notify"));
    // Only a process that flushes ingested data gets the long stop; other data (a compactor's,
    // an index gateway's) lies in object storage, and a Loki backend with the cluster's only
    // query-scheduler never finishes its stop while frontends hold their streams.
    for (roles, want) in [
        (&["loki:write"][..], "TimeoutStopSec=10min\n"),
        (&["loki:backend"], "TimeoutStopSec=45s\n"),
        (
            &["loki:compactor", "loki:query-scheduler"],
            "TimeoutStopSec=45s\n",
        ),
        (
            &["mimir:store-gateway", "mimir:compactor"],
            "TimeoutStopSec=45s\n",
        ),
        (&["tempo:all"], "TimeoutStopSec=2min\n"),
    ] {
        let unit = rendered(roles, "/var/lib/lgtm/x", &l);
        assert!(unit.contains(want), "{roles:?} lacks {want:?}");
    }
    // Tempo's `all` runs as scalable-single-binary upstream.
    let all = rendered(&["tempo:all"], "/var/lib/lgtm/tempo-all", &l);
    assert!(all.contains("-target=scalable-single-binary\n"), "{all}");
}

#[test]
fn every_line_is_a_section_a_comment_or_a_known_directive() {
    let l = layout();
    let text = rendered(&["loki:all"], "/var/lib/lgtm/loki", &l);
    for line in text.lines() {
        let ok = line.is_empty()
            || line.starts_with('#')
            || line.starts_with('[')
            || line
                .split_once('=')
                .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(ok, "unexpected line {line:?}");
    }
}

#[test]
fn hostile_input_is_refused() {
    let l = layout();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["mimir:ingester"],
            "/var/lib/lgtm/mimir\nExecStartPre=/bin/sh -c 'rm -rf /'",
            "a newline",
        ),
        (&["mimir:ingester"], "var/lib/lgtm/mimir", "not absolute"),
        (&["mimir:ingester"], "/var/lib/lgtm/%h", "systemd specifier"),
        (&["mimir:ingester"], "/var/lib/lgtm/../../etc", "'..'"),
        (&["mimir:ingester"], "/var/lib/lgtm/a b", "a space"),
        (&["mimir:ingester"], "/var/lib/lgtm/a\"b", "use only a-z"),
        (&["mimir:ingester"], "/var/lib/lgtm/a'b", "use only a-z"),
        (&["mimir:ingester"], "/var/lib/lgtm/a\rb", "use only a-z"),
        (
            &["mimir:ingester"],
            "/etc",
            "not below this agent's data_root",
        ),
        (
            &["mimir:ingester"],
            "/var/lib/lgtm",
            "not below this agent's data_root",
        ),
        (&["mimir:ingester"], "/var/lib/lgtmx/mimir", "not below"),
        (
            &["mimir:ingester", "loki:ingester"],
            "/var/lib/lgtm/mimir",
            "does not belong",
        ),
    ];
    for (roles, data_dir, want) in cases {
        let e =
            crate::error_chain::chain(&UnitSpec::new(&process(roles, data_dir), &l).unwrap_err());
        assert!(e.contains(want), "{data_dir:?}: {e}");
        assert!(!e.contains('\n'), "{e:?}");
    }
    let mut no_roles = process(&["loki:all"], "/var/lib/lgtm/loki");
    no_roles.roles.clear();
    assert!(matches!(
        UnitSpec::new(&no_roles, &l),
        Err(UnitError::NoRoles { .. })
    ));
    // Tempo runs exactly one target per process.
    let mut two = process(&["tempo:ingester"], "/var/lib/lgtm/tempo-ingester");
    two.roles.push("tempo:querier".parse().unwrap());
    two.id = ProcessId::for_role(two.roles[0]);
    let e = UnitSpec::new(&two, &l).unwrap_err();
    assert!(
        matches!(
            e,
            UnitError::ForeignRole { .. } | UnitError::TempoTargets { .. }
        ),
        "{e}"
    );
}

#[test]
fn values_are_escaped_or_refused() {
    assert_eq!(value("50%").unwrap(), "50%%");
    assert_eq!(value("%n%%").unwrap(), "%%n%%%%");
    assert!(value("a\nb").is_err());
    assert!(value("a\rb").is_err());
    assert!(value("a\0b").is_err());
    // A spec built by hand still goes through `value`.
    let mut spec = UnitSpec::new(&process(&["loki:all"], "/var/lib/lgtm/loki"), &layout()).unwrap();
    spec.state_directories = Some(vec!["lgtm/loki\nExecStartPre=/bin/sh".into()]);
    assert!(matches!(render(&spec), Err(UnitError::ControlChar(_))));
    spec.state_directories = Some(vec!["lgtm/50%".into()]);
    assert!(
        render(&spec)
            .unwrap()
            .contains("StateDirectory=lgtm/50%%\n")
    );
}
