//! Prometheus metrics of the coordinator, rendered as text on `GET /metrics`.
//!
//! Counters are atomics or a small map; nothing here allocates per request beyond the route
//! label, whose values are the router's path templates (bounded).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::cluster::View;

/// The coordinator's counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    assignments: AtomicU64,
    unassignments: AtomicU64,
    reports: AtomicU64,
    longpolls: Arc<AtomicU64>,
}

/// Counts one waiting long-poll for as long as it lives, even if the client goes away.
#[derive(Debug)]
pub struct Waiting(Arc<AtomicU64>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, route: &str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry((route.to_owned(), status)).or_default() += 1;
    }

    /// Counts an accepted new assignment.
    pub fn assigned(&self) {
        self.assignments.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an accepted unassignment.
    pub fn unassigned(&self) {
        self.unassignments.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an accepted agent report.
    pub fn reported(&self) {
        self.reports.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks one long-poll as waiting until the guard drops.
    pub fn waiting(&self) -> Waiting {
        self.longpolls.fetch_add(1, Ordering::Relaxed);
        Waiting(self.longpolls.clone())
    }

    /// Long-polls waiting right now.
    pub fn waiting_now(&self) -> u64 {
        self.longpolls.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self, view: &View) -> String {
        let mut out = String::new();
        let registered = view.hosts.values().filter(|h| h.address.is_some()).count();
        let broken = view.hosts.values().filter(|h| h.rendered.is_err()).count();
        let gauges = [
            ("index", "Current cluster index.", view.index),
            (
                "hosts",
                "Hosts known to the coordinator.",
                view.hosts.len() as u64,
            ),
            (
                "hosts_registered",
                "Hosts whose agent registered.",
                registered as u64,
            ),
            (
                "hosts_render_errors",
                "Hosts whose desired state cannot be rendered.",
                broken as u64,
            ),
            (
                "longpolls_waiting",
                "Desired-state long-polls waiting.",
                self.waiting_now(),
            ),
        ];
        for (name, help, value) in gauges {
            metric(&mut out, name, "gauge", help, &[(String::new(), value)]);
        }
        let counters = [
            ("assignments_total", "Roles assigned.", &self.assignments),
            (
                "unassignments_total",
                "Roles unassigned.",
                &self.unassignments,
            ),
            ("reports_total", "Agent reports accepted.", &self.reports),
        ];
        for (name, help, value) in counters {
            let value = value.load(Ordering::Relaxed);
            metric(&mut out, name, "counter", help, &[(String::new(), value)]);
        }
        let requests: Vec<(String, u64)> = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((route, status), n)| {
                (
                    format!("{{route=\"{}\",status=\"{status}\"}}", escape(route)),
                    *n,
                )
            })
            .collect();
        metric(
            &mut out,
            "requests_total",
            "counter",
            "HTTP requests answered.",
            &requests,
        );
        out
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let name = format!("lgtm_coordinator_{name}");
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Label values escape backslash, quote and newline (Prometheus text format).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.request("/v1/hosts/{host}", 200);
        m.request("/v1/hosts/{host}", 200);
        m.request("unmatched", 404);
        m.assigned();
        let w = m.waiting();
        let text = m.render(&View {
            index: 7,
            ..View::default()
        });
        for line in [
            "lgtm_coordinator_index 7",
            "lgtm_coordinator_hosts 0",
            "lgtm_coordinator_longpolls_waiting 1",
            "lgtm_coordinator_assignments_total 1",
            "lgtm_coordinator_requests_total{route=\"/v1/hosts/{host}\",status=\"200\"} 2",
            "lgtm_coordinator_requests_total{route=\"unmatched\",status=\"404\"} 1",
            "# TYPE lgtm_coordinator_requests_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        drop(w);
        assert_eq!(m.waiting_now(), 0);
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
