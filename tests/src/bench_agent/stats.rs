//! Millisecond samples and their nearest-rank percentiles, pure.

/// Samples in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// Records one sample.
    pub fn push(&mut self, ms: f64) {
        self.0.push(ms);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (0 < p <= 100), nearest rank; `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    /// `p50=.. p99=.. max=.. n=..` for a detail line.
    pub fn summary(&self) -> String {
        let f = |p: f64| self.percentile(p).map_or("-".into(), |v| format!("{v:.1}"));
        format!(
            "p50={} p99={} max={} n={}",
            f(50.0),
            f(99.0),
            f(100.0),
            self.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s = Samples::default();
        assert_eq!(s.percentile(50.0), None);
        for ms in (1..=100).rev() {
            s.push(f64::from(ms));
        }
        assert_eq!(s.percentile(50.0), Some(50.0));
        assert_eq!(s.percentile(99.0), Some(99.0));
        assert_eq!(s.percentile(100.0), Some(100.0));
        assert_eq!(s.summary(), "p50=50.0 p99=99.0 max=100.0 n=100");
    }
}
