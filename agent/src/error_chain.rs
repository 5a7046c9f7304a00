//! Errors flattened for reports and logs: "failed to X: cause: root cause".
//!
//! Error types keep their causes in `source()` (their `Display` never repeats them); the one
//! place that needs the whole story in one string calls [`chain`].

use std::error::Error;

/// `e` and every cause, joined with `": "`.
pub fn chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // Transparent wrappers repeat their inner message; say it once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to write /etc/x")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_causes() {
        let e = Outer(std::io::Error::other("disk full"));
        assert_eq!(chain(&e), "failed to write /etc/x: disk full");
    }
}
