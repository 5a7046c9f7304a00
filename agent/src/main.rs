//! `lgtm-agent`: parse flags and the config file, set up logging, run the agent.

use std::process::ExitCode;

use clap::Parser;
use lgtm_agent::config::{Args, DEFAULT_CONFIG_PATH, RawConfig, Settings};
use lgtm_agent::{agent, error_chain::chain, logging};

/// sysexits.h EX_CONFIG: the configuration is wrong; restarting will not help.
const EX_CONFIG: u8 = 78;

fn settings(args: &Args) -> anyhow::Result<Settings> {
    let file = match &args.config {
        Some(path) => RawConfig::read(path, true)?,
        None => RawConfig::read(DEFAULT_CONFIG_PATH, false)?,
    };
    let hostname = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    Ok(Settings::validate(
        file.merge(args.overrides()),
        hostname.as_deref(),
    )?)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let settings = match settings(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lgtm-agent: {}", chain(e.as_ref()));
            return ExitCode::from(EX_CONFIG);
        }
    };
    if args.check_config {
        print!("{settings}");
        return ExitCode::SUCCESS;
    }
    logging::init();
    // One thread: the agent waits on I/O and applies changes in order; worker threads would
    // only add stacks and malloc arenas to an idle footprint that should stay small.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lgtm-agent: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agent::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %chain(&e), "lgtm-agent failed: {}", chain(&e));
            eprintln!("lgtm-agent: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}
