//! Index bookkeeping: a host's desired index moves only when its rendered content changes.
//!
//! Agents compare indexes, not content, so an index that moved for identical content would
//! make them re-apply for nothing, and one that stayed for changed content would strand them.
//! A render error is not content: the host keeps its last good index until it renders again.

use std::collections::BTreeMap;

use lgtm_model::HostName;

use super::intent::Rendered;
use crate::digest::Digest;
use crate::store::Mark;

/// The marks after a change at `index`: every current host's mark, and those that moved.
pub fn advance(
    prev: &BTreeMap<HostName, Mark>,
    rendered: &BTreeMap<HostName, Rendered>,
    index: u64,
) -> (BTreeMap<HostName, Mark>, Vec<(HostName, Mark)>) {
    let mut all = BTreeMap::new();
    let mut moved = Vec::new();
    for (host, content) in rendered {
        let digest = content.as_ref().ok().map(|p| Digest::of(p));
        let next = match (prev.get(host), digest) {
            (None, digest) => Some(Mark { index, digest }),
            (Some(old), Some(d)) if old.digest != Some(d) => Some(Mark {
                index,
                digest: Some(d),
            }),
            (Some(_), _) => None,
        };
        let mark = match next {
            Some(m) => {
                moved.push((host.clone(), m));
                m
            }
            None => prev[host],
        };
        all.insert(host.clone(), mark);
    }
    (all, moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lgtm_model::render::RenderError;
    use lgtm_model::wire::DesiredProcess;
    use std::sync::Arc;

    fn h(s: &str) -> HostName {
        s.parse().unwrap()
    }

    fn content(tag: &str) -> Rendered {
        let role: lgtm_model::Role = "mimir:all".parse().unwrap();
        let id = lgtm_model::process::ProcessId::for_role(role);
        Ok(Arc::new(vec![DesiredProcess {
            id,
            roles: vec![role],
            ports: id.ports(),
            config: tag.into(),
            data_dir: "/d".into(),
        }]))
    }

    fn error() -> Rendered {
        Err(RenderError::NotRegistered(h("x")))
    }

    fn mark(index: u64, r: &Rendered) -> Mark {
        Mark {
            index,
            digest: r.as_ref().ok().map(|p| Digest::of(p)),
        }
    }

    #[test]
    fn marks_move_only_with_content() {
        let (a, b) = (content("a"), content("b"));
        let prev: BTreeMap<HostName, Mark> = [
            (h("same"), mark(3, &a)),
            (h("changed"), mark(3, &a)),
            (h("broken"), mark(3, &a)),
            (h("healed"), mark(2, &error())),
            (h("gone"), mark(1, &a)),
        ]
        .into();
        let rendered: BTreeMap<HostName, Rendered> = [
            (h("same"), a.clone()),
            (h("changed"), b.clone()),
            (h("broken"), error()),
            (h("healed"), a.clone()),
            (h("new"), error()),
        ]
        .into();
        let (all, moved) = advance(&prev, &rendered, 9);
        let want_all: BTreeMap<HostName, Mark> = [
            (h("same"), mark(3, &a)),
            (h("changed"), mark(9, &b)),
            (h("broken"), mark(3, &a)),
            (h("healed"), mark(9, &a)),
            (h("new"), mark(9, &error())),
        ]
        .into();
        assert_eq!(all, want_all);
        let moved: Vec<_> = moved.into_iter().map(|(h, _)| h.to_string()).collect();
        assert_eq!(moved, ["changed", "healed", "new"]);
    }
}
