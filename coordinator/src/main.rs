//! `lgtm-coordinator`: parse flags, load the configuration, log, serve.

use anyhow::Context;
use clap::Parser;
use lgtm_coordinator::{config, server, telemetry, tls};

fn main() -> anyhow::Result<()> {
    let flags = config::Flags::parse();
    telemetry::init();
    let config = config::load(&flags).context("failed to load the configuration")?;
    if let Some(config::Setup::Init { .. }) = flags.command {
        let names = tls::sans(Some(config.listen), &config.tls_sans);
        let dir = tls::init(&config.state_dir, &names).context("lgtm-coordinator init failed")?;
        println!(
            "created {}; agents and lgtmctl pin {}/ca.pem; the certificate names {}",
            dir.display(),
            dir.display(),
            names.join(", ")
        );
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime
        .block_on(server::run(config))
        .context("lgtm-coordinator failed")?;
    Ok(())
}
