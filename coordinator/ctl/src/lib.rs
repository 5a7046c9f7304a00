//! `lgtmctl`, the operator CLI of an lgtm cluster, over the coordinator's HTTP API.
//!
//! [`cli`] parses, [`commands`] runs, [`client`] talks to the coordinator, [`output`] formats,
//! [`wait`] decides when a host has converged. Errors map to documented exit codes
//! ([`error::EXIT_CODES`]).
#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod commands;
pub mod credentials;
pub mod error;
pub mod output;
pub mod secret;
pub mod value_file;
pub mod wait;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs it, prints any error, and gives the exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", output::printable_lines(&e.to_string()));
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
