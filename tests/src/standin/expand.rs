//! `-config.expand-env`: environment references in the config text, as each backend expands
//! them. Mimir (Go `os.Expand` plus its own default syntax): `$VAR`, `${VAR}`, `${VAR:default}`.
//! Loki and Tempo (drone/envsubst): `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`.

use lgtm_model::Backend;

/// Expands references in `text`, looking variables up with `env`.
pub fn expand(backend: Backend, text: &str, env: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(end) => {
                    out.push_str(&braced(backend, &body[..end], &env));
                    rest = &body[end + 1..];
                }
                None => {
                    // Unterminated: left as written.
                    out.push_str(&rest[at..]);
                    rest = "";
                }
            }
        } else if backend != Backend::Mimir && after.starts_with('$') {
            out.push('$');
            rest = &after[1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&env(&after[..len]).unwrap_or_default());
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

fn braced(backend: Backend, body: &str, env: &impl Fn(&str) -> Option<String>) -> String {
    let (name, default) = match backend {
        Backend::Mimir => match body.split_once(':') {
            Some((n, d)) => (n, Some((d, true))),
            None => (body, None),
        },
        _ => {
            if let Some((n, d)) = body.split_once(":-") {
                (n, Some((d, true)))
            } else if let Some((n, d)) = body.split_once('-') {
                (n, Some((d, false)))
            } else {
                (body, None)
            }
        }
    };
    match (env(name), default) {
        // `:-` and Mimir's `:` also replace an empty value; `-` only an unset one.
        (Some(v), Some((d, true))) if v.is_empty() => d.to_owned(),
        (Some(v), _) => v,
        (None, Some((d, _))) => d.to_owned(),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sekrit".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn mimir_forms() {
        let m = |t| expand(Backend::Mimir, t, env);
        assert_eq!(m("a: ${KEY}"), "a: sekrit");
        assert_eq!(m("a: $KEY/x"), "a: sekrit/x");
        assert_eq!(m("a: ${NOPE:fallback}"), "a: fallback");
        assert_eq!(m("a: ${EMPTY:fallback}"), "a: fallback");
        assert_eq!(m("a: ${NOPE}"), "a: ");
        assert_eq!(m("cost: 5$"), "cost: 5$");
        assert_eq!(m("a: ${open"), "a: ${open");
    }

    #[test]
    fn loki_and_tempo_forms() {
        for b in [Backend::Loki, Backend::Tempo] {
            let e = |t| expand(b, t, env);
            assert_eq!(e("${KEY}"), "sekrit");
            assert_eq!(e("${NOPE:-d}"), "d");
            assert_eq!(e("${EMPTY:-d}"), "d");
            assert_eq!(e("${EMPTY-d}"), "");
            assert_eq!(e("${NOPE-d}"), "d");
            assert_eq!(e("$$KEY"), "$KEY");
        }
    }
}
