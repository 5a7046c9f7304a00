//! Loki 3.x: one process per host running every Loki target the host has.

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
            "chunks_directory": c.dir("chunks"),
            "rules_directory": c.dir("rules"),
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
    } else if let Some(frontend) = c.topology.frontend_grpc.clone() {
        cfg["frontend_worker"] = json!({ "frontend_address": frontend });
    }
    // Index gateways in ring mode: clients (queriers, rulers) find them through the ring,
    // which inherits common.ring (memberlist).
    if c.deployed("index-gateway") {
        cfg["index_gateway"] = json!({ "mode": "ring" });
    }
    Ok(cfg)
}
