//! The OpenAPI 3.1 document of the whole API, served at `GET /v1/openapi.json`.
//!
//! Operations are one table ([`OPERATIONS`]) naming the wire types of their bodies and
//! answers; every schema is derived from those types ([`schemas`]: the serde attributes the
//! handlers use decide what is required, optional or refused). A test checks that the router
//! serves exactly these (method, path) pairs.

use std::collections::BTreeSet;

use lgtm_model::wire::*;
use lgtm_model::{Backend, HostName};
use serde_json::{Map, Value, json};

pub mod schemas;

use schemas::{Schemas, Type, of};

/// One operation of the API.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// HTTP method, lowercase as OpenAPI spells it.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// Request body type.
    pub body: Option<Type>,
    /// Success status and what it carries.
    pub ok: (u16, Answer),
    /// Error statuses it may answer (every error is an `ErrorBody`).
    pub errors: &'static [u16],
}

/// What a success carries.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// Nothing.
    Empty,
    /// Plain text.
    Text,
    /// Any JSON object (this document).
    Object,
    /// JSON of a wire type.
    Json(Type),
}

const CHECK_INDEX: (&str, &str) = (
    "check_index",
    "apply only while the intent index is still this (a dry run's intent_index); 409 index_moved otherwise",
);

const FORCE: (&str, &str) = (
    "force",
    "true to go ahead despite the refusal (roles, data)",
);

/// Every operation of the API.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: paths::HEALTHZ,
        summary: "Liveness of the coordinator",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<Health>)),
        errors: &[],
    },
    Operation {
        method: "get",
        path: paths::METRICS,
        summary: "Prometheus metrics (text)",
        query: &[],
        body: None,
        ok: (200, Answer::Text),
        errors: &[],
    },
    Operation {
        method: "get",
        path: paths::OPENAPI,
        summary: "This document",
        query: &[],
        body: None,
        ok: (200, Answer::Object),
        errors: &[],
    },
    Operation {
        method: "get",
        path: paths::STATUS,
        summary: "Cluster status: consistency per backend, state per host",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<ClusterStatus>)),
        errors: &[400],
    },
    Operation {
        method: "get",
        path: paths::HOSTS,
        summary: "Every host",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<Vec<HostRecord>>)),
        errors: &[400],
    },
    Operation {
        method: "post",
        path: paths::HOSTS,
        summary: "Register a host (agents; idempotent)",
        query: &[],
        body: Some(of::<RegisterRequest>),
        ok: (200, Answer::Json(of::<HostRecord>)),
        errors: &[400, 413, 415],
    },
    Operation {
        method: "get",
        path: paths::HOST,
        summary: "One host",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<HostRecord>)),
        errors: &[400, 404],
    },
    Operation {
        method: "delete",
        path: paths::HOST,
        summary: "Remove a host (refused while it has roles or drains, unless force=true)",
        query: &[FORCE, CHECK_INDEX],
        body: None,
        ok: (200, Answer::Json(of::<HostRemoved>)),
        errors: &[400, 404, 409],
    },
    Operation {
        method: "post",
        path: paths::HOST_ROLES,
        summary: "Assign a role; an unregistered host is created",
        query: &[CHECK_INDEX],
        body: Some(of::<AssignRequest>),
        ok: (200, Answer::Json(of::<AssignResponse>)),
        errors: &[400, 409, 413, 415],
    },
    Operation {
        method: "delete",
        path: paths::HOST_ROLE,
        summary: "Unassign a role; a ring member it removes drains first (force=true: stops at once)",
        query: &[FORCE, CHECK_INDEX],
        body: None,
        ok: (200, Answer::Json(of::<UnassignResponse>)),
        errors: &[400, 404, 409],
    },
    Operation {
        method: "post",
        path: paths::HOST_DRAIN,
        summary: "Drain a host: unassign its roles, ring members flushing and leaving their rings first (admin)",
        query: &[CHECK_INDEX],
        body: Some(of::<DrainRequest>),
        ok: (200, Answer::Json(of::<DrainResponse>)),
        errors: &[400, 404, 409, 413, 415],
    },
    Operation {
        method: "put",
        path: paths::BACKEND_ROLES,
        summary: "Place a backend's roles anew, staged: new processes first, old ring members drain once those are healthy (admin)",
        query: &[CHECK_INDEX],
        body: Some(of::<SwitchRequest>),
        ok: (200, Answer::Json(of::<Switched>)),
        errors: &[400, 404, 409, 413, 415],
    },
    Operation {
        method: "get",
        path: paths::HOST_DESIRED,
        summary: "The host's desired state, long-polled past index",
        query: &[
            ("index", "the index the agent applied last (default 0)"),
            (
                "wait",
                "how long to wait for a newer state: 500ms, 30s, 5m (capped at 10m; default: answer at once)",
            ),
        ],
        body: None,
        ok: (200, Answer::Json(of::<DesiredState>)),
        errors: &[400, 404, 409],
    },
    Operation {
        method: "post",
        path: paths::HOST_REPORT,
        summary: "An agent's report (kept in memory)",
        query: &[],
        body: Some(of::<Report>),
        ok: (204, Answer::Empty),
        errors: &[400, 404, 413, 415],
    },
    Operation {
        method: "get",
        path: paths::HOST_RENDERED,
        summary: "What the host gets: every process's config, secret values redacted",
        query: &[(
            "backend",
            "only this backend's processes: mimir, loki or tempo",
        )],
        body: None,
        ok: (200, Answer::Json(of::<RenderedHost>)),
        errors: &[400, 404, 409],
    },
    Operation {
        method: "get",
        path: paths::SETTINGS,
        summary: "Every setting; secrets only say whether they are set",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<Vec<SettingEntry>>)),
        errors: &[400],
    },
    Operation {
        method: "put",
        path: paths::SETTING,
        summary: "Set one setting or secret; empty clears (moving a deployed backend's storage needs force=true)",
        query: &[FORCE, CHECK_INDEX],
        body: Some(of::<SetSetting>),
        ok: (200, Answer::Json(of::<SettingChanged>)),
        errors: &[400, 413, 415],
    },
    Operation {
        method: "post",
        path: paths::JOIN_TOKENS,
        summary: "Create a join token (admin); the token is shown only in this answer",
        query: &[],
        body: Some(of::<JoinTokenRequest>),
        ok: (201, Answer::Json(of::<JoinTokenCreated>)),
        errors: &[400, 413, 415],
    },
    Operation {
        method: "delete",
        path: paths::JOIN_TOKEN,
        summary: "Revoke a join token (admin)",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<JoinTokenRevoked>)),
        errors: &[400],
    },
    Operation {
        method: "get",
        path: paths::ROLLOUT,
        summary: "Where the rollout of restarts stands",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<RolloutStatus>)),
        errors: &[400],
    },
    Operation {
        method: "post",
        path: paths::ROLLOUT_PAUSE,
        summary: "Pause the rollout: no further restart is permitted (admin)",
        query: &[],
        body: Some(of::<RolloutPause>),
        ok: (200, Answer::Json(of::<RolloutStatus>)),
        errors: &[400, 413, 415],
    },
    Operation {
        method: "post",
        path: paths::ROLLOUT_RESUME,
        summary: "Resume the rollout (admin)",
        query: &[],
        body: None,
        ok: (200, Answer::Json(of::<RolloutStatus>)),
        errors: &[400],
    },
    Operation {
        method: "post",
        path: paths::ROLLOUT_ABORT,
        summary: "Abort the rollout: roles and settings go back to what they were when it was last idle; what already restarted restarts back (admin)",
        query: &[CHECK_INDEX],
        body: None,
        ok: (200, Answer::Json(of::<RolloutAborted>)),
        errors: &[400, 409],
    },
    Operation {
        method: "post",
        path: paths::PLAN,
        summary: "What a change would do, without applying it: per host diffs, restart waves, replication, consistency (admin)",
        query: &[],
        body: Some(of::<Change>),
        ok: (200, Answer::Json(of::<ChangePlan>)),
        errors: &[400, 404, 409, 413, 415],
    },
];

/// Paths anyone may call, without a credential.
const OPEN: &[&str] = &[paths::HEALTHZ, paths::OPENAPI];

fn path_params(path: &str, g: &mut Schemas) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match name {
                "host" => g.request(of::<HostName>),
                "backend" => g.request(of::<Backend>),
                _ => json!({ "type": "string" }),
            };
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect()
}

fn operation(op: &Operation, g: &mut Schemas) -> Value {
    let mut params = path_params(op.path, g);
    params.extend(op.query.iter().map(|(name, description)| {
        json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } })
    }));
    let mut responses = Map::new();
    let content = |kind: &str, schema: Value| json!({ "description": "ok", "content": { kind: { "schema": schema } } });
    let ok = match op.ok.1 {
        Answer::Empty => json!({ "description": "done" }),
        Answer::Text => content("text/plain", json!({ "type": "string" })),
        Answer::Object => content("application/json", json!({ "type": "object" })),
        Answer::Json(t) => content("application/json", g.answer(t)),
    };
    responses.insert(op.ok.0.to_string(), ok);
    // A body can time out (408); a change can meet a full state disk (507).
    let body_codes: &[u16] = if op.body.is_some() { &[408] } else { &[] };
    let change_codes: &[u16] = if op.method == "get" { &[] } else { &[507] };
    let always = [404, 405, 500];
    // Every path but the open ones needs a credential (401) allowed to do this (403).
    let auth_codes: &[u16] = if OPEN.contains(&op.path) {
        &[]
    } else {
        &[401, 403]
    };
    let all = op
        .errors
        .iter()
        .chain(body_codes)
        .chain(change_codes)
        .chain(auth_codes);
    for code in all.chain(&always) {
        responses.insert(
            code.to_string(),
            json!({ "$ref": "#/components/responses/Error" }),
        );
    }
    let mut out = json!({
        "summary": op.summary,
        "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}', '.'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if OPEN.contains(&op.path) {
        out["security"] = json!([]);
    }
    if let Some(body) = op.body {
        out["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": g.request(body) } } });
    }
    out
}

/// The whole document.
pub fn document() -> Value {
    // A first pass finds the types read and written with different schemas.
    let mut first = Schemas::new(BTreeSet::new());
    for op in OPERATIONS {
        operation(op, &mut first);
    }
    let mut g = Schemas::new(first.clashes());
    let mut paths = Map::new();
    for op in OPERATIONS {
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        entry[op.method] = operation(op, &mut g);
    }
    let error = g.answer(of::<ErrorBody>);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "lgtm coordinator API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Cluster intent, desired state for agents, status. Request bodies reject unknown fields; every error is an ErrorBody. Versions: lgtm's clients send their version in the lgtm-version header and every answer carries the coordinator's; a client of another major version, or more than one minor version apart, is refused with 400 version_skew naming both. Within that rule an answer may carry fields an older client does not know: clients ignore them.",
        },
        "paths": paths,
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "lgtm_admin_ (everything), lgtm_read_ (GET, except desired state), lgtm_host_ (its own host's desired state, report and registration) or lgtm_join_ (registration) token",
                },
            },
            "responses": {
                "Error": {
                    "description": "refused or failed; the body names the field and the fix",
                    "content": { "application/json": { "schema": error } },
                },
            },
            "schemas": g.into_definitions(),
        },
    })
}

#[cfg(test)]
mod tests;
