//! Index bookkeeping: a host's desired index moves only when its rendered content changes.
//!
//! Agents compare indexes, not content, so an index that moved for identical content would
//! make them re-apply for nothing, and one that stayed for changed content would strand them.
//! A render error is not content: the host keeps its last good index until it renders again.

use std::collections::BTreeMap;
use std::sync::Arc;

use lgtm_model::HostName;

use super::intent::Rendered;
use crate::digest::Digest;
use crate::store::Mark;

/// The marks after a change at `index`: every current host's mark, and those that moved.
///
/// `prev_rendered` is what `prev` was computed from: a host whose rendering is still the
/// very same (shared, not re-rendered) keeps its mark without hashing its content again,
/// which keeps a change's cost proportional to the hosts it re-rendered.
pub fn advance(
    prev: &BTreeMap<HostName, Mark>,
    prev_rendered: &BTreeMap<HostName, Rendered>,
    rendered: &BTreeMap<HostName, Rendered>,
    index: u64,
) -> (BTreeMap<HostName, Mark>, Vec<(HostName, Mark)>) {
    let mut all = BTreeMap::new();
    let mut moved = Vec::new();
    for (host, content) in rendered {
        if let (Some(Ok(old)), Ok(new), Some(mark)) =
            (prev_rendered.get(host), content, prev.get(host))
            && Arc::ptr_eq(old, new)
        {
            all.insert(host.clone(), *mark);
            continue;
        }
        let digest = content.as_ref().ok().map(|c| Digest::of_content(c));
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

    fn h(s: &str) -> HostName {
        s.parse().unwrap()
    }

    fn content(tag: &str) -> Rendered {
        let role: lgtm_model::Role = "mimir:all".parse().unwrap();
        let id = lgtm_model::process::ProcessId::for_role(role);
        Ok(Arc::new(super::super::HostContent {
            processes: vec![DesiredProcess {
                id,
                roles: vec![role],
                ports: id.ports(),
                config: tag.into(),
                data_dir: "/d".into(),
            }],
            gateway: None,
        }))
    }

    fn error() -> Rendered {
        Err(RenderError::NotRegistered(h("x")))
    }

    fn mark(index: u64, r: &Rendered) -> Mark {
        Mark {
            index,
            digest: r.as_ref().ok().map(|c| Digest::of_content(c)),
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
        let (all, moved) = advance(&prev, &BTreeMap::new(), &rendered, 9);
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

    #[test]
    fn a_shared_rendering_keeps_its_mark_unhashed() {
        let a = content("a");
        // A stale digest proves the shared rendering was not hashed again.
        let prev: BTreeMap<HostName, Mark> = [(h("h1"), mark(3, &content("x")))].into();
        let before: BTreeMap<HostName, Rendered> = [(h("h1"), a.clone())].into();
        let (all, moved) = advance(&prev, &before, &before.clone(), 9);
        assert_eq!(all[&h("h1")], prev[&h("h1")]);
        assert!(moved.is_empty());
        // The same content rendered anew is hashed and compared.
        let again: BTreeMap<HostName, Rendered> = [(h("h1"), content("a"))].into();
        let (all, moved) = advance(&prev, &before, &again, 9);
        assert_eq!(all[&h("h1")], mark(9, &a));
        assert_eq!(moved.len(), 1);
    }
}
