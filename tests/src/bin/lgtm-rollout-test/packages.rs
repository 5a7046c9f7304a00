//! The `.deb` files under test: the built ones in `target/packages`, and an upgrade candidate
//! made by re-packing the agent with a higher Debian revision (no compiling).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lgtm_tests::lab::process;

/// The one `NAME_*_*.deb` in `dir`.
pub fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let prefix = format!("{name}_");
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| {
            format!(
                "read {} (build the packages with packaging/build)",
                dir.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with(&prefix) && f.ends_with(".deb"))
        })
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        n => bail!(
            "{} holds {n} {name} .deb files; want exactly one (run packaging/build)",
            dir.display()
        ),
    }
}

/// The `Version` field of a package.
pub fn version(deb: &Path) -> Result<String> {
    let path = deb.to_string_lossy().into_owned();
    let out = process::run(&["dpkg-deb", "--field", &path, "Version"])?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `0.1.0-1` with revision 2: `0.1.0-2`.
fn with_revision(version: &str, revision: u32) -> String {
    let upstream = version.rsplit_once('-').map_or(version, |(u, _)| u);
    format!("{upstream}-{revision}")
}

/// Re-packs `deb` as the same contents with Debian revision `revision`, into `out_dir`.
pub fn repack(deb: &Path, revision: u32, work: &Path, out_dir: &Path) -> Result<PathBuf> {
    let tree = work.join("tree");
    let _ = fs::remove_dir_all(&tree);
    let (deb_s, tree_s) = (
        deb.to_string_lossy().into_owned(),
        tree.to_string_lossy().into_owned(),
    );
    process::run(&["dpkg-deb", "--raw-extract", &deb_s, &tree_s])?;
    let control_path = tree.join("DEBIAN/control");
    let control = fs::read_to_string(&control_path).context("read the control file")?;
    let old = version(deb)?;
    let new = with_revision(&old, revision);
    let control: String = control
        .lines()
        .map(|l| {
            if l.starts_with("Version:") {
                format!("Version: {new}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    fs::write(&control_path, control).context("write the control file")?;
    let name = deb
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default()
        .replace(&old, &new);
    let out = out_dir.join(name);
    let out_s = out.to_string_lossy().into_owned();
    process::run(&["dpkg-deb", "--root-owner-group", "--build", &tree_s, &out_s])?;
    fs::remove_dir_all(&tree).context("remove the re-pack tree")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_replaces_the_debian_revision_only() {
        assert_eq!(with_revision("0.1.0-1", 2), "0.1.0-2");
        assert_eq!(with_revision("1.2-3-1", 7), "1.2-3-7");
        assert_eq!(with_revision("0.1.0", 2), "0.1.0-2");
    }
}
