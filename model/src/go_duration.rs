//! Go's duration text (`5m0s`, `100ms`, `1.5s`), as the backends' configs write durations.

/// Seconds of a Go duration, or `None` when `text` is not one. Signs are not taken: no
/// backend setting lgtm reads is negative.
pub fn seconds(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // Longest first: `ms` before `m`, `ns` before `s`.
        let (unit, scale) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += number * scale;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_read_as_seconds() {
        for (text, want) in [
            ("0s", Some(0.0)),
            ("5m0s", Some(300.0)),
            ("1h0m0s", Some(3600.0)),
            ("100ms", Some(0.1)),
            ("1.5s", Some(1.5)),
            ("1m30s", Some(90.0)),
            ("", None),
            ("info", None),
            ("5", None),
            ("s", None),
            ("10x", None),
            ("local", None),
            ("1..2s", None),
            ("-5s", None),
        ] {
            assert_eq!(seconds(text), want, "{text:?}");
        }
    }
}
