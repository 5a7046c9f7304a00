//! Which modules a stand-in process runs: `-target` checked against the upstream module names,
//! meta-targets expanded from the role catalog, and the client paths each module serves.

use lgtm_model::Backend;
use lgtm_model::catalog::catalog;

/// Upstream user-visible modules lgtm's catalog does not list (still valid targets).
fn extra_modules(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Mimir => &[
            "memberlist-kv",
            "continuous-test",
            "block-builder",
            "block-builder-scheduler",
        ],
        Backend::Loki => &[
            "overrides-exporter",
            "ingest-limits",
            "ingest-limits-frontend",
            "table-manager",
            "bloom-gateway-client",
            "ui",
        ],
        Backend::Tempo => &[
            "all",
            "metrics-generator-no-local-blocks",
            "block-builder",
            "backend-scheduler",
            "backend-worker",
            "live-store",
        ],
    }
}

/// Why `-target` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("error initialising module: unrecognised module name: {0}")]
    Unknown(String),
    #[error("no target given: -target is empty")]
    Empty,
}

/// Every name `-target` accepts for `backend`, sorted.
pub fn valid_targets(backend: Backend) -> Vec<&'static str> {
    let cat = catalog(backend);
    let mut all: Vec<&'static str> = cat
        .targets
        .iter()
        .map(|t| t.name)
        .chain(cat.meta_roles.iter().map(|m| m.target))
        .chain(extra_modules(backend).iter().copied())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Parses `-target` (the default `all` when absent); Tempo takes exactly one module.
pub fn parse_targets(backend: Backend, target: Option<&str>) -> Result<Vec<String>, TargetError> {
    let given = target.unwrap_or("all");
    let valid = valid_targets(backend);
    let names: Vec<String> = if backend == Backend::Tempo {
        // Tempo's target is one string: a comma list is simply an unknown module.
        vec![given.trim().to_owned()]
    } else {
        given
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if names.is_empty() || names.iter().all(String::is_empty) {
        return Err(TargetError::Empty);
    }
    if let Some(bad) = names.iter().find(|n| !valid.contains(&n.as_str())) {
        return Err(TargetError::Unknown(bad.clone()));
    }
    Ok(names)
}

/// The modules `targets` run: meta-targets expanded, sorted, de-duplicated.
pub fn expand(backend: Backend, targets: &[String]) -> Vec<String> {
    let cat = catalog(backend);
    let mut out: Vec<String> = Vec::new();
    for t in targets {
        match cat
            .meta_roles
            .iter()
            .find(|m| m.target == t || (backend == Backend::Tempo && m.name == t))
        {
            Some(meta) => out.extend(meta.expands.iter().map(|s| (*s).to_owned())),
            None => out.push(t.clone()),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The modules that serve a client path, best first; `None` for paths no module serves.
pub fn servers_of(backend: Backend, path: &str) -> Option<&'static [&'static str]> {
    const PUSH: &[&str] = &["distributor"];
    const QUERY: &[&str] = &["query-frontend", "querier"];
    const RULER: &[&str] = &["ruler"];
    let starts = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    match backend {
        Backend::Mimir => {
            if matches!(path, "/api/v1/push" | "/otlp/v1/metrics") {
                Some(PUSH)
            } else if starts("/prometheus/api/v1/rules") || starts("/prometheus/config/v1/rules") {
                Some(RULER)
            } else if starts("/prometheus") {
                Some(QUERY)
            } else if starts("/alertmanager") || starts("/api/v1/alerts") {
                Some(&["alertmanager"])
            } else {
                None
            }
        }
        Backend::Loki => {
            if matches!(
                path,
                "/loki/api/v1/push" | "/otlp/v1/logs" | "/api/prom/push"
            ) {
                Some(PUSH)
            } else if path == "/loki/api/v1/tail" {
                Some(&["querier", "query-frontend"])
            } else if starts("/loki/api/v1/rules") || starts("/prometheus/api/v1/rules") {
                Some(RULER)
            } else if starts("/loki/api/v1") {
                Some(QUERY)
            } else {
                None
            }
        }
        Backend::Tempo => {
            if starts("/api/traces")
                || starts("/api/search")
                || starts("/api/v2")
                || path == "/api/echo"
            {
                Some(QUERY)
            } else {
                None
            }
        }
    }
}

/// The path as a metric label: trace IDs folded so the label set stays bounded.
pub fn path_label(backend: Backend, path: &str) -> String {
    match (backend, path.strip_prefix("/api/traces/")) {
        (Backend::Tempo, Some(_)) => "/api/traces/{id}".into(),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(b: Backend, t: &str) -> Vec<String> {
        parse_targets(b, Some(t)).unwrap()
    }

    #[test]
    fn mimir_and_loki_take_comma_lists() {
        assert_eq!(
            ok(Backend::Mimir, "distributor,ingester"),
            ["distributor", "ingester"]
        );
        assert_eq!(
            ok(Backend::Mimir, "all,alertmanager"),
            ["all", "alertmanager"]
        );
        assert_eq!(ok(Backend::Loki, "read"), ["read"]);
        assert_eq!(parse_targets(Backend::Mimir, None).unwrap(), ["all"]);
        assert_eq!(
            parse_targets(Backend::Mimir, Some("ingester,quorier")),
            Err(TargetError::Unknown("quorier".into()))
        );
        assert_eq!(
            parse_targets(Backend::Loki, Some(",")),
            Err(TargetError::Empty)
        );
        // Loki has no scalable-single-binary; Mimir has no index-gateway.
        assert!(parse_targets(Backend::Loki, Some("scalable-single-binary")).is_err());
        assert!(parse_targets(Backend::Mimir, Some("index-gateway")).is_err());
    }

    #[test]
    fn tempo_takes_exactly_one() {
        assert_eq!(
            ok(Backend::Tempo, "scalable-single-binary"),
            ["scalable-single-binary"]
        );
        assert_eq!(ok(Backend::Tempo, "all"), ["all"]);
        let e = parse_targets(Backend::Tempo, Some("distributor,ingester")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error initialising module: unrecognised module name: distributor,ingester"
        );
    }

    #[test]
    fn meta_targets_expand_from_the_catalog() {
        let e = expand(Backend::Mimir, &ok(Backend::Mimir, "write,querier"));
        assert_eq!(e, ["distributor", "ingester", "querier"]);
        let e = expand(
            Backend::Tempo,
            &ok(Backend::Tempo, "scalable-single-binary"),
        );
        assert!(e.contains(&"ingester".to_owned()) && e.len() == 6, "{e:?}");
        assert_eq!(expand(Backend::Tempo, &ok(Backend::Tempo, "all")), e);
    }

    #[test]
    fn routes() {
        assert_eq!(
            servers_of(Backend::Mimir, "/api/v1/push"),
            Some(&["distributor"][..])
        );
        assert_eq!(
            servers_of(Backend::Mimir, "/prometheus/api/v1/query_range").map(|s| s[0]),
            Some("query-frontend")
        );
        assert_eq!(
            servers_of(Backend::Loki, "/loki/api/v1/tail").map(|s| s[0]),
            Some("querier")
        );
        assert_eq!(
            servers_of(Backend::Tempo, "/api/traces/abc").map(|s| s[1]),
            Some("querier")
        );
        assert_eq!(servers_of(Backend::Mimir, "/prometheusx"), None);
        assert_eq!(servers_of(Backend::Tempo, "/api/v1/push"), None);
        assert_eq!(
            path_label(Backend::Tempo, "/api/traces/abc"),
            "/api/traces/{id}"
        );
    }
}
