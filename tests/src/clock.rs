//! Wall-clock times as tests print them, to line up with journals and logs.

use std::time::{SystemTime, UNIX_EPOCH};

/// The time of day now, UTC, as `HH:MM:SS.mmm` (journals and the coordinator log use UTC).
pub fn utc_now() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let s = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        since_epoch.subsec_millis()
    )
}
