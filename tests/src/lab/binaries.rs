//! Where the lab finds the project's binaries (next to the running test executable) and the
//! real backends (`LGTM_BACKEND_BIN_DIR`, or `../shared/real-backends` beside the project).
//!
//! `cargo test` puts test executables in `target/<profile>/deps/` and binaries in
//! `target/<profile>/`, so both that directory and the executable's own are searched.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use lgtm_model::Backend;

use super::error::LabError;

/// Env var naming a directory of real `mimir`, `loki` and `tempo` binaries.
pub const BACKEND_BIN_DIR_ENV: &str = "LGTM_BACKEND_BIN_DIR";

/// The package that builds each binary, for the error message.
fn package_of(name: &str) -> &str {
    match name {
        "lgtm-agent" => "lgtm-agent",
        "lgtm-coordinator" => "lgtm-coordinator",
        "lgtmctl" => "lgtmctl",
        _ => "lgtm-tests",
    }
}

/// Directories searched, best first.
fn search_dirs() -> Vec<PathBuf> {
    let Ok(exe) = env::current_exe() else {
        return Vec::new();
    };
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(Path::to_path_buf)
        .collect()
}

/// The path of the project binary `name`, or an error saying how to build it.
pub fn find(name: &str) -> Result<PathBuf, LabError> {
    let dirs = search_dirs();
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Ok(found);
    }
    let path = dirs
        .last()
        .map_or_else(|| PathBuf::from(name), |d| d.join(name));
    Err(LabError::MissingBinary {
        name: name.to_owned(),
        path,
        hint: format!("cargo build -p {}", package_of(name)),
    })
}

/// Env var that makes a lab test that needs a real backend fail instead of skipping.
pub const CI_ENV: &str = "CI";

/// Whether this runs under CI (`CI=true`), where a test that cannot run fails.
pub fn in_ci() -> bool {
    env::var(CI_ENV).is_ok_and(|v| v == "true")
}

/// The real backend binaries this machine has: those in `LGTM_BACKEND_BIN_DIR` (any subset of
/// `mimir`, `loki`, `tempo`), else the ones kept beside the project in
/// `../shared/real-backends` (unpacked once, checksums verified; see [`unpack_shared`]).
pub fn real_backends() -> Result<BTreeMap<Backend, PathBuf>, LabError> {
    if let Some(dir) = bin_dir_from_env() {
        let found: BTreeMap<Backend, PathBuf> = Backend::ALL
            .into_iter()
            .map(|b| (b, dir.join(b.as_str())))
            .filter(|(_, p)| p.is_file())
            .collect();
        if found.is_empty() {
            return Err(LabError::MissingBinary {
                name: "mimir, loki or tempo".into(),
                path: dir,
                hint: format!("install real binaries there or unset {BACKEND_BIN_DIR_ENV}"),
            });
        }
        return Ok(found);
    }
    static SHARED: OnceLock<Result<BTreeMap<Backend, PathBuf>, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| unpack_shared().map_err(|e| e.to_string()))
        .clone()
        .map_err(|why| LabError::Invalid {
            what: "../shared/real-backends".into(),
            why,
        })
}

/// Whether real backends come only from `LGTM_BACKEND_BIN_DIR`, which makes every lab use them.
pub fn from_env() -> bool {
    bin_dir_from_env().is_some()
}

/// The directory `LGTM_BACKEND_BIN_DIR` names, if set and not empty.
fn bin_dir_from_env() -> Option<PathBuf> {
    env::var_os(BACKEND_BIN_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// Where the real backends beside the project are unpacked: not below /tmp or /var/tmp,
/// which backend units (PrivateTmp=yes) cannot see.
pub const UNPACK_DIR: &str = "/var/lib/lgtm-tests/real-backends";

/// Unpacks `../shared/real-backends/<name>.xz` into [`UNPACK_DIR`] unless an unpacked copy
/// with the checksum of `SHA256SUMS` is there; an empty map when the directory is absent.
fn unpack_shared() -> Result<BTreeMap<Backend, PathBuf>, LabError> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/real-backends");
    let Ok(sums) = fs::read_to_string(shared.join("SHA256SUMS")) else {
        return Ok(BTreeMap::new());
    };
    fs::create_dir_all(UNPACK_DIR).map_err(LabError::io("create the real backends' directory"))?;
    let mut found = BTreeMap::new();
    for line in sums.lines() {
        let Some((sum, name)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let name = name.trim().trim_start_matches('*');
        let Ok(backend) = name.parse::<Backend>() else {
            continue;
        };
        let target = Path::new(UNPACK_DIR).join(name);
        if sha256(&target)?.as_deref() != Some(sum) {
            let xz = shared.join(format!("{name}.xz"));
            let partial = target.with_extension("partial");
            let out =
                fs::File::create(&partial).map_err(LabError::io("create an unpacked backend"))?;
            let status = Command::new("xz")
                .arg("-dc")
                .arg(&xz)
                .stdout(out)
                .status()
                .map_err(LabError::io("run xz (install xz-utils)"))?;
            if !status.success() {
                return Err(LabError::Invalid {
                    what: xz.display().to_string(),
                    why: format!("xz -dc failed: {status}"),
                });
            }
            fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))
                .map_err(LabError::io("make an unpacked backend executable"))?;
            fs::rename(&partial, &target).map_err(LabError::io("install an unpacked backend"))?;
            if sha256(&target)?.as_deref() != Some(sum) {
                return Err(LabError::Invalid {
                    what: target.display().to_string(),
                    why: "its checksum differs from SHA256SUMS".into(),
                });
            }
        }
        found.insert(backend, target);
    }
    Ok(found)
}

/// The hex SHA-256 of a file, `None` when it does not exist.
fn sha256(path: &Path) -> Result<Option<String>, LabError> {
    if !path.is_file() {
        return Ok(None);
    }
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .map_err(LabError::io("run sha256sum"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let e = find("lgtm-agent-that-does-not-exist")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cargo build -p lgtm-tests"), "{e}");
        assert_eq!(package_of("lgtmctl"), "lgtmctl");
    }
}
