//! The last accepted desired state, kept on disk so the host runs without the coordinator.
//!
//! A state is saved (atomically, 0600: configs inside hold secrets) before it is acted on.
//! An older index is refused, and so is the same index with different content: the
//! coordinator promises identical content for an index, so a mismatch means something is
//! wrong and acting on it could tear down a healthy host.

use lgtm_model::wire::DesiredState;

use crate::desired::{Content, FileSpec};
use crate::fs::{Fs, FsError};
use crate::safe_path::SafePath;

/// What to do with a desired state offered to the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Newer than what we have: save and apply.
    Newer,
    /// Identical to what we have: nothing to do.
    Same,
}

/// Why a desired state was refused or could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "refused desired state index {got}: older than the applied index {current}; if the coordinator's state was reset, remove {path} on this host"
    )]
    Older {
        got: u64,
        current: u64,
        path: SafePath,
    },
    #[error(
        "refused desired state index {index}: same index as the applied one but different content; the coordinator must bump the index on every change"
    )]
    Conflict { index: u64 },
    #[error("failed to save the desired state")]
    Save(#[source] FsError),
    #[error("failed to read the saved desired state {path}: {message}")]
    Load { path: SafePath, message: String },
}

/// Judges `new` against the current state.
pub fn judge(
    current: Option<&DesiredState>,
    new: &DesiredState,
    path: &SafePath,
) -> Result<Verdict, LedgerError> {
    let Some(cur) = current else {
        return Ok(Verdict::Newer);
    };
    if new.index < cur.index {
        return Err(LedgerError::Older {
            got: new.index,
            current: cur.index,
            path: path.clone(),
        });
    }
    if new.index == cur.index {
        return if new == cur {
            Ok(Verdict::Same)
        } else {
            Err(LedgerError::Conflict { index: new.index })
        };
    }
    Ok(Verdict::Newer)
}

/// The saved desired state.
#[derive(Debug)]
pub struct Ledger {
    path: SafePath,
    current: Option<DesiredState>,
}

impl Ledger {
    /// Reads the ledger at `path`; a missing file is an empty ledger.
    pub fn load(path: SafePath, fs: &impl Fs) -> Result<Ledger, LedgerError> {
        let load_error = |message: String| LedgerError::Load {
            path: path.clone(),
            message,
        };
        let current = match fs
            .read_file(&path)
            .map_err(|e| load_error(crate::error_chain::chain(&e)))?
        {
            None => None,
            Some(file) => Some(
                serde_json::from_slice(&file.content.0).map_err(|e| load_error(e.to_string()))?,
            ),
        };
        Ok(Ledger { path, current })
    }

    /// A ledger with nothing in it, saving to `path`.
    pub fn empty(path: SafePath) -> Ledger {
        Ledger {
            path,
            current: None,
        }
    }

    /// The current state.
    pub fn current(&self) -> Option<&DesiredState> {
        self.current.as_ref()
    }

    /// Index of the current state (0: none).
    pub fn index(&self) -> u64 {
        self.current.as_ref().map_or(0, |s| s.index)
    }

    /// Saves `new` if it is newer; `Ok(true)` if it replaced the current state.
    pub fn accept(&mut self, new: DesiredState, fs: &impl Fs) -> Result<bool, LedgerError> {
        match judge(self.current.as_ref(), &new, &self.path)? {
            Verdict::Same => Ok(false),
            Verdict::Newer => {
                let json =
                    serde_json::to_vec_pretty(&new).expect("a desired state always serializes");
                let spec = FileSpec {
                    path: self.path.clone(),
                    content: Content(json),
                    mode: 0o600,
                    group: None,
                };
                fs.write_file(&spec).map_err(LedgerError::Save)?;
                self.current = Some(new);
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeHost;
    use crate::unit::tests::process;

    fn state(index: u64, data_dir: &str) -> DesiredState {
        DesiredState {
            host: "h1".parse().unwrap(),
            index,
            processes: vec![process(&["mimir:all"], data_dir)],
            gateway: None,
        }
    }

    #[test]
    fn index_rules() {
        let fs = FakeHost::default();
        let path = SafePath::parse("/var/lib/lgtm-agent/desired.json").unwrap();
        let mut ledger = Ledger::load(path.clone(), &fs).unwrap();
        assert_eq!(ledger.index(), 0);
        assert!(ledger.accept(state(5, "/var/lib/lgtm/mimir"), &fs).unwrap());
        assert!(
            !ledger.accept(state(5, "/var/lib/lgtm/mimir"), &fs).unwrap(),
            "same"
        );
        let e = ledger
            .accept(state(4, "/var/lib/lgtm/mimir"), &fs)
            .unwrap_err();
        assert!(
            e.to_string().contains("older than the applied index 5"),
            "{e}"
        );
        let e = ledger
            .accept(state(5, "/var/lib/lgtm/other"), &fs)
            .unwrap_err();
        assert!(matches!(e, LedgerError::Conflict { index: 5 }), "{e}");
        assert!(ledger.accept(state(9, "/var/lib/lgtm/other"), &fs).unwrap());
        // What is on disk is what a restarted agent starts from.
        let again = Ledger::load(path.clone(), &fs).unwrap();
        assert_eq!(again.current(), ledger.current());
        assert_eq!(again.index(), 9);
        let saved = fs.state().files.get(&path).cloned().unwrap();
        assert_eq!(saved.mode, 0o600, "configs inside hold secrets");
    }

    #[test]
    fn a_failed_save_keeps_the_old_state() {
        let fs = FakeHost::default();
        let path = SafePath::parse("/var/lib/lgtm-agent/desired.json").unwrap();
        let mut ledger = Ledger::load(path.clone(), &fs).unwrap();
        ledger.accept(state(1, "/var/lib/lgtm/mimir"), &fs).unwrap();
        fs.state().fail.insert(format!("write {path}"));
        assert!(matches!(
            ledger.accept(state(2, "/var/lib/lgtm/mimir"), &fs),
            Err(LedgerError::Save(_))
        ));
        assert_eq!(ledger.index(), 1);
    }

    #[test]
    fn corrupt_ledger_is_an_error() {
        let fs = FakeHost::default();
        let path = SafePath::parse("/var/lib/lgtm-agent/desired.json").unwrap();
        fs.state().files.insert(
            path.clone(),
            crate::observed::FileState {
                content: "{not json".into(),
                mode: 0o600,
                group: None,
            },
        );
        let e = Ledger::load(path, &fs).unwrap_err().to_string();
        assert!(e.contains("desired.json"), "{e}");
    }
}
