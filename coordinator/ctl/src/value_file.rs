//! `config set KEY --from-file PATH`: a setting's value read from a file, the way to give
//! multi-line values (overlays) that do not fit a command-line argument.

use std::path::Path;

use crate::error::CtlError;

/// Largest file read, well above any setting the coordinator accepts.
const MAX_BYTES: u64 = 256 * 1024;

/// Reads the value for `key` from `path`. For single-line settings one trailing line end is
/// dropped (`echo value > file`); overlays keep their text as written.
pub fn read_file(key: &str, path: &Path) -> Result<String, CtlError> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|cause| CtlError::Io {
        what: "read the value file",
        cause,
    })?;
    if meta.len() > MAX_BYTES {
        return Err(CtlError::Usage(format!(
            "{shown} is larger than {MAX_BYTES} bytes; no setting takes that much"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|cause| CtlError::Io {
        what: "read the value file",
        cause,
    })?;
    if text.trim().is_empty() {
        return Err(CtlError::Usage(format!(
            "{shown} is empty; to clear {key}, run `lgtmctl config set {key} ''`"
        )));
    }
    if key.ends_with(".overrides") {
        return Ok(text);
    }
    let one = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    Ok(one.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_keep_their_text_single_lines_lose_the_line_end() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("v");
        std::fs::write(&f, "a:\n  b: 1\n").unwrap();
        assert_eq!(read_file("mimir.overrides", &f).unwrap(), "a:\n  b: 1\n");
        std::fs::write(&f, "debug\n").unwrap();
        assert_eq!(read_file("mimir.log_level", &f).unwrap(), "debug");
        std::fs::write(&f, "\n").unwrap();
        let e = read_file("mimir.overrides", &f).unwrap_err().to_string();
        assert!(
            e.contains("is empty") && e.contains("config set mimir.overrides ''"),
            "{e}"
        );
        let e = read_file("x", &dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("failed to read the value file"), "{e}");
    }
}
