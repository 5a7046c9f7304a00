//! lgtm's lab: the stand-in backend ([`standin`]), real-systemd test hosts ([`lab`]) and an
//! S3-compatible server ([`s3`]) used by the end-to-end tests in `tests/` and by the benchmarks,
//! clients that speak the backends' real wire formats ([`clients`]), and lab hosts reached over
//! SSH by an Ansible controller ([`sshd`], [`ansible`]).

// Unit tests panic on purpose: a failed unwrap is a failed assertion there.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod ansible;
pub mod clients;
pub mod clock;
pub mod lab;
pub mod procfs;
pub mod s3;
pub mod sshd;
pub mod standin;
