//! Exponential backoff with jitter for reconnecting to the coordinator.
//!
//! Each delay is drawn from [d/2, d] ("equal jitter") and d doubles up to a cap, so a fleet
//! of agents that lost the coordinator together does not come back in lockstep.

use std::time::Duration;

use rand::Rng;

/// Delays between attempts.
#[derive(Clone, Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min`, doubles to at most `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The delay before the next attempt.
    pub fn delay(&mut self, rng: &mut impl Rng) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = d / 2;
        let jitter = rng.random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }

    /// After a success: start over from the minimum.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn grows_with_jitter_and_resets() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut bounds = Vec::new();
        for _ in 0..10 {
            let upper = b.next;
            let d = b.delay(&mut rng);
            assert!(
                d >= upper / 2 && d <= upper,
                "{d:?} outside [{:?}, {upper:?}]",
                upper / 2
            );
            bounds.push(upper);
        }
        assert_eq!(bounds[0], Duration::from_millis(500));
        assert_eq!(bounds[3], Duration::from_secs(4));
        assert_eq!(bounds[9], Duration::from_secs(30), "capped");
        b.reset();
        assert!(b.delay(&mut rng) <= Duration::from_millis(500));
    }
}
