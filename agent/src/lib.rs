//! lgtm-agent: turns this host's desired state into files and systemd units, and reports.
//!
//! The pure core decides: [`config`] (settings), [`desired`] (every file rendered from the
//! coordinator's state, [`mod@unit`] for unit files), [`observed`] (the host as plain data)
//! and [`mod@plan`] (`plan(&Desired, &Observed) -> Vec<Action>`). Effects sit behind narrow
//! traits ([`fs::Fs`], [`systemd::Systemd`]) and are carried out by the dumb [`mod@execute`].
//! Four tasks wired in [`agent`] keep it running: [`fetcher`], [`reconciler`], [`observer`],
//! [`reporter`], each publishing on a `watch` channel.
#![forbid(unsafe_code)]

pub mod agent;
pub mod backoff;
pub mod client;
pub mod config;
pub mod credential;
pub mod desired;
pub mod error_chain;
pub mod events;
pub mod execute;
pub mod facts;
#[cfg(test)]
mod fake;
pub mod fetcher;
pub mod fs;
pub mod gateway;
pub mod layout;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod observed;
pub mod observer;
pub mod plan;
pub mod probe;
pub mod reconciler;
pub mod reporter;
pub mod route;
pub mod safe_path;
pub mod status;
pub mod systemd;
pub mod unit;
