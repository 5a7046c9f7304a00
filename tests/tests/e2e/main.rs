//! End-to-end tests against real systemd: lab hosts with agents, a coordinator, and every
//! operator action through the real `lgtmctl`. Each test checks what systemd and the kernel
//! inside the hosts say (unit state, MainPID, NRestarts, the process's command line, files on
//! disk, `/ready` from the root namespace), not only what `lgtmctl` reports.
//!
//! Build the binaries first (`cargo build --workspace --bins`); labs need root and are skipped
//! with a message otherwise. Labs in this binary run one at a time.
#![allow(clippy::unwrap_used)]

mod colocation;
mod crash;
mod drain;
mod gateway;
mod mimir;
mod offline;
mod real;
mod rolling;
mod rolling_tempo;
mod rollout;
mod settings;
mod storage;
mod support;
mod switch;
