//! Mimir 2.x: one process per host running every Mimir target the host has.

use serde_json::{Value, json};

use super::storage::{is_filesystem, s3};
use super::{Ctx, RenderError};

/// Mimir rings and the target that joins each; lgtm sets their address and ID.
const RINGS: &[(&str, &str, &str)] = &[
    ("distributor", "ring", "distributor"),
    ("ingester", "ring", "ingester"),
    ("store_gateway", "sharding_ring", "store-gateway"),
    ("compactor", "sharding_ring", "compactor"),
    ("ruler", "ring", "ruler"),
    ("alertmanager", "sharding_ring", "alertmanager"),
    ("query_scheduler", "ring", "query-scheduler"),
    ("overrides_exporter", "ring", "overrides-exporter"),
];

/// The config of one Mimir process.
pub(super) fn config(c: &Ctx<'_>) -> Result<Value, RenderError> {
    let addr = c.address.to_string();
    let mut cfg = json!({
        "multitenancy_enabled": false,
        "server": c.server(),
        "memberlist": c.memberlist(),
        "ingester": { "ring": { "replication_factor": c.replication("ingester") } },
        "store_gateway": { "sharding_ring": { "replication_factor": c.replication("store-gateway") } },
        "alertmanager": {
            "data_dir": c.dir("alertmanager"),
            "sharding_ring": { "replication_factor": c.replication("alertmanager") },
        },
        "blocks_storage": {
            "tsdb": { "dir": c.dir("tsdb") },
            "bucket_store": { "sync_dir": c.dir("tsdb-sync") },
        },
        "compactor": { "data_dir": c.dir("compactor") },
        "ruler": { "rule_path": c.dir("ruler") },
        "activity_tracker": { "filepath": c.dir("metrics-activity.log") },
        "usage_stats": { "enabled": false },
    });
    // Rings default to the address of eth0/en0: name the registered one on the rings this
    // process joins.
    for (block, ring, target) in RINGS {
        if c.runs(target) {
            let r = &mut cfg[*block][*ring];
            r["instance_addr"] = json!(addr);
            r["instance_id"] = json!(c.host.as_str());
        }
    }
    if c.runs("query-frontend") {
        // Queriers (through the scheduler) send results back to this address.
        cfg["frontend"] = json!({ "address": addr });
    }
    // With a scheduler, frontends and queriers find it through its ring; without one,
    // queriers must be told where a frontend is.
    if c.deployed("query-scheduler") {
        cfg["query_scheduler"]["service_discovery_mode"] = json!("ring");
    } else if c.runs("querier")
        && let Some(frontend) = c.frontend_address()
    {
        cfg["frontend_worker"] = json!({ "frontend_address": frontend });
    }
    if c.runs("ruler") && !c.topology.alertmanagers.is_empty() {
        let urls: Vec<String> = c
            .topology
            .alertmanagers
            .iter()
            .map(|a| format!("http://{a}/alertmanager"))
            .collect();
        cfg["ruler"]["alertmanager_url"] = json!(urls.join(","));
    }
    if c.runs("alertmanager") {
        let own = super::socket(c.address, c.id.ports().http);
        cfg["alertmanager"]["external_url"] = json!(format!("http://{own}/alertmanager"));
    }
    if is_filesystem(c) {
        cfg["common"] = json!({ "storage": { "backend": "filesystem" } });
        cfg["blocks_storage"]["filesystem"] = json!({ "dir": c.dir("blocks") });
        cfg["ruler_storage"] = json!({ "filesystem": { "dir": c.dir("rules") } });
        cfg["alertmanager_storage"] =
            json!({ "filesystem": { "dir": c.dir("alertmanager-state") } });
    } else {
        let s = s3(c)?;
        cfg["common"] = json!({ "storage": { "backend": "s3", "s3": {
            "endpoint": s.endpoint,
            "region": s.region,
            "bucket_name": s.bucket,
            "access_key_id": s.access_key_id,
            "secret_access_key": s.secret_access_key,
            // Mimir's client picks path-style for non-AWS endpoints by itself, and trusts
            // the system CA store (it has no CA-file option).
            "insecure": s.insecure,
        }}});
        // One bucket, one prefix per purpose (storage::prefixes): Mimir refuses shared ones.
        cfg["blocks_storage"]["storage_prefix"] = json!("blocks");
        cfg["ruler_storage"] = json!({ "storage_prefix": "ruler" });
        cfg["alertmanager_storage"] = json!({ "storage_prefix": "alertmanager" });
    }
    Ok(cfg)
}
