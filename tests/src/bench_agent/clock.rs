//! One clock for every timestamp: CLOCK_MONOTONIC in microseconds.
//!
//! Lab hosts have their own PID, mount and network namespaces but no time namespace, so this
//! process, systemd's `*TimestampMonotonic` unit properties and journald's
//! `__MONOTONIC_TIMESTAMP` inside every host all read the same clock.

use nix::time::{ClockId, clock_gettime};

/// Now, in microseconds of CLOCK_MONOTONIC.
pub fn now_us() -> u64 {
    // CLOCK_MONOTONIC cannot fail on Linux; 0 would only make one sample absurd, visibly.
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000
            + u64::try_from(t.tv_nsec()).unwrap_or(0) / 1000
    })
}

/// `later - earlier` in milliseconds (negative when `later` is earlier).
pub fn ms_between(earlier: u64, later: u64) -> f64 {
    (later as f64 - earlier as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_in_microseconds() {
        let a = now_us();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = now_us();
        assert!(b > a && ms_between(a, b) >= 20.0, "{a} {b}");
        assert_eq!(ms_between(2000, 1000), -1.0);
    }
}
