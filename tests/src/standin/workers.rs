//! Queriers pulling from frontends, as the real backends wire them without a scheduler: a
//! querier holds a connection to its `frontend_address` (reconnecting while the frontend is
//! away), and a frontend that no querier holds a connection to is not ready — Tempo 2.10.8
//! answers `/ready` with `Query Frontend not ready: not ready: number of queriers connected
//! to query-frontend is 0` (its `modules/frontend/v1`, the same code as Mimir's and Loki's
//! frontends without a scheduler).

use std::sync::Arc;
use std::time::Duration;

use lgtm_model::Backend;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::state::Shared;

/// The frontend a querier of this config pulls from, if it is told one.
pub fn frontend_address(backend: Backend, config: &Value) -> Option<String> {
    let worker = match backend {
        Backend::Tempo => config.get("querier")?.get("frontend_worker")?,
        Backend::Mimir | Backend::Loki => config.get("frontend_worker")?,
    };
    let a = worker.get("frontend_address")?.as_str()?;
    (!a.is_empty()).then(|| a.to_owned())
}

/// Whether a frontend of this config hands queries to queriers directly (no scheduler).
pub fn frontend_needs_queriers(backend: Backend, modules: &[String], config: &Value) -> bool {
    let at = |path: &[&str]| path.iter().try_fold(config, |v, k| v.get(k));
    let scheduler = match backend {
        Backend::Tempo => false,
        Backend::Mimir => {
            at(&["query_scheduler", "service_discovery_mode"]).and_then(Value::as_str)
                == Some("ring")
                || at(&["frontend", "scheduler_address"]).is_some()
        }
        Backend::Loki => {
            at(&["query_scheduler", "use_scheduler_ring"]).and_then(Value::as_bool) == Some(true)
                || at(&["frontend", "scheduler_address"]).is_some()
        }
    };
    !scheduler && modules.iter().any(|m| m == "query-frontend")
}

/// Accepts queriers on the gRPC port, counting those connected.
pub async fn serve_frontend(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.querier_connected(1);
            let mut buf = [0u8; 4096];
            while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
            shared.querier_connected(-1);
        });
    }
}

/// Holds a connection to `frontend`, reconnecting every second while it is away.
pub async fn pull_from(frontend: String) {
    loop {
        if let Ok(mut conn) = TcpStream::connect(&frontend).await {
            let mut buf = [0u8; 4096];
            while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn frontends_without_a_scheduler_need_queriers() {
        let fe = vec!["query-frontend".to_owned()];
        assert!(frontend_needs_queriers(Backend::Tempo, &fe, &v("{}")));
        assert!(frontend_needs_queriers(Backend::Mimir, &fe, &v("{}")));
        assert!(!frontend_needs_queriers(
            Backend::Mimir,
            &fe,
            &v("query_scheduler: {service_discovery_mode: ring}")
        ));
        assert!(!frontend_needs_queriers(
            Backend::Loki,
            &fe,
            &v("query_scheduler: {use_scheduler_ring: true}")
        ));
        assert!(!frontend_needs_queriers(
            Backend::Tempo,
            &["querier".to_owned()],
            &v("{}")
        ));
        assert_eq!(
            frontend_address(
                Backend::Tempo,
                &v("querier: {frontend_worker: {frontend_address: 'a:1'}}")
            ),
            Some("a:1".into())
        );
        assert_eq!(
            frontend_address(
                Backend::Loki,
                &v("frontend_worker: {frontend_address: 'b:2'}")
            ),
            Some("b:2".into())
        );
        assert_eq!(frontend_address(Backend::Mimir, &v("{}")), None);
    }
}
