//! The document's own consistency. (Routes against the router: `tests/api_openapi.rs`; answers
//! of a real coordinator against the document: `tests/schemathesis/run`.)

use std::collections::BTreeSet;

use super::*;

/// The named schema a `$ref` points at.
fn named<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[test]
fn every_reference_resolves_and_paths_are_the_wire_paths() {
    let doc = document();
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for piece in text.split("#/components/schemas/").skip(1) {
        let name: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let wire: BTreeSet<&str> = [
        paths::HEALTHZ,
        paths::METRICS,
        paths::OPENAPI,
        paths::HOSTS,
        paths::HOST,
        paths::HOST_ROLES,
        paths::HOST_ROLE,
        paths::HOST_DRAIN,
        paths::HOST_DESIRED,
        paths::HOST_REPORT,
        paths::HOST_RENDERED,
        paths::SETTINGS,
        paths::SETTING,
        paths::STATUS,
        paths::JOIN_TOKENS,
        paths::JOIN_TOKEN,
        paths::ROLLOUT,
        paths::ROLLOUT_PAUSE,
        paths::ROLLOUT_RESUME,
        paths::PLAN,
        paths::ROLLOUT_ABORT,
        paths::BACKEND_ROLES,
    ]
    .into();
    assert_eq!(documented, wire);
}

#[test]
fn a_type_read_and_written_with_two_schemas_has_two_names() {
    let mut first = Schemas::new(BTreeSet::new());
    for op in OPERATIONS {
        operation(op, &mut first);
    }
    let clashes = first.clashes();
    // Agents report their units; the status shows them.
    assert!(clashes.contains("UnitStatus"), "{clashes:?}");
    let mut g = Schemas::new(clashes.clone());
    for op in OPERATIONS {
        operation(op, &mut g);
    }
    assert!(g.clashes().is_empty());
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for name in &clashes {
        let read = &schemas[format!("{name}Request")];
        assert!(read.is_object(), "{name}");
        assert_ne!(&schemas[name.as_str()], read, "{name}");
    }
    let report = &schemas["Report"]["properties"]["units"]["items"]["$ref"];
    assert_eq!(report, "#/components/schemas/UnitStatusRequest");
}

/// The skew rule in the document: a request body with a field the coordinator does not know
/// is refused, an answer may carry fields the client does not know.
#[test]
fn request_bodies_are_closed_and_answers_open() {
    let doc = document();
    let (mut closed, mut open) = (0, 0);
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let at = format!("{method} {path}");
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            if !body.is_null() {
                let schema = named(&doc, body);
                // Internally tagged enums (`Change`) close each variant.
                let variants = schema["oneOf"].as_array().cloned();
                for s in variants.unwrap_or_else(|| vec![schema.clone()]) {
                    assert_eq!(s["additionalProperties"], false, "{at} body: {s:#}");
                    closed += 1;
                }
            }
            for (code, answer) in op["responses"].as_object().unwrap() {
                let schema = &answer["content"]["application/json"]["schema"];
                if code.starts_with('2') && !schema.is_null() {
                    let schema = named(&doc, schema);
                    assert_ne!(
                        schema["additionalProperties"], false,
                        "{at} {code}: {schema:#}"
                    );
                    open += 1;
                }
            }
        }
    }
    assert!(
        closed >= 10 && open >= 15,
        "{closed} bodies, {open} answers"
    );
}

#[test]
fn fields_with_defaults_are_optional_in_requests_and_always_sent_fields_required_in_answers() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let required = |name: &str| -> BTreeSet<String> {
        schemas[name]["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    // `ttl_seconds` has a default: a client may leave it out.
    assert!(!required("JoinTokenRequest").contains("ttl_seconds"));
    // `intent_index` is `#[serde(default)]` for reading, but the coordinator always sends it.
    assert!(required("ClusterStatus").contains("intent_index"));
    // `note` is skipped when empty: an answer may lack it.
    assert!(!required("RolloutProcess").contains("note"));
    assert!(required("RolloutProcess").contains("unit"));
    // Every role of the catalog, no other.
    let roles = schemas["Role"]["enum"].as_array().unwrap();
    assert!(roles.contains(&json!("loki:write")) && roles.contains(&json!("tempo:all")));
    assert!(!roles.contains(&json!("loki:bloom-planner")), "not offered");
}
