//! Metrics in the Prometheus text exposition format (version 0.0.4): requests by route and
//! status, a latency histogram per route, and the engine's counters (rows, deletions,
//! releases, pending requests, budget used — operator-only, like the endpoint).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use unlearn::deletions::Status;

/// Upper bounds of the latency histogram's buckets, in seconds (`+Inf` is implicit): from
/// well under one store write to past any client's patience.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative counts are formed when written; here each bucket counts its own range.
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Counts {
    /// (method, route, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latencies.
    latency: BTreeMap<String, Histogram>,
}

/// The service's request metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    /// Records one answered request; `route` is the route's template (`/v1/deletions/{ref}`),
    /// never the path itself, so that no reference or id reaches the metrics.
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts
            .requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let histogram = counts.latency.entry(route.to_string()).or_default();
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| seconds <= b) {
            histogram.buckets[i] += 1;
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// The exposition text: the request metrics, then the engine's `status`.
    pub fn render(&self, status: &Status) -> String {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        out.push_str(
            "# HELP unlearn_http_requests_total HTTP requests answered, by method, route and status.\n\
             # TYPE unlearn_http_requests_total counter\n",
        );
        for ((method, route, status), n) in &counts.requests {
            let _ = writeln!(
                out,
                "unlearn_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP unlearn_http_request_duration_seconds Time from a request's arrival to its response, by route.\n\
             # TYPE unlearn_http_request_duration_seconds histogram\n",
        );
        for (route, h) in &counts.latency {
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "unlearn_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "unlearn_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 unlearn_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 unlearn_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let gauges: [(&str, &str, f64); 5] = [
            ("unlearn_rows", "Training rows left.", status.rows as f64),
            (
                "unlearn_deletions",
                "Removal steps in the ledger.",
                status.deletions as f64,
            ),
            (
                "unlearn_releases",
                "Releases of the model made (training is release 1).",
                status.releases as f64,
            ),
            (
                "unlearn_pending_requests",
                "Deletions served since the latest release, waiting for the next.",
                status.pending as f64,
            ),
            (
                "unlearn_budget_used",
                "Privacy budget used, in the certificate's budget unit (operator-only).",
                status.budget_used,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        if let Some(budget) = status.budget {
            let _ = writeln!(
                out,
                "# HELP unlearn_budget The lifetime privacy budget.\n# TYPE unlearn_budget gauge\nunlearn_budget {budget}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_counts_by_status() {
        let metrics = Metrics::default();
        metrics.record("POST", "/v1/deletions", 200, Duration::from_millis(3));
        metrics.record("POST", "/v1/deletions", 200, Duration::from_millis(30));
        metrics.record("POST", "/v1/deletions", 404, Duration::from_secs(60));
        let status = Status {
            rows: 10,
            deletions: 2,
            releases: 3,
            pending: 0,
            budget_used: 0.25,
            budget: Some(1.0),
            stopped: None,
        };
        let text = metrics.render(&status);
        for line in [
            "unlearn_http_requests_total{method=\"POST\",route=\"/v1/deletions\",status=\"200\"} 2",
            "unlearn_http_requests_total{method=\"POST\",route=\"/v1/deletions\",status=\"404\"} 1",
            // 3 ms falls in (2.5 ms, 5 ms]; 30 ms in (25 ms, 50 ms]; 60 s only under +Inf.
            "unlearn_http_request_duration_seconds_bucket{route=\"/v1/deletions\",le=\"0.0025\"} 0",
            "unlearn_http_request_duration_seconds_bucket{route=\"/v1/deletions\",le=\"0.005\"} 1",
            "unlearn_http_request_duration_seconds_bucket{route=\"/v1/deletions\",le=\"0.05\"} 2",
            "unlearn_http_request_duration_seconds_bucket{route=\"/v1/deletions\",le=\"10\"} 2",
            "unlearn_http_request_duration_seconds_bucket{route=\"/v1/deletions\",le=\"+Inf\"} 3",
            "unlearn_http_request_duration_seconds_count{route=\"/v1/deletions\"} 3",
            "unlearn_budget_used 0.25",
            "unlearn_releases 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
