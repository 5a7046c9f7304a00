//! The gateway through plan and execute on the fake host: start, reload on a config change
//! (never a restart), a config nginx refuses never installed, removal.

use std::sync::Arc;

use lgtm_model::wire::{DesiredGateway, DesiredState};

use crate::desired::Desired;
use crate::execute::execute;
use crate::fake::{FakeHost, State};
use crate::layout::tests::layout;
use crate::observed::observe;
use crate::plan::plan;
use crate::safe_path::SafePath;

const CONF: &str = "/etc/lgtm/gateway/nginx.conf";

fn desired(config: Option<&str>) -> Desired {
    let state = DesiredState {
        host: "h1".parse().unwrap(),
        index: 1,
        processes: vec![],
        gateway: config.map(|c| DesiredGateway {
            backends: vec![lgtm_model::Backend::Mimir],
            config: c.into(),
        }),
    };
    Desired::new(&state, &"h1".parse().unwrap(), &layout()).unwrap()
}

/// Plans, executes, and returns (action texts, failures).
async fn apply(host: &Arc<FakeHost>, d: &Desired) -> (Vec<String>, Vec<String>) {
    let observed = observe(d, host, host).await.unwrap();
    let actions = plan(d, &observed);
    let results = execute(&actions, host, host).await;
    let texts = actions.iter().map(ToString::to_string).collect();
    let failed = results
        .into_iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: {}", r.action, r.error.unwrap_or_default()))
        .collect();
    (texts, failed)
}

fn serving(host: &FakeHost) -> String {
    let s = host.state();
    let f = s.files.get(&SafePath::parse(CONF).unwrap());
    f.map(|f| String::from_utf8_lossy(&f.content.0).into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn start_reload_refuse_and_remove() {
    let host = Arc::new(FakeHost::new(State::default()));
    let (actions, failed) = apply(&host, &desired(Some("events {}\n# one\n"))).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        actions,
        [
            "write /etc/systemd/system/lgtm-gateway.service",
            "check and install /etc/lgtm/gateway/nginx.conf",
            "daemon-reload",
            "enable lgtm-gateway.service",
            "reset-failed lgtm-gateway.service",
            "start lgtm-gateway.service",
        ]
    );
    assert!(
        host.state()
            .calls
            .iter()
            .any(|c| c.starts_with("nginx -t "))
    );
    let (again, _) = apply(&host, &desired(Some("events {}\n# one\n"))).await;
    assert!(again.is_empty(), "converged: {again:?}");

    // A new config is a reload, never a restart.
    let (actions, failed) = apply(&host, &desired(Some("events {}\n# two\n"))).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        actions,
        [
            "check and install /etc/lgtm/gateway/nginx.conf",
            "reload lgtm-gateway.service"
        ]
    );
    assert_eq!(serving(&host), "events {}\n# two\n");

    // nginx refuses it: the old config stays, the failure says why, no candidate is left.
    let (_, failed) = apply(&host, &desired(Some("invalid;\n"))).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("nginx refused") && failed[0].contains("unknown directive"),
        "{failed:?}"
    );
    assert_eq!(serving(&host), "events {}\n# two\n");
    let candidate = SafePath::parse("/etc/lgtm/gateway/nginx.conf.candidate").unwrap();
    assert!(!host.state().files.contains_key(&candidate));
    assert!(!host.state().calls.iter().any(|c| c.starts_with("restart")));

    // The role removed: stopped, disabled, files gone.
    let (actions, failed) = apply(&host, &desired(None)).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(
        actions,
        [
            "stop lgtm-gateway.service",
            "disable lgtm-gateway.service",
            "remove /etc/systemd/system/lgtm-gateway.service",
            "remove /etc/lgtm/gateway/nginx.conf",
            "daemon-reload",
        ]
    );
}
