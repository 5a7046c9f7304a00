//! Loki 3.x: one process per group of targets on a host (`write`, `read`, `backend`, or
//! `all`; see [`crate::catalog::ProcessModel::Grouped`]).

use serde_json::{Value, json};

use super::storage::{is_filesystem, s3};
use super::{Ctx, RenderError};

/// The first period of the schema: TSDB index, schema v13 (structured metadata, OTLP).
const SCHEMA_FROM: &str = "2024-04-01";

/// The config of one Loki process.
pub(super) fn config(c: &Ctx<'_>) -> Result<Value, RenderError> {
    let fs = is_filesystem(c);
    let storage = if fs {
        json!({ "filesystem": {
            "chunks_directory": c.store("chunks"),
            "rules_directory": c.store("rules"),
        }})
    } else {
        let s = s3(c)?;
        let mut s3 = json!({
            "endpoint": s.endpoint,
            "region": s.region,
            "bucketnames": s.bucket,
            "access_key_id": s.access_key_id,
            "secret_access_key": s.secret_access_key,
            "insecure": s.insecure,
            "s3forcepathstyle": s.path_style,
        });
        if let Some(ca) = s.ca_file {
            s3["http_config"] = json!({ "ca_file": ca });
        }
        json!({ "s3": s3 })
    };
    let mut cfg = json!({
        "auth_enabled": false,
        "server": c.server(),
        "memberlist": c.memberlist(),
        "common": {
            "path_prefix": c.data_dir,
            "replication_factor": c.replication("ingester"),
            "instance_addr": c.address.to_string(),
            // Setting instance_addr makes Loki apply common.ring everywhere, whose store
            // defaults to consul: name memberlist explicitly.
            "ring": { "kvstore": { "store": "memberlist" } },
            "storage": storage,
        },
        "schema_config": { "configs": [{
            "from": SCHEMA_FROM,
            "store": "tsdb",
            "object_store": if fs { "filesystem" } else { "s3" },
            "schema": "v13",
            "index": { "prefix": "index_", "period": "24h" },
        }]},
        "compactor": { "working_directory": c.dir("compactor") },
        "ruler": { "rule_path": c.dir("rules-temp") },
        "analytics": { "reporting_enabled": false },
    });
    // Queriers and frontends ask the compactor about deletes.
    if let Some(compactor) = &c.topology.compactor_http {
        cfg["common"]["compactor_address"] = json!(format!("http://{compactor}"));
    }
    // With a scheduler, frontends and queriers find it through its ring; without one,
    // queriers must be told where a frontend is.
    if c.deployed("query-scheduler") {
        cfg["query_scheduler"] = json!({ "use_scheduler_ring": true });
    } else if c.runs("querier")
        && let Some(frontend) = c.frontend_address()
    {
        cfg["frontend_worker"] = json!({ "frontend_address": frontend });
    }
    // Index gateways in ring mode: clients (queriers, rulers) find them through the ring,
    // which inherits common.ring (memberlist). Upstream copies common.replication_factor into
    // it, and a read needs max(gateways, factor) - factor/2 healthy gateways: with fewer
    // gateways than the factor every query fails, with a factor of 1 over two gateways one
    // down fails them all. So the factor is the number of gateways, at most 3.
    if c.topology.index_gateways > 0 {
        cfg["index_gateway"] = json!({
            "mode": "ring",
            "ring": { "replication_factor": c.topology.index_gateways.min(3) },
        });
    }
    // An ingester that stops (restart, role moved, host removed) flushes what it holds to
    // object storage instead of leaving it in a WAL no other process will replay.
    if c.runs("ingester") {
        cfg["ingester"] = json!({ "wal": { "flush_on_shutdown": true } });
    }
    // Several rulers share the rule groups through their ring instead of each evaluating all.
    if c.deployed("ruler") {
        cfg["ruler"]["enable_sharding"] = json!(true);
    }
    // Optional components run only when enabled, in every process that talks to them.
    if c.deployed("pattern-ingester") {
        cfg["pattern_ingester"] = json!({ "enabled": true });
    }
    Ok(cfg)
}
