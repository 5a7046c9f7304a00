//! Host name, backend and role parsers: no panics, and what parses prints back to text that
//! parses to the same value, holding nothing a path, unit file or config could misread.
#![no_main]

use lgtm_model::{Backend, HostName, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = s.parse::<HostName>() {
        let shown = h.to_string();
        assert_eq!(shown.parse::<HostName>().ok(), Some(h));
        assert!(
            shown
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        );
        assert!(!shown.contains(".."));
    }
    if let Ok(r) = s.parse::<Role>() {
        let shown = r.to_string();
        assert_eq!(shown.parse::<Role>().ok(), Some(r));
        assert!(
            shown
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
        );
    }
    if let Ok(b) = s.parse::<Backend>() {
        assert_eq!(b.to_string().parse::<Backend>().ok(), Some(b));
    }
});
