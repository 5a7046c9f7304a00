//! The API's request parsing: every request body type through the strict JSON extractor.
//! It must never panic; whatever it accepts must be well-formed values.
#![no_main]

use lgtm_coordinator::api::extract::parse_json;
use lgtm_model::wire::{AssignRequest, RegisterRequest, Report, SetSetting};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_json::<RegisterRequest>(data) {
        // A registered host name and data root are safe to put in paths and units.
        assert!(!r.host.as_str().contains(['/', '\n', '%']));
    }
    let _ = parse_json::<AssignRequest>(data);
    let _ = parse_json::<Report>(data);
    let _ = parse_json::<SetSetting>(data);
    if let Err(e) = parse_json::<AssignRequest>(data) {
        assert!(e.status.is_client_error());
        assert!(!e.message.is_empty());
    }
});
