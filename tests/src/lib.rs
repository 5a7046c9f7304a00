//! lgtm's lab: the stand-in backend ([`standin`]), real-systemd test hosts ([`lab`]) and an
//! S3-compatible server ([`s3`]) used by the end-to-end tests in `tests/` and by the benchmarks,
//! and clients that speak the backends' real wire formats ([`clients`]).

// Unit tests panic on purpose: a failed unwrap is a failed assertion there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod clients;
pub mod lab;
pub mod procfs;
pub mod s3;
pub mod standin;
