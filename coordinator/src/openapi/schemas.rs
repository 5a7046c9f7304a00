//! JSON Schemas of every `model::wire` type, by type name.
//!
//! Written by hand and kept true by tests that serialize a sample of every type and validate
//! it against these schemas in both directions (no field missing, none extra).

use serde_json::{Map, Value, json};

/// A `$ref` to a schema of this document.
pub fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn arr(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn or_null(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn int(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "description": description })
}

fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

/// A closed object: `props` are (name, schema, required).
fn obj(description: &str, props: &[(&str, Value, bool)]) -> Value {
    let properties: Map<String, Value> = props
        .iter()
        .map(|(n, s, _)| ((*n).to_owned(), s.clone()))
        .collect();
    let required: Vec<&str> = props.iter().filter(|p| p.2).map(|p| p.0).collect();
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "properties": properties,
        "required": required,
    })
}

/// Every schema, by name.
pub fn all() -> Map<String, Value> {
    let warnings = || arr(string("one sentence"));
    let index = || int("cluster index");
    let schemas = [
        (
            "HostName",
            json!({ "type": "string", "maxLength": 253,
            "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
            "description": "RFC 1123 host name, lowercase" }),
        ),
        (
            "Backend",
            json!({ "type": "string", "enum": ["mimir", "loki", "tempo"] }),
        ),
        (
            "Role",
            json!({ "type": "string", "pattern": "^(mimir|loki|tempo):[a-z-]+$",
            "description": "a role of the catalog, qualified: mimir:ingester" }),
        ),
        (
            "Liveness",
            json!({ "type": "string", "enum": ["alive", "stale", "unknown"] }),
        ),
        (
            "ErrorBody",
            obj(
                "error answer of every non-2xx response",
                &[("error", r("ApiError"), true)],
            ),
        ),
        (
            "ApiError",
            obj(
                "what went wrong",
                &[
                    ("code", string("stable machine-readable code"), true),
                    ("message", string("the thing, why, and the fix"), true),
                    (
                        "field",
                        string("request field or path parameter at fault"),
                        false,
                    ),
                ],
            ),
        ),
        (
            "RegisterRequest",
            obj(
                "an agent registering its host",
                &[
                    ("host", r("HostName"), true),
                    (
                        "address",
                        json!({ "type": "string", "description": "IPv4 or IPv6 address peers reach" }),
                        true,
                    ),
                    (
                        "data_root",
                        string("absolute directory of backend data"),
                        true,
                    ),
                    ("agent_version", string("agent version"), true),
                ],
            ),
        ),
        (
            "HostRecord",
            obj(
                "a host as the coordinator knows it",
                &[
                    ("name", r("HostName"), true),
                    ("address", or_null(string("set once registered")), true),
                    ("data_root", or_null(string("set once registered")), true),
                    ("roles", arr(r("Role")), true),
                    (
                        "credential",
                        string("the host's new credential, only when it joined with a join token"),
                        false,
                    ),
                ],
            ),
        ),
        (
            "JoinTokenRequest",
            obj(
                "create a join token",
                &[(
                    "ttl_seconds",
                    int("seconds until it expires (default 3600, at most 604800)"),
                    false,
                )],
            ),
        ),
        (
            "JoinTokenCreated",
            obj(
                "a new join token, shown once",
                &[
                    ("id", string("its id, to revoke it"), true),
                    ("token", string("the token, lgtm_join_..."), true),
                    ("expires_at", int("expiry, Unix seconds"), true),
                ],
            ),
        ),
        (
            "JoinTokenRevoked",
            obj("a join token revoked", &[("id", string("its id"), true)]),
        ),
        (
            "AssignRequest",
            obj(
                "assign a role",
                &[
                    ("role", string("ingester, mimir:ingester, write, ..."), true),
                    ("backend", r("Backend"), false),
                ],
            ),
        ),
        (
            "AssignResponse",
            obj(
                "result of an assignment",
                &[
                    ("host", r("HostName"), true),
                    ("role", r("Role"), true),
                    (
                        "outcome",
                        json!({ "type": "string", "enum": ["added", "already_assigned"] }),
                        true,
                    ),
                    (
                        "host_registered",
                        boolean("whether the host's agent registered"),
                        true,
                    ),
                    ("warnings", warnings(), true),
                    ("index", index(), true),
                    ("also_assigned", arr(r("Role")), false),
                ],
            ),
        ),
        (
            "UnassignResponse",
            obj(
                "result of an unassignment",
                &[
                    ("host", r("HostName"), true),
                    ("role", r("Role"), true),
                    ("index", index(), true),
                    ("warnings", warnings(), true),
                    (
                        "draining",
                        arr(string(
                            "a unit that flushes and leaves its ring before it stops",
                        )),
                        false,
                    ),
                ],
            ),
        ),
        (
            "DrainRequest",
            obj(
                "drain a host",
                &[
                    ("backend", r("Backend"), false),
                    (
                        "force",
                        boolean("stop at once, without flushing, even below a ring's write quorum"),
                        false,
                    ),
                ],
            ),
        ),
        (
            "SwitchRequest",
            obj(
                "a backend's roles by host, placed anew",
                &[(
                    "hosts",
                    json!({ "type": "object", "description": "roles by host name, bare or qualified",
                        "additionalProperties": arr(string("a role of the backend")) }),
                    true,
                )],
            ),
        ),
        (
            "Switched",
            obj(
                "result of a switch",
                &[
                    ("backend", r("Backend"), true),
                    (
                        "hosts",
                        json!({ "type": "object", "description": "the backend's roles by host name",
                            "additionalProperties": arr(r("Role")) }),
                        true,
                    ),
                    ("index", index(), true),
                    ("warnings", warnings(), true),
                    (
                        "draining",
                        arr(string(
                            "a process (unit on host) that flushes and leaves its ring before it stops",
                        )),
                        true,
                    ),
                ],
            ),
        ),
        (
            "DrainResponse",
            obj(
                "result of a drain",
                &[
                    ("host", r("HostName"), true),
                    ("roles", arr(r("Role")), true),
                    ("index", index(), true),
                    ("warnings", warnings(), true),
                    (
                        "draining",
                        arr(string(
                            "a unit that flushes and leaves its ring before it stops",
                        )),
                        true,
                    ),
                ],
            ),
        ),
        (
            "HostRemoved",
            obj(
                "result of removing a host",
                &[
                    ("host", r("HostName"), true),
                    ("index", index(), true),
                    ("warnings", warnings(), true),
                ],
            ),
        ),
        (
            "SetSetting",
            obj(
                "set one setting; empty clears",
                &[("value", string("text value"), true)],
            ),
        ),
        (
            "SettingEntry",
            obj(
                "one setting",
                &[
                    ("key", string("dotted key"), true),
                    ("value", or_null(string("value; null for secrets")), true),
                    ("secret", boolean("whether the key is a secret"), true),
                    ("is_set", boolean("whether a value is stored"), true),
                    ("help", string("one line of help"), true),
                ],
            ),
        ),
        (
            "SettingChanged",
            obj(
                "answer to a settings change",
                &[
                    ("key", string("dotted key"), true),
                    ("index", index(), true),
                ],
            ),
        ),
        (
            "Ports",
            obj(
                "ports of one process",
                &[
                    ("http", int("HTTP port"), true),
                    ("grpc", int("gRPC port"), true),
                    ("memberlist", int("memberlist port"), true),
                ],
            ),
        ),
        (
            "ProcessId",
            obj(
                "one backend process",
                &[
                    ("backend", r("Backend"), true),
                    ("role", or_null(r("Role")), true),
                ],
            ),
        ),
        (
            "DesiredProcess",
            obj(
                "one backend process on a host",
                &[
                    ("id", r("ProcessId"), true),
                    ("roles", arr(r("Role")), true),
                    ("ports", r("Ports"), true),
                    (
                        "config",
                        string("the complete YAML config (may hold secrets)"),
                        true,
                    ),
                    ("data_dir", string("absolute data directory"), true),
                ],
            ),
        ),
        (
            "RenderedProcess",
            obj(
                "one backend process as an operator sees it",
                &[
                    ("id", r("ProcessId"), true),
                    ("unit", string("its systemd unit"), true),
                    ("roles", arr(r("Role")), true),
                    ("data_dir", string("absolute data directory"), true),
                    (
                        "config",
                        string("the YAML config, every secret value replaced by <redacted>"),
                        true,
                    ),
                ],
            ),
        ),
        (
            "RenderedHost",
            obj(
                "what one host gets, secrets redacted",
                &[
                    ("host", r("HostName"), true),
                    (
                        "index",
                        int("index at which this host's desired state last changed"),
                        true,
                    ),
                    ("processes", arr(r("RenderedProcess")), true),
                ],
            ),
        ),
        (
            "DesiredState",
            obj(
                "what one host should run",
                &[
                    ("host", r("HostName"), true),
                    (
                        "index",
                        int("index at which this host's desired state last changed"),
                        true,
                    ),
                    ("processes", arr(r("DesiredProcess")), true),
                    ("gateway", r("DesiredGateway"), false),
                ],
            ),
        ),
        (
            "DesiredGateway",
            obj(
                "the gateway (nginx) of a host",
                &[
                    ("backends", arr(r("Backend")), true),
                    ("config", string("the complete nginx.conf"), true),
                ],
            ),
        ),
        (
            "UnitStatus",
            obj(
                "a systemd unit as the agent sees it",
                &[
                    ("unit", string("unit name"), true),
                    ("active_state", string("systemd ActiveState"), true),
                    ("sub_state", string("systemd SubState"), true),
                    ("n_restarts", int("NRestarts"), true),
                    ("main_pid", int("main PID, 0 when not running"), true),
                    (
                        "exec_main_status",
                        json!({ "type": "integer", "description": "exit status of the last main process" }),
                        true,
                    ),
                    (
                        "ready",
                        or_null(boolean("whether /ready answered ready")),
                        false,
                    ),
                    ("error", or_null(string("last failure")), false),
                ],
            ),
        ),
        (
            "ActionResult",
            obj(
                "one action the agent attempted",
                &[
                    ("action", string("what was attempted"), true),
                    ("ok", boolean("whether it succeeded"), true),
                    ("error", or_null(string("why it failed")), false),
                ],
            ),
        ),
        (
            "DiskFact",
            obj(
                "space on the filesystem of a data directory",
                &[
                    ("path", string("data directory"), true),
                    ("total_bytes", int("filesystem size"), true),
                    ("available_bytes", int("available bytes"), true),
                ],
            ),
        ),
        (
            "HostFacts",
            obj(
                "host facts",
                &[
                    ("cpus", int("logical CPUs"), true),
                    (
                        "load1",
                        json!({ "type": "number", "description": "one-minute load average" }),
                        true,
                    ),
                    ("memory_total_bytes", int("total memory"), true),
                    ("memory_available_bytes", int("available memory"), true),
                    ("disks", arr(r("DiskFact")), true),
                ],
            ),
        ),
        (
            "Report",
            obj(
                "an agent's report on its host",
                &[
                    (
                        "applied_index",
                        int("desired-state index applied last; 0: none"),
                        true,
                    ),
                    ("agent_version", string("agent version"), true),
                    ("units", arr(r("UnitStatus")), true),
                    ("actions", arr(r("ActionResult")), true),
                    ("facts", r("HostFacts"), true),
                ],
            ),
        ),
        (
            "Replication",
            obj(
                "replication of one replicated target",
                &[
                    ("role", r("Role"), true),
                    ("hosts", int("hosts that run it"), true),
                    ("factor", int("replication factor rendered"), true),
                ],
            ),
        ),
        (
            "BackendConsistency",
            obj(
                "the verdict on one backend",
                &[
                    ("backend", r("Backend"), true),
                    ("deployed", boolean("any host has a role of it"), true),
                    (
                        "consistent",
                        boolean("every required target runs somewhere"),
                        true,
                    ),
                    ("missing", arr(r("Role")), true),
                    ("replication", arr(r("Replication")), true),
                    ("warnings", warnings(), true),
                ],
            ),
        ),
        (
            "HostStatus",
            obj(
                "one host in the status",
                &[
                    ("name", r("HostName"), true),
                    ("address", or_null(string("address, once registered")), true),
                    ("roles", arr(r("Role")), true),
                    ("liveness", r("Liveness"), true),
                    (
                        "last_report_seconds_ago",
                        or_null(int("seconds since the last report")),
                        true,
                    ),
                    (
                        "desired_index",
                        int("index of the host's desired state"),
                        true,
                    ),
                    (
                        "applied_index",
                        or_null(int("index the agent applied last")),
                        true,
                    ),
                    (
                        "behind",
                        boolean("the agent has not applied its desired state yet"),
                        true,
                    ),
                    ("units", arr(r("UnitStatus")), true),
                    ("failed_actions", arr(r("ActionResult")), true),
                    ("facts", or_null(r("HostFacts")), true),
                ],
            ),
        ),
        (
            "RolloutPause",
            obj(
                "pause the rollout",
                &[(
                    "reason",
                    json!({ "type": "string", "maxLength": 200, "description": "why, shown in the status" }),
                    false,
                )],
            ),
        ),
        (
            "RolloutProcess",
            obj(
                "a process in the rollout",
                &[
                    ("host", r("HostName"), true),
                    ("unit", string("its systemd unit"), true),
                    (
                        "stateful",
                        boolean("a ring member: restarts one at a time per backend"),
                        true,
                    ),
                    ("note", string("what it waits for, when known"), false),
                    (
                        "retire",
                        boolean("removed rather than restarted: flushes and leaves its ring first"),
                        false,
                    ),
                ],
            ),
        ),
        (
            "RolloutStatus",
            obj(
                "where the rollout of restarts stands",
                &[
                    ("paused", or_null(string("why it is paused")), true),
                    ("restarting", arr(r("RolloutProcess")), true),
                    ("waiting", arr(r("RolloutProcess")), true),
                ],
            ),
        ),
        (
            "ClusterStatus",
            obj(
                "cluster status",
                &[
                    ("index", index(), true),
                    (
                        "intent_index",
                        int("index of the last change to hosts, roles or settings"),
                        true,
                    ),
                    ("rollout", r("RolloutStatus"), true),
                    ("backends", arr(r("BackendConsistency")), true),
                    ("hosts", arr(r("HostStatus")), true),
                ],
            ),
        ),
        (
            "Health",
            obj(
                "liveness of the coordinator",
                &[
                    ("status", json!({ "type": "string", "enum": ["ok"] }), true),
                    ("index", index(), true),
                ],
            ),
        ),
    ];
    schemas
        .into_iter()
        .chain(plan())
        .map(|(n, s)| (n.to_owned(), s))
        .collect()
}

/// The schemas of a dry run: the change asked for and its plan.
fn plan() -> Vec<(&'static str, Value)> {
    let tag = |name: &str| json!({ "type": "string", "enum": [name] });
    let force = || boolean("stop at once, without a drain");
    let change = |name: &str, props: &[(&str, Value, bool)]| {
        let mut all = vec![("change", tag(name), true)];
        all.extend(props.iter().cloned());
        obj(&format!("plan a {name}"), &all)
    };
    let action = |values: &[&str]| json!({ "type": "string", "enum": values });
    vec![
        (
            "Change",
            json!({ "anyOf": [
                change("assign", &[
                    ("host", r("HostName"), true),
                    ("role", string("the role as given"), true),
                    ("backend", or_null(r("Backend")), false),
                ]),
                change("unassign", &[
                    ("host", r("HostName"), true),
                    ("role", string("the role as assigned"), true),
                    ("force", force(), false),
                ]),
                change("drain", &[
                    ("host", r("HostName"), true),
                    ("backend", or_null(r("Backend")), false),
                    ("force", force(), false),
                ]),
                change("remove_host", &[
                    ("host", r("HostName"), true),
                    ("force", force(), false),
                ]),
                change("set", &[
                    ("key", string("dotted key"), true),
                    ("value", string("text value; empty clears"), true),
                    ("force", boolean("move a deployed backend's storage anyway"), false),
                ]),
                change("switch", &[
                    ("backend", r("Backend"), true),
                    ("hosts", json!({ "type": "object", "additionalProperties": arr(string("a role of the backend")) }), true),
                ]),
                change("abort_rollout", &[]),
            ]}),
        ),
        (
            "RolloutAborted",
            obj(
                "result of aborting the rollout",
                &[
                    ("index", int("cluster index"), true),
                    (
                        "reverted",
                        arr(string("an operation that took a role or setting back")),
                        true,
                    ),
                    ("warnings", arr(string("one sentence")), true),
                ],
            ),
        ),
        (
            "ProcessAction",
            action(&[
                "start",
                "start_after_drain",
                "restart",
                "rewrite",
                "drain",
                "stop",
            ]),
        ),
        ("GatewayAction", action(&["start", "reload", "stop"])),
        (
            "ProcessPlan",
            obj(
                "what happens to one process",
                &[
                    ("unit", string("systemd unit"), true),
                    ("action", r("ProcessAction"), true),
                    (
                        "diff",
                        string("unified diff of its config, secrets redacted"),
                        true,
                    ),
                ],
            ),
        ),
        (
            "GatewayPlan",
            obj(
                "what happens to a host's gateway",
                &[
                    ("action", r("GatewayAction"), true),
                    ("diff", string("unified diff of its nginx.conf"), true),
                ],
            ),
        ),
        (
            "HostPlan",
            obj(
                "one host's part of a plan",
                &[
                    ("host", r("HostName"), true),
                    ("processes", arr(r("ProcessPlan")), true),
                    ("gateway", or_null(r("GatewayPlan")), true),
                ],
            ),
        ),
        (
            "PlannedStep",
            obj(
                "a restart or drain the rollout paces",
                &[
                    ("host", r("HostName"), true),
                    ("unit", string("systemd unit"), true),
                    ("action", r("ProcessAction"), true),
                    (
                        "earlier",
                        boolean("already waiting for an earlier change"),
                        true,
                    ),
                ],
            ),
        ),
        (
            "ReplicationChange",
            obj(
                "a replicated ring whose factor moves",
                &[
                    ("role", r("Role"), true),
                    ("before", int("factor now (0: not deployed)"), true),
                    ("after", int("factor after (0: no longer deployed)"), true),
                ],
            ),
        ),
        (
            "ChangePlan",
            obj(
                "what a change would do; nothing was changed",
                &[
                    (
                        "intent_index",
                        int("the intent index planned at: pass it as check_index"),
                        true,
                    ),
                    ("warnings", arr(string("one sentence")), true),
                    (
                        "reverts",
                        arr(string("what a rollout abort takes back")),
                        true,
                    ),
                    ("hosts", arr(r("HostPlan")), true),
                    ("waves", arr(arr(r("PlannedStep"))), true),
                    (
                        "held_up",
                        or_null(string("why the rollout would not start now")),
                        true,
                    ),
                    ("replication", arr(r("ReplicationChange")), true),
                    ("consistency", arr(r("BackendConsistency")), true),
                ],
            ),
        ),
    ]
}
