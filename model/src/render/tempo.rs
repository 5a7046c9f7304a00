//! Tempo 2.x: one process per role (Tempo's `-target` takes exactly one module).

use serde_json::{Value, json};

use super::storage::{is_filesystem, s3};
use super::{Ctx, RenderError};
use crate::settings::Receiver;

/// Rings and the role that joins each: (role, path to its address key).
const ADDRESSES: &[(&str, &[&str])] = &[
    ("distributor", &["distributor", "ring", "instance_addr"]),
    ("ingester", &["ingester", "lifecycler", "address"]),
    ("compactor", &["compactor", "ring", "instance_addr"]),
    (
        "metrics-generator",
        &["metrics_generator", "ring", "instance_addr"],
    ),
];

/// The config of one Tempo process.
pub(super) fn config(c: &Ctx<'_>) -> Result<Value, RenderError> {
    let mut cfg = json!({
        "server": c.server(),
        "memberlist": c.memberlist(),
        "usage_report": { "reporting_enabled": false },
    });
    // Only the processes that use the ingester ring get its factor: a frontend or compactor
    // must not restart when a third ingester raises it.
    if ["distributor", "ingester", "querier", "metrics-generator"]
        .iter()
        .any(|t| c.runs(t))
    {
        cfg["ingester"] = json!({ "lifecycler": { "ring": { "replication_factor": c.replication("ingester") } } });
    }
    // An ingester that stops (restart, role moved, host removed) flushes what it holds to
    // object storage instead of leaving it in a WAL no other process will replay.
    if c.runs("ingester") {
        cfg["ingester"]["flush_all_on_shutdown"] = json!(true);
    }
    // Rings default to the address of eth0/en0: name the registered one.
    for (role, path) in ADDRESSES {
        if c.runs(role) {
            let mut at = &mut cfg;
            for key in *path {
                at = &mut at[*key];
            }
            *at = json!(c.address.to_string());
        }
    }
    cfg["storage"] = if is_filesystem(c) {
        json!({ "trace": {
            "backend": "local",
            // Shared by the host's Tempo processes: queriers and the compactor read what the
            // ingester flushed.
            "local": { "path": c.store("blocks") },
            "wal": { "path": c.dir("wal") },
        }})
    } else {
        let s = s3(c)?;
        let mut s3 = json!({
            "endpoint": s.endpoint,
            "region": s.region,
            "bucket": s.bucket,
            // storage::prefixes: Tempo's objects stay under tempo/ in a shared bucket.
            "prefix": "tempo",
            "access_key": s.access_key_id,
            "secret_key": s.secret_access_key,
            "insecure": s.insecure,
            "forcepathstyle": s.path_style,
        });
        if let Some(ca) = s.ca_file {
            s3["tls_ca_path"] = json!(ca);
        }
        json!({ "trace": { "backend": "s3", "wal": { "path": c.dir("wal") }, "s3": s3 } })
    };
    if c.runs("distributor") {
        cfg["distributor"] = json!({ "receivers": receivers(c) });
    }
    // Tempo has no scheduler: every querier, including the single binary's own, is told
    // which frontend to pull from.
    if c.runs("querier")
        && let Some(frontend) = c.frontend_address()
    {
        cfg["querier"] = json!({ "frontend_worker": { "frontend_address": frontend } });
    }
    // The compactor ring shards blocks between compactors; its store defaults to in-memory,
    // where every compactor owns every block.
    if c.runs("compactor") {
        cfg["compactor"]["ring"]["kvstore"] = json!({ "store": "memberlist" });
    }
    metrics_generator(c, &mut cfg)?;
    Ok(cfg)
}

/// The receivers `tempo.receivers` names, on every address.
fn receivers(c: &Ctx<'_>) -> Value {
    let mut out = json!({});
    let on = |r: Receiver| json!({ "endpoint": format!("0.0.0.0:{}", r.port()) });
    for r in &c.cluster.settings.tempo.receivers {
        match r {
            Receiver::OtlpGrpc => out["otlp"]["protocols"]["grpc"] = on(*r),
            Receiver::OtlpHttp => out["otlp"]["protocols"]["http"] = on(*r),
            Receiver::JaegerGrpc => out["jaeger"]["protocols"]["grpc"] = on(*r),
            Receiver::JaegerThriftHttp => out["jaeger"]["protocols"]["thrift_http"] = on(*r),
            Receiver::Zipkin => out["zipkin"] = on(*r),
        }
    }
    out
}

/// The metrics-generator runs only with a remote-write target: a process of its own needs
/// `tempo.metrics_generator.remote_write_url`; inside `all` it idles without one.
fn metrics_generator(c: &Ctx<'_>, cfg: &mut Value) -> Result<(), RenderError> {
    let url = c.cluster.settings.tempo.remote_write_url.as_deref();
    if c.runs("metrics-generator") {
        let own_process = c.id.role.is_some_and(|r| r.name() == "metrics-generator");
        if url.is_none() && own_process {
            return Err(RenderError::MissingRemoteWrite {
                host: c.host.clone(),
            });
        }
        let mut generator = json!({
            "storage": { "path": c.dir("generator-wal") },
            "traces_storage": { "path": c.dir("generator-traces") },
        });
        if let Some(url) = url {
            generator["storage"]["remote_write"] = json!([{ "url": url, "send_exemplars": true }]);
        }
        let ring = cfg["metrics_generator"]["ring"].take();
        if !ring.is_null() {
            generator["ring"] = ring;
        }
        cfg["metrics_generator"] = generator;
    }
    // Distributors forward spans to generators for tenants with processors enabled.
    if url.is_some() && c.deployed("metrics-generator") {
        cfg["overrides"] = json!({ "defaults": { "metrics_generator": {
            "processors": ["service-graphs", "span-metrics"],
        }}});
    }
    Ok(())
}
