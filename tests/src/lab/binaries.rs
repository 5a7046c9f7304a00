//! Where the lab finds the project's binaries: next to the running test executable.
//!
//! `cargo test` puts test executables in `target/<profile>/deps/` and binaries in
//! `target/<profile>/`, so both that directory and the executable's own are searched.

use std::env;
use std::path::{Path, PathBuf};

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

/// The directory of real backend binaries named by `LGTM_BACKEND_BIN_DIR`, if set.
pub fn real_backend_dir() -> Result<Option<PathBuf>, LabError> {
    let Some(dir) = env::var_os(BACKEND_BIN_DIR_ENV).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    let dir = PathBuf::from(dir);
    for name in ["mimir", "loki", "tempo"] {
        if !dir.join(name).is_file() {
            return Err(LabError::MissingBinary {
                name: name.to_owned(),
                path: dir.join(name),
                hint: format!("install it there or unset {BACKEND_BIN_DIR_ENV}"),
            });
        }
    }
    Ok(Some(dir))
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
