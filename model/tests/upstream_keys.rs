//! The committed key sets in `model/upstream/` are exactly what the parsers derive from the
//! upstream references, when those are present (`shared/reference/upstream/` beside the repo).

use std::path::{Path, PathBuf};

use lgtm_model::upstream::SOURCES;

fn reference_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../shared/reference/upstream"),
        PathBuf::from("/work/shared/reference/upstream"),
    ]
    .into_iter()
    .find(|d| d.join(SOURCES[0].file).is_file())
}

#[test]
fn committed_keys_match_the_references() {
    let Some(dir) = reference_dir() else {
        eprintln!(
            "skipping: no shared/reference/upstream beside the repository; the committed key sets are used as they are"
        );
        return;
    };
    for source in SOURCES {
        let path = dir.join(source.file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            panic!("{} is missing from {}", source.file, dir.display());
        };
        let keys = (source.derive)(&text).unwrap_or_else(|e| panic!("{}: {e}", source.name));
        assert!(
            source.data_file(&keys) == source.data,
            "model/upstream/{}.keys is stale against {}; regenerate it with \
             `cargo run -p lgtm-model --example derive-upstream-keys -- {}`",
            source.name,
            path.display(),
            dir.display()
        );
    }
}
