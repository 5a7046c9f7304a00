//! Regenerates `model/upstream/*.keys` from upstream's configuration references:
//! `cargo run -p lgtm-model --example derive-upstream-keys -- <shared/reference/upstream>`.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use lgtm_model::upstream::SOURCES;

fn main() -> Result<(), Box<dyn Error>> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        return Err("usage: derive-upstream-keys <dir with the upstream references, e.g. shared/reference/upstream>".into());
    };
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream");
    for source in SOURCES {
        let input = dir.join(source.file);
        let text = fs::read_to_string(&input)
            .map_err(|e| format!("failed to read {}: {e}", input.display()))?;
        let keys = (source.derive)(&text)?;
        let out = out_dir.join(format!("{}.keys", source.name));
        fs::write(&out, source.data_file(&keys))
            .map_err(|e| format!("failed to write {}: {e}", out.display()))?;
        println!("{}: {} keys -> {}", source.name, keys.len(), out.display());
    }
    Ok(())
}
