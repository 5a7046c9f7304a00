//! `lgtm-coordinator`: parse flags, load the configuration, log, serve.

use anyhow::Context;
use clap::Parser;
use lgtm_coordinator::{config, server, telemetry};

fn main() -> anyhow::Result<()> {
    let flags = config::Flags::parse();
    telemetry::init();
    let config = config::load(&flags).context("failed to load the configuration")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime
        .block_on(server::run(config))
        .context("lgtm-coordinator failed")?;
    Ok(())
}
