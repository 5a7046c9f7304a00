//! `lgtmctl` against the real `lgtm-coordinator`: every command, its output and exit code.
//!
//! Needs the coordinator binary built first: `cargo build -p lgtm-coordinator`.

mod common;

use common::{Coordinator, lgtmctl, run, unit};
use lgtm_model::wire::ClusterStatus;

#[test]
fn assign_resolves_an_unqualified_role_and_warns_about_an_unregistered_host() {
    let c = Coordinator::start();
    let r = c.ctl(&["assign-role", "host3", "ingester"]).ok();
    assert!(
        r.stdout
            .starts_with("assigned mimir:ingester to host3 (index "),
        "{r:#?}"
    );
    assert!(
        r.stderr
            .lines()
            .any(|l| l.starts_with("warning:") && l.contains("regist")),
        "expected a not-registered warning: {r:#?}"
    );
    // Replication 1 is a warning too, and warnings never go to stdout.
    assert!(r.stderr.contains("replication factor 1"), "{r:#?}");
    assert!(!r.stdout.contains("warning"), "{r:#?}");
}

#[test]
fn a_typo_is_rejected_with_a_suggestion() {
    let c = Coordinator::start();
    let r = c.ctl(&["assign-role", "host3", "quorier"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_eq!(
        r.stderr,
        "error: unknown role 'quorier' for mimir; did you mean 'querier'?\n"
    );
    assert_eq!(r.stdout, "");
}

#[test]
fn a_filesystem_backend_stays_on_one_host() {
    let c = Coordinator::start();
    c.ctl(&["assign-role", "host3", "mimir:ingester"]).ok();
    let r = c.ctl(&["assign-role", "host4", "mimir:querier"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_eq!(
        r.stderr,
        "error: mimir stores data on the local filesystem, which only works on a single host (host3); move it to object storage before adding host4: set mimir.storage.s3.*, then `lgtmctl config set mimir.storage.backend s3 --force` (what host3 stored on its filesystem stays there)\n"
    );
    let r = c.ctl(&["config", "set", "mimir.storage.backend", "s3"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("would leave that data behind") && r.stderr.contains("pass --force"),
        "{r:#?}"
    );
    c.ctl(&["config", "set", "mimir.storage.backend", "s3", "--force"])
        .ok();
    c.on_s3("mimir");
    let r = c.ctl(&["assign-role", "host4", "mimir:querier"]).ok();
    assert!(
        r.stdout.starts_with("assigned mimir:querier to host4"),
        "{r:#?}"
    );
    let r = c.ctl(&["config", "set", "mimir.storage.backend", "filesystem"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("mimir runs on 2 hosts (host3, host4)"),
        "{r:#?}"
    );
}

#[test]
fn backend_flag_qualified_roles_and_meta_roles() {
    let c = Coordinator::start();
    // Mimir goes on several hosts: object storage first.
    c.on_s3("mimir");
    let r = c
        .ctl(&["assign-role", "host3", "ingester", "--backend", "loki"])
        .ok();
    assert!(
        r.stdout.starts_with("assigned loki:ingester to host3"),
        "{r:#?}"
    );
    let r = c.ctl(&["assign-role", "host4", "mimir:ingester"]).ok();
    assert!(
        r.stdout.starts_with("assigned mimir:ingester to host4"),
        "{r:#?}"
    );
    let r = c.ctl(&["assign-role", "host5", "write"]).ok();
    assert!(
        r.stdout
            .starts_with("assigned mimir:write (distributor, ingester) to host5"),
        "{r:#?}"
    );
    let r = c.ctl(&["assign-role", "host6", "all", "-b", "tempo"]).ok();
    assert!(r.stdout.starts_with("assigned tempo:all ("), "{r:#?}");
    let r = c.ctl(&["assign-role", "host4", "mimir:ingester"]).ok();
    assert!(
        r.stdout
            .starts_with("host4 already has mimir:ingester; nothing changed"),
        "{r:#?}"
    );
    // JSON is the API's answer.
    let r = c
        .ctl(&["assign-role", "host7", "querier", "-o", "json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["role"], "mimir:querier");
    assert_eq!(v["host"], "host7");
}

#[test]
fn unassigning_the_last_ring_member_needs_force() {
    let c = Coordinator::start();
    c.ctl(&["assign-role", "host3", "querier"]).ok();
    c.ctl(&["assign-role", "host3", "ingester"]).ok();
    let r = c.ctl(&["unassign-role", "host3", "querier"]).ok();
    assert!(
        r.stdout
            .starts_with("unassigned mimir:querier from host3 (index "),
        "{r:#?}"
    );

    let r = c.ctl(&["unassign-role", "host3", "ingester"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.starts_with("error: "), "{r:#?}");
    assert!(
        r.stderr.contains("hint: ") && r.stderr.contains("--force"),
        "{r:#?}"
    );

    let r = c
        .ctl(&["unassign-role", "host3", "ingester", "--force"])
        .ok();
    assert!(
        r.stdout.starts_with("unassigned mimir:ingester from host3"),
        "{r:#?}"
    );

    // --backend qualifies the role; a clash with a qualified role is caught before sending.
    c.ctl(&["assign-role", "host3", "loki:querier"]).ok();
    let r = c.ctl(&[
        "unassign-role",
        "host3",
        "mimir:querier",
        "--backend",
        "loki",
    ]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(r.stderr.contains("drop one of them"), "{r:#?}");
    let r = c
        .ctl(&["unassign-role", "host3", "querier", "--backend", "loki"])
        .ok();
    assert!(
        r.stdout.starts_with("unassigned loki:querier from host3"),
        "{r:#?}"
    );
}

#[test]
fn hosts_and_host_show() {
    let c = Coordinator::start();
    c.register("host1", "198.18.0.1");
    c.ctl(&["assign-role", "host1", "all"]).ok();
    c.ctl(&["assign-role", "host3", "loki:write"]).ok();

    let r = c.ctl(&["hosts"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0], "HOST   ADDRESS             ROLES (desired)",
        "{r:#?}"
    );
    assert_eq!(lines[1], "host1  198.18.0.1          mimir:all", "{r:#?}");
    assert_eq!(lines[2], "host3  - (not registered)  loki:write", "{r:#?}");
    let r = c.ctl(&["host", "list", "-o", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");

    let r = c.ctl(&["host", "show", "host1"]).ok();
    assert!(r.stdout.contains("address           198.18.0.1"), "{r:#?}");
    assert!(r.stdout.contains("roles (desired)   mimir:all"), "{r:#?}");
    assert!(
        r.stdout.contains("lgtm-mimir.service  not reported"),
        "{r:#?}"
    );
    let r = c.ctl(&["host", "show", "host1", "-o", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["name"], "host1");

    let r = c.ctl(&["host", "show", "nohost"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.starts_with("error: ") && r.stderr.contains("nohost"),
        "{r:#?}"
    );
    let r = c.ctl(&["host", "show", "bad_host"]);
    assert_eq!(r.code, 2, "a bad host name is a usage error: {r:#?}");
    assert!(r.stderr.contains("RFC 1123"), "{r:#?}");
}

#[test]
fn host_remove() {
    let c = Coordinator::start();
    c.register("host1", "198.18.0.1");
    c.register("host2", "198.18.0.2");
    c.ctl(&["assign-role", "host2", "ingester"]).ok();
    let r = c.ctl(&["host", "remove", "host1"]).ok();
    assert!(r.stdout.starts_with("removed host host1 (index "), "{r:#?}");
    let r = c.ctl(&["host", "remove", "host2"]);
    assert_ne!(r.code, 0, "a host with roles needs --force: {r:#?}");
    assert!(r.stderr.contains("--force"), "{r:#?}");
    c.ctl(&["host", "remove", "host2", "--force"]).ok();
    let r = c.ctl(&["hosts"]).ok();
    assert!(r.stdout.starts_with("no hosts yet"), "{r:#?}");
}

#[test]
fn status_table_and_json() {
    let c = Coordinator::start();
    c.register("host1", "198.18.0.1");
    c.ctl(&["assign-role", "host1", "all"]).ok();
    c.ctl(&["assign-role", "host3", "loki:read"]).ok();
    let index = c.desired_index("host1");
    c.report(
        "host1",
        index,
        vec![unit("lgtm-mimir.service", "active", None)],
    );

    let r = c.ctl(&["status"]).ok();
    let out = &r.stdout;
    assert!(out.starts_with("cluster index "), "{out}");
    assert!(
        out.contains("\ndesired:  ") && out.contains("\nreported: "),
        "{out}"
    );
    assert!(out.contains("by agents "), "{out}");
    let line = |prefix: &str| {
        out.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{out}"))
            .to_owned()
    };
    assert!(line("mimir ").contains("consistent"), "{out}");
    assert!(line("mimir ").contains("ingester RF 1 on 1 host"), "{out}");
    assert!(
        line("loki ").contains("MISSING compactor, distributor, ingester"),
        "{out}"
    );
    assert!(line("tempo ").contains("not deployed"), "{out}");
    assert!(line("host1 ").contains("alive"), "{out}");
    assert!(
        line("host1 ").contains(&format!("{index}/{index}")),
        "{out}"
    );
    assert!(line("host3 ").contains("never reported"), "{out}");
    assert!(line("host3 ").contains("behind"), "{out}");
    let unit_line = out
        .lines()
        .find(|l| l.starts_with("host1  lgtm-mimir.service "))
        .unwrap_or_else(|| panic!("no unit line of host1 in\n{out}"));
    let cells: Vec<&str> = unit_line.split_whitespace().collect();
    assert_eq!(
        cells,
        ["host1", "lgtm-mimir.service", "active/running", "yes", "0"],
        "{out}"
    );
    assert!(
        out.contains("warning: mimir:ingester runs with replication factor 1"),
        "{out}"
    );

    let r = c.ctl(&["status", "--output", "json"]).ok();
    let s: ClusterStatus = serde_json::from_str(&r.stdout).expect("status JSON is the wire type");
    assert_eq!(s.hosts.len(), 2);
    assert!(
        r.stdout.contains("\n  \"index\""),
        "pretty-printed: {}",
        r.stdout
    );
}

#[test]
fn config_set_and_get() {
    let c = Coordinator::start();
    let r = c.ctl(&["config", "set", "mimir.log_level", "debug"]).ok();
    assert!(
        r.stdout.starts_with("set mimir.log_level (index "),
        "{r:#?}"
    );
    let r = c.ctl(&["config", "get", "mimir.log_level"]).ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{r:#?}");
    assert!(lines[0].starts_with("KEY") && lines[0].contains("VALUE") && lines[0].contains("HELP"));
    assert!(lines[1].starts_with("mimir.log_level  debug  "), "{r:#?}");

    let r = c.ctl(&["config", "get"]).ok();
    assert!(r.stdout.contains("cluster.default_backend"), "{r:#?}");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("mimir.storage.s3.secret_access_key") && l.contains("<unset>")),
        "{r:#?}"
    );

    let r = c.ctl(&["config", "set", "mimir.log_level", "loud"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr
            .starts_with("error: invalid value for mimir.log_level"),
        "{r:#?}"
    );
    let r = c.ctl(&["config", "get", "mimir.log_lvl"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("did you mean 'mimir.log_level'?"),
        "{r:#?}"
    );

    // The default backend decides what an unqualified role means.
    c.ctl(&["config", "set", "cluster.default_backend", "loki"])
        .ok();
    let r = c.ctl(&["assign-role", "host3", "ingester"]).ok();
    assert!(
        r.stdout.starts_with("assigned loki:ingester to host3"),
        "{r:#?}"
    );
}

#[test]
fn a_secret_from_stdin_never_appears_in_any_output() {
    const SECRET: &str = "s3cr3t-Value-0123456789";
    let c = Coordinator::start();
    let key = "mimir.storage.s3.secret_access_key";
    let r = c.ctl_with_stdin(
        &["config", "set", key, "--from-stdin"],
        Some(&format!("{SECRET}\n")),
    );
    let r = r.ok();
    assert!(
        r.stdout.starts_with(&format!("set {key} (index ")),
        "{r:#?}"
    );
    let mut outputs = vec![r];
    outputs.push(c.ctl(&["config", "get"]).ok());
    outputs.push(c.ctl(&["config", "get", key]).ok());
    outputs.push(c.ctl(&["config", "get", "--output", "json"]).ok());
    outputs.push(c.ctl(&["config", "get", key, "-o", "json"]).ok());
    outputs.push(c.ctl(&["status", "-o", "json"]).ok());
    for r in &outputs {
        assert!(
            !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
            "secret leaked: {r:#?}"
        );
    }
    assert!(
        outputs[2]
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("<set>")),
        "{:#?}",
        outputs[2]
    );
    let v: serde_json::Value = serde_json::from_str(&outputs[4].stdout).expect("json");
    assert_eq!(v["is_set"], true, "{v}");

    // As a plain argument it is refused before it is sent.
    let r = c.ctl(&["config", "set", key, SECRET]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stderr.contains("--from-stdin") && !r.stderr.contains(SECRET),
        "{r:#?}"
    );
    // Nothing on stdin is an error, not an empty secret.
    let r = c.ctl_with_stdin(&["config", "set", key, "--from-stdin"], Some(""));
    assert_ne!(r.code, 0, "{r:#?}");
}

#[test]
fn wait_succeeds_once_the_agent_applied_and_units_are_active() {
    let c = Coordinator::start();
    c.register("host3", "198.18.0.3");
    // No backend answers here: /ready as reported decides.
    c.ctl(&["config", "set", "rollout.min_healthy_seconds", "0"])
        .ok();
    c.ctl(&["config", "set", "rollout.check_rings", "false"])
        .ok();
    let r = c
        .ctl(&["assign-role", "host3", "ingester", "-o", "json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let index = v["index"].as_u64().expect("index");

    // Behind: the wait cannot finish, so it times out (exit 4) whatever the timing.
    c.report("host3", 0, vec![]);
    let r = c.ctl(&["wait", "host3", "--timeout", "1s"]);
    assert_eq!(r.code, 4, "{r:#?}");
    assert!(
        r.stderr.contains("timed out after 1s waiting for host3"),
        "{r:#?}"
    );
    assert!(r.stderr.contains(&format!("waiting for {index}")), "{r:#?}");

    let mut cmd = lgtmctl(&["wait", "host3", "--timeout", "60s"]);
    cmd.env("LGTM_COORDINATOR", &c.url)
        .env("LGTM_TOKEN", &c.token)
        .env("LGTM_CA_FILE", &c.ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let waiting = cmd.spawn().expect("spawn lgtmctl wait");
    c.report(
        "host3",
        index,
        vec![unit("lgtm-mimir.service", "active", None)],
    );
    let r = common::finish(waiting);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        r.stdout,
        format!("host3 applied index {index}: lgtm-mimir.service active and ready\n")
    );
    assert_eq!(
        r.stderr, "",
        "no progress output when stderr is not a terminal"
    );

    // assign-role --wait waits the same way.
    let r = c.ctl(&[
        "assign-role",
        "host3",
        "querier",
        "--wait",
        "--timeout",
        "2s",
        "-o",
        "json",
    ]);
    // Nobody reports the new index: it times out, after printing the assignment.
    assert_eq!(r.code, 4, "{r:#?}");
    // The querier joins the running Mimir process, so the rollout permits its restart; the
    // host then reports it running the new config until the rollout is through.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let next = loop {
        let next = c.desired_index("host3");
        c.report(
            "host3",
            next,
            vec![unit("lgtm-mimir.service", "active", None)],
        );
        let r = c.ctl(&["rollout", "status", "-o", "json"]).ok();
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        if v["waiting"] == serde_json::json!([]) && v["restarting"] == serde_json::json!([]) {
            break next;
        }
        assert!(std::time::Instant::now() < deadline, "rollout stuck: {v}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let r = c.ctl(&["assign-role", "host3", "querier", "--wait"]).ok();
    assert!(
        r.stdout.contains(&format!("host3 applied index {next}")),
        "{r:#?}"
    );
    // With JSON output, stdout stays one JSON document; the wait result goes to stderr.
    let r = c
        .ctl(&["assign-role", "host3", "querier", "--wait", "-o", "json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("stdout is JSON alone");
    assert_eq!(v["outcome"], "already_assigned", "{v}");
    assert!(
        r.stderr.contains(&format!("host3 applied index {next}")),
        "{r:#?}"
    );
}

#[test]
fn wait_fails_with_the_units_own_error() {
    let c = Coordinator::start();
    c.register("host3", "198.18.0.3");
    c.ctl(&["assign-role", "host3", "tempo:ingester"]).ok();
    let index = c.desired_index("host3");
    let error = "exit status 1\nfailed parsing config: field bogus not found in type app.Config";
    c.report(
        "host3",
        index,
        vec![unit("lgtm-tempo-ingester.service", "failed", Some(error))],
    );
    let r = c.ctl(&["wait", "host3"]);
    assert_eq!(r.code, 1, "{r:#?}");
    assert_eq!(
        r.stderr,
        format!("error: host3: lgtm-tempo-ingester.service failed: {error}\n")
    );
    assert_eq!(r.stdout, "");

    // unassign --wait: done once the unit is gone from the report.
    let r = c
        .ctl(&[
            "unassign-role",
            "host3",
            "tempo:ingester",
            "--force",
            "-o",
            "json",
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    let index = v["index"].as_u64().expect("index");
    c.report("host3", index, vec![]);
    let r = c
        .ctl(&["wait", "host3", "--index", &index.to_string()])
        .ok();
    assert_eq!(r.stdout, format!("host3 applied index {index}: no units\n"));
}

#[test]
fn an_unreachable_coordinator_is_named_with_the_fix() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let r = run(lgtmctl(&["status", "--coordinator", &url]), None);
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(
        r.stderr
            .contains(&format!("cannot reach the coordinator at {url}")),
        "{r:#?}"
    );
    assert!(
        r.stderr.contains("--coordinator URL") && r.stderr.contains("LGTM_COORDINATOR"),
        "{r:#?}"
    );
    let mut cmd = lgtmctl(&["hosts"]);
    cmd.env("LGTM_COORDINATOR", &url);
    let r = run(cmd, None);
    assert_eq!(r.code, 3, "{r:#?}");
}

#[test]
fn completions_are_generated() {
    let r = run(lgtmctl(&["completions", "bash"]), None).ok();
    assert!(
        r.stdout.contains("assign-role") && r.stdout.contains("complete"),
        "{r:#?}"
    );
}
