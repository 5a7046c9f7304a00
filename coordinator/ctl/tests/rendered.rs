//! `lgtmctl config rendered` and `config set --from-file`, against a real coordinator.

mod common;

use common::Coordinator;

const SECRET: &str = "Rendered-s3cr3t-0123456789";

#[test]
fn rendered_configs_with_the_secret_redacted_everywhere() {
    let c = Coordinator::start();
    c.register("h1", "198.18.0.2");
    // Storage before roles: moving a deployed backend's storage is refused.
    for (k, v) in [
        ("loki.storage.backend", "s3"),
        ("loki.storage.s3.endpoint", "http://198.18.0.1:9000"),
        ("loki.storage.s3.bucket", "logs"),
        ("loki.storage.s3.access_key_id", "AKEXAMPLE"),
    ] {
        c.ctl(&["config", "set", k, v]).ok();
    }
    c.ctl(&["assign-role", "h1", "loki:all"]).ok();
    let mut outputs = vec![c.ctl_with_stdin(
        &[
            "config",
            "set",
            "loki.storage.s3.secret_access_key",
            "--from-stdin",
        ],
        Some(SECRET),
    )];
    let dir = tempfile::tempdir().expect("tempdir");
    let overlay = dir.path().join("loki.yaml");
    std::fs::write(&overlay, "limits_config:\n  retention_period: 744h\n").expect("write");
    let path = overlay.to_str().expect("utf-8 path");
    c.ctl(&["config", "set", "loki.overrides", "--from-file", path])
        .ok();

    let table = c.ctl(&["config", "rendered", "h1"]).ok();
    assert!(
        table
            .stdout
            .starts_with("# host h1 · lgtm-loki.service · loki:all · /var/lib/lgtm/loki (index "),
        "{table:#?}"
    );
    assert!(
        table.stdout.contains("secret_access_key: <redacted>")
            && table.stdout.contains("retention_period: 744h"),
        "{table:#?}"
    );
    let json = c
        .ctl(&["config", "rendered", "h1", "loki", "-o", "json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["processes"][0]["unit"], "lgtm-loki.service", "{v}");
    let none = c.ctl(&["config", "rendered", "h1", "tempo"]).ok();
    assert!(
        none.stdout.contains("h1 runs no backend process here"),
        "{none:#?}"
    );
    outputs.extend([table, json, none]);
    outputs.push(c.ctl(&["config", "get"]).ok());
    outputs.push(c.ctl(&["status", "-o", "json"]).ok());
    for r in &outputs {
        assert!(
            !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
            "secret leaked: {r:#?}"
        );
    }
}

#[test]
fn from_file_refusals_and_bad_overlays_name_the_fix() {
    let c = Coordinator::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("overlay.yaml");
    std::fs::write(&f, "server:\n  http_listen_port: 9009\n").expect("write");
    let path = f.to_str().expect("utf-8 path");
    let r = c.ctl(&["config", "set", "mimir.overrides", "--from-file", path]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("mimir.overrides")
            && r.stderr
                .contains("'server.http_listen_port' is set by lgtm"),
        "{r:#?}"
    );
    let missing = dir.path().join("missing.yaml");
    let r = c.ctl(&[
        "config",
        "set",
        "mimir.overrides",
        "--from-file",
        missing.to_str().expect("utf-8 path"),
    ]);
    assert_ne!(r.code, 0, "{r:#?}");
    assert!(r.stderr.contains("failed to read the value file"), "{r:#?}");
    let r = c.ctl(&["config", "rendered", "nohost"]);
    assert_ne!(r.code, 0, "{r:#?}");
    // Value and --from-file together are a usage error.
    let r = c.ctl(&[
        "config",
        "set",
        "mimir.log_level",
        "info",
        "--from-file",
        path,
    ]);
    assert_eq!(r.code, 2, "{r:#?}");
}
