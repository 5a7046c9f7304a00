//! `lgtm-coordinator`: cluster intent in a durable store, rendering of every host's desired
//! state, long-polls for agents, status aggregation, all behind one HTTP/JSON API.
//!
//! Layout: [`store`] persists, [`cluster`] owns the intent and publishes views, [`api`]
//! serves them, [`longpoll`], [`status`], [`metrics`] and [`openapi`] are the pieces the
//! API answers with; [`server`] wires it all up for `main`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod api;
pub mod cluster;
pub mod config;
pub mod connections;
pub mod credentials;
pub mod digest;
pub mod longpoll;
pub mod metrics;
pub mod openapi;
pub mod readiness;
pub mod reports;
pub mod rollout;
pub mod server;
pub mod status;
pub mod store;
pub mod systemd;
pub mod telemetry;
pub mod tls;
pub mod validate;
