//! Startup rules the real backends enforce on how a process is wired to the rest of its
//! cluster, so the stand-in refuses what they refuse (the conformance test in
//! `tests/tests/conformance.rs` runs the same configs against the real binaries).
//!
//! - Tempo: a process running the querier needs `querier.frontend_worker.frontend_address`;
//!   only Tempo's `all` target fills it in by itself (`cmd/tempo/app/modules.go`,
//!   `initQuerier`), `scalable-single-binary` does not. Real Tempo 2.10.8 exits 1 with
//!   `error initialising module: querier: frontend worker address not specified`.
//! - Loki 3.7.6: `overrides-exporter` exits at start without `runtime_config.file`; enabled
//!   blooms need `bloom_build.builder.planner_address` and `bloom_gateway.client.addresses`
//!   (`CONFIG ERROR` at start, in every process: validation is global).

use lgtm_model::Backend;
use serde_json::Value;

/// Why the process would not start, in the backend's words; `Ok` when it would.
pub fn check(
    backend: Backend,
    targets: &[String],
    modules: &[String],
    config: &Value,
) -> Result<(), String> {
    if backend == Backend::Tempo
        && modules.iter().any(|m| m == "querier")
        && !targets.iter().any(|t| t == "all")
        && frontend_address(config).is_none()
    {
        return Err(
            "failed to init module services: error initialising module: querier: frontend worker address not specified".into(),
        );
    }
    if backend == Backend::Loki {
        if modules.iter().any(|m| m == "overrides-exporter")
            && text(config, &["runtime_config", "file"]).is_none()
        {
            return Err("overrides-exporter has been enabled, but no runtime configuration file was configured\nerror initialising module: overrides-exporter".into());
        }
        if flag(config, &["bloom_build", "enabled"])
            && text(config, &["bloom_build", "builder", "planner_address"]).is_none()
        {
            return Err("CONFIG ERROR: invalid bloom_build config: invalid bloom builder configuration: planner address is required".into());
        }
        if flag(config, &["bloom_gateway", "enabled"])
            && text(config, &["bloom_gateway", "client", "addresses"]).is_none()
        {
            return Err("CONFIG ERROR: invalid bloom_gateway config: addresses requires a list of comma separated strings in DNS service discovery format with at least one item".into());
        }
    }
    Ok(())
}

fn at<'a>(config: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(config, |v, k| v.get(k))
}

fn text<'a>(config: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(config, path)?.as_str().filter(|s| !s.is_empty())
}

fn flag(config: &Value, path: &[&str]) -> bool {
    at(config, path).and_then(Value::as_bool).unwrap_or(false)
}

fn frontend_address(config: &Value) -> Option<&str> {
    text(config, &["querier", "frontend_worker", "frontend_address"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn a_tempo_querier_needs_its_frontend() {
        let s = |x: &[&str]| x.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        let bare = v("server: {}");
        let wired = v("querier: {frontend_worker: {frontend_address: '10.0.0.1:9200'}}");
        let ssb = s(&["scalable-single-binary"]);
        let ssb_modules = s(&["distributor", "ingester", "querier", "query-frontend"]);
        let e = check(Backend::Tempo, &ssb, &ssb_modules, &bare).unwrap_err();
        assert!(e.contains("frontend worker address not specified"), "{e}");
        assert_eq!(check(Backend::Tempo, &ssb, &ssb_modules, &wired), Ok(()));
        assert_eq!(
            check(Backend::Tempo, &s(&["all"]), &ssb_modules, &bare),
            Ok(())
        );
        assert_eq!(
            check(Backend::Tempo, &s(&["ingester"]), &s(&["ingester"]), &bare),
            Ok(())
        );
        let loki =
            |modules: &[&str], cfg: &str| check(Backend::Loki, &s(modules), &s(modules), &v(cfg));
        assert!(
            loki(&["overrides-exporter"], "{}")
                .unwrap_err()
                .contains("no runtime configuration file")
        );
        assert_eq!(
            loki(&["overrides-exporter"], "runtime_config: {file: /r.yaml}"),
            Ok(())
        );
        assert!(
            loki(&["querier"], "bloom_gateway: {enabled: true}")
                .unwrap_err()
                .contains("invalid bloom_gateway config")
        );
        assert!(
            loki(&["querier"], "bloom_build: {enabled: true}")
                .unwrap_err()
                .contains("planner address is required")
        );
        assert_eq!(
            loki(
                &["querier"],
                "bloom_build: {enabled: true, builder: {planner_address: 'a:1'}}"
            ),
            Ok(())
        );
        // Mimir's querier runs without a worker when neither address is given.
        assert_eq!(
            check(Backend::Mimir, &s(&["querier"]), &s(&["querier"]), &bare),
            Ok(())
        );
    }
}
