//! Logging: structured fields to journald when running under systemd (JOURNAL_STREAM set),
//! plain lines on stderr otherwise. `RUST_LOG` filters (default `info`).

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the global subscriber.
pub fn init() {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = std::env::var_os("JOURNAL_STREAM")
        .and_then(|_| tracing_journald::layer().ok())
        .map(|layer| layer.with_syslog_identifier("lgtm-agent".to_owned()));
    match journald {
        Some(layer) => {
            tracing_subscriber::registry()
                .with(layer.with_filter(filter()))
                .init();
        }
        None => {
            let fmt = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false);
            tracing_subscriber::registry()
                .with(fmt.with_filter(filter()))
                .init();
        }
    }
}
