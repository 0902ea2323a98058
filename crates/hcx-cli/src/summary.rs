//! The load summary: one structure, written as aligned text with a one-line
//! explanation of each figure, or as JSON (`--json`; the fields are documented in
//! the crate docs).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use hcx::{Client, CloseCounts, CloseReason, IdleBounds, LeaseWaits, ManagerStats, PoolStats};
use serde::Serialize;

use crate::counters::Counts;
use crate::load::{Outcome, Plan};
use crate::units;

/// Everything `hcx load` reports. The JSON object of `--json` is this structure.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    /// The URL requested.
    pub url: String,
    /// The method.
    pub method: String,
    /// Threads sending.
    pub concurrency: usize,
    /// `-n`, or the default when neither `-n` nor `--duration` was given.
    pub requests_planned: Option<u64>,
    /// `--duration`, in seconds.
    pub duration_planned_s: Option<f64>,
    /// `--rate`, requests per second.
    pub rate_limit_per_s: Option<f64>,
    /// Requests finished: answered plus failed.
    pub requests: u64,
    /// Requests answered (any status), their body read to its end.
    pub responses: u64,
    /// Requests failed.
    pub errors: u64,
    /// Wall time of the run, in seconds.
    pub elapsed_s: f64,
    /// Stopped by Ctrl-C before its end: the figures cover the requests finished by
    /// then.
    pub interrupted: bool,
    /// `requests / elapsed_s`.
    pub requests_per_s: f64,
    /// Body bytes received.
    pub bytes_received: u64,
    /// Latency of the answered requests.
    pub latency_us: Latency,
    /// How evenly the threads were served.
    pub per_thread: PerThread,
    /// Answered requests by status code.
    pub status_codes: BTreeMap<String, u64>,
    /// Failed requests by error kind (`ErrorKind::as_str`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first error of each kind, with its causes.
    pub error_examples: BTreeMap<String, String>,
    /// Connections the pool opened.
    pub connections_opened: u64,
    /// Connection slots leased: one per attempt (retries and redirect hops lease again).
    pub leases: u64,
    /// Leases served by a pooled connection (no connect).
    pub reused_exchanges: u64,
    /// Pooled connections the stale probe found closed and discarded before a lease.
    pub stale_closed: u64,
    /// Pooled connections closed before a lease for being idler than the route's
    /// learned idle limit.
    pub idle_limit_closed: u64,
    /// Changes of a route's learned idle limit.
    pub idle_limit_changes: u64,
    /// Attempts the RETRY layer sent again.
    pub retries: u64,
    /// Redirects followed.
    pub redirects: u64,
    /// Connections closed, by `CloseReason::name` (`custom:<text>` for custom reasons).
    pub closes: BTreeMap<String, u64>,
    /// Leases that queued for a slot.
    pub pool_waits: PoolWaits,
    /// The pool when the run ended.
    pub pool: PoolCounts,
    /// Each route the pool knows, when the run ended.
    pub routes: Vec<RouteCounts>,
}

/// Latency percentiles in microseconds, from the send (with `--rate`, from when a
/// request that fell behind its schedule was due) to the body's end; `null` when no
/// request was answered.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// The fastest.
    pub min: Option<u64>,
    /// The mean.
    pub mean: Option<f64>,
    /// Half took at most this.
    pub p50: Option<u64>,
    /// 90 % took at most this.
    pub p90: Option<u64>,
    /// 99 % took at most this.
    pub p99: Option<u64>,
    /// 99.9 % took at most this.
    pub p99_9: Option<u64>,
    /// The slowest.
    pub max: Option<u64>,
}

/// Requests finished per thread.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PerThread {
    /// The fewest any thread finished.
    pub min: u64,
    /// The most any thread finished.
    pub max: u64,
}

/// Leases that could not be served at once and queued for a slot.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolWaits {
    /// How many.
    pub count: u64,
    /// Their waits added up, in microseconds.
    pub total_us: u64,
    /// The mean wait, in microseconds.
    pub mean_us: Option<u64>,
    /// The longest wait, in microseconds.
    pub longest_us: Option<u64>,
    /// The histogram of `ManagerStats::lease_waits`: a bucket per decade.
    pub buckets: Vec<WaitBucket>,
}

/// One bucket of lease waits.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WaitBucket {
    /// Its upper bound, exclusive, in microseconds (`null` for the last, unbounded one).
    pub below_us: Option<u64>,
    /// Waits in it.
    pub count: u64,
}

/// A pool's or a route's counts (`PoolStats`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PoolCounts {
    /// Connections lent out.
    pub leased: usize,
    /// Requests waiting for a slot.
    pub pending: usize,
    /// Idle connections.
    pub available: usize,
    /// The limit.
    pub max: usize,
}

/// One route's counts.
#[derive(Debug, Clone, Serialize)]
pub struct RouteCounts {
    /// The route (`http://host:port`, `via proxy`, `(tls: name)`).
    pub route: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: PoolCounts,
    /// What the learned idle limits learned of it; `null` before any reuse of a
    /// connection idle at least the settings' minimum (or with learning off).
    pub idle_limit: Option<IdleLimit>,
}

/// A route's learned idle limit and what taught it (`hcx::IdleBounds`), in
/// microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IdleLimit {
    /// Connections idle longer are not reused; `null`: no limit (none died idle).
    pub limit_us: Option<u64>,
    /// The longest idle time a reused connection survived.
    pub survived_us: u64,
    /// The shortest idle time after which a reused connection was found dead.
    pub died_us: Option<u64>,
    /// The bounds as learned, for the text (their own `Display`, as `hcx demo` and
    /// `hcx get -v` show them).
    #[serde(skip)]
    bounds: IdleBounds,
}

impl From<IdleBounds> for IdleLimit {
    fn from(b: IdleBounds) -> Self {
        IdleLimit {
            limit_us: b.limit.map(micros),
            survived_us: micros(b.survived),
            died_us: b.died.map(micros),
            bounds: b,
        }
    }
}

impl IdleLimit {
    /// `learned idle: limit 4.5s (survived 3s, died at 9s)`: `IdleBounds`' own text.
    fn text(&self) -> String {
        format!("learned idle: {}", self.bounds)
    }
}

impl From<PoolStats> for PoolCounts {
    fn from(s: PoolStats) -> Self {
        PoolCounts {
            leased: s.leased,
            pending: s.pending,
            available: s.available,
            max: s.max,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Closes by reason, keyed by `CloseReason::name` (custom reasons by their text).
pub fn close_map(closes: &CloseCounts) -> BTreeMap<String, u64> {
    closes
        .iter()
        .map(|(reason, n)| (close_key(reason), n))
        .collect()
}

fn close_key(reason: CloseReason) -> String {
    match reason {
        CloseReason::Custom(text) => format!("custom:{text}"),
        other => other.name().to_string(),
    }
}

impl PoolWaits {
    /// From the manager's histogram.
    pub fn new(waits: &LeaseWaits) -> Self {
        PoolWaits {
            count: waits.count(),
            total_us: micros(waits.total()),
            mean_us: waits.mean().map(micros),
            longest_us: waits.longest().map(micros),
            buckets: waits
                .buckets()
                .map(|(bound, count)| WaitBucket {
                    below_us: bound.map(micros),
                    count,
                })
                .collect(),
        }
    }

    /// `mean 0.3ms, longest 2.1ms; <100µs 10, <1ms 800` (empty buckets at the end
    /// left out).
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(mean) = self.mean_us {
            parts.push(format!("mean {}", units::micros(mean)));
        }
        if let Some(longest) = self.longest_us {
            parts.push(format!("longest {}", units::micros(longest)));
        }
        let last = self.buckets.iter().rposition(|b| b.count > 0);
        let buckets: Vec<String> = self
            .buckets
            .iter()
            .take(last.map_or(0, |i| i + 1))
            .map(|b| match b.below_us {
                Some(bound) => format!("<{} {}", units::bound(bound), b.count),
                None => format!("longer {}", b.count),
            })
            .collect();
        let mut text = parts.join(", ");
        if !buckets.is_empty() {
            text.push_str("; ");
            text.push_str(&buckets.join(", "));
        }
        text
    }
}

impl LoadSummary {
    /// The summary of a run of `plan` on `client` with `outcome`, the listener's
    /// `counts`, and the client's statistics now.
    pub(crate) fn new(plan: &Plan, outcome: &Outcome, counts: &Counts, client: &Client) -> Self {
        let stats: ManagerStats = client.stats();
        let h = &outcome.latency;
        let answered = !h.is_empty();
        let at = |q: f64| answered.then(|| h.value_at_quantile(q));
        let latency = Latency {
            min: answered.then(|| h.min()),
            mean: answered.then(|| h.mean()),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p99_9: at(0.999),
            max: answered.then(|| h.max()),
        };
        let elapsed_s = outcome.elapsed.as_secs_f64();
        let tally = &outcome.tally;
        let requests = tally.requests();
        let requests_per_s = if elapsed_s > 0.0 {
            requests as f64 / elapsed_s
        } else {
            0.0
        };
        LoadSummary {
            url: plan.template.uri().to_string(),
            method: plan.template.method().to_string(),
            concurrency: plan.concurrency,
            requests_planned: plan.requests,
            duration_planned_s: plan.duration.map(|d| d.as_secs_f64()),
            rate_limit_per_s: plan.rate,
            requests,
            responses: tally.responses,
            errors: tally.failures(),
            elapsed_s,
            interrupted: outcome.interrupted,
            requests_per_s,
            bytes_received: tally.bytes,
            latency_us: latency,
            per_thread: PerThread {
                min: outcome.per_thread.iter().copied().min().unwrap_or(0),
                max: outcome.per_thread.iter().copied().max().unwrap_or(0),
            },
            status_codes: tally
                .statuses
                .iter()
                .map(|(status, n)| (status.to_string(), *n))
                .collect(),
            errors_by_kind: tally
                .errors
                .iter()
                .map(|(kind, t)| ((*kind).to_string(), t.count))
                .collect(),
            error_examples: tally
                .errors
                .iter()
                .map(|(kind, t)| ((*kind).to_string(), t.example.clone()))
                .collect(),
            connections_opened: stats.connections_opened,
            leases: counts.leases,
            reused_exchanges: counts.reused,
            stale_closed: counts.stale_closed,
            idle_limit_closed: counts.idle_limit_closed,
            idle_limit_changes: counts.idle_limit_changes,
            retries: counts.retries,
            redirects: counts.redirects,
            closes: close_map(&stats.closes),
            pool_waits: PoolWaits::new(&stats.lease_waits),
            pool: stats.pool.into(),
            routes: {
                let learned = client.idle_limits();
                client
                    .connection_manager()
                    .all_route_stats()
                    .into_iter()
                    .map(|(route, s)| {
                        let key = route.key().to_string();
                        RouteCounts {
                            route: route.to_string(),
                            counts: s.into(),
                            idle_limit: learned
                                .iter()
                                .find(|(k, _)| *k == key)
                                .map(|(_, b)| (*b).into()),
                        }
                    })
                    .collect()
            },
        }
    }

    /// The figures with their explanations, as `hcx load` prints them.
    pub(crate) fn figures(&self) -> Figures {
        let mut f = Figures::default();
        f.row(
            "requests",
            self.requests,
            "finished, answered or failed (retries and redirect hops not counted)",
        );
        f.row(
            "answered",
            self.responses,
            "got a response, read to its end",
        );
        f.row("failed", self.errors, "ended in an error, by kind below");
        f.row(
            "requests/s",
            format!("{:.1}", self.requests_per_s),
            format!(
                "finished per second of wall time ({} over {} thread{})",
                units::seconds(self.elapsed_s),
                self.concurrency,
                plural(self.concurrency as u64)
            ),
        );
        let l = &self.latency_us;
        let percentiles = [
            (
                "latency min",
                l.min,
                "the fastest, from the send (with --rate, from when it was due if late) to the body's end",
            ),
            ("latency p50", l.p50, "half the requests took at most this"),
            ("latency p90", l.p90, "nine in ten took at most this"),
            ("latency p99", l.p99, "99 in 100 took at most this"),
            ("latency p99.9", l.p99_9, "999 in 1000 took at most this"),
            ("latency max", l.max, "the slowest"),
        ];
        if l.max.is_some() {
            for (label, value, explain) in percentiles {
                f.row(
                    label,
                    value.map_or_else(String::new, units::micros),
                    explain,
                );
            }
        } else {
            f.row("latency", "-", "no request was answered");
        }
        f.row(
            "per thread",
            format!("{}..{}", self.per_thread.min, self.per_thread.max),
            "requests each thread finished, fewest..most: close together when the pool is fair",
        );
        for (status, n) in &self.status_codes {
            f.row(format!("status {status}"), n, "responses with this status");
        }
        for (kind, n) in &self.errors_by_kind {
            let example = self.error_examples.get(kind).map_or("", String::as_str);
            f.row(format!("error {kind}"), n, format!("e.g. {example}"));
        }
        f.row(
            "connections",
            self.connections_opened,
            "opened: new TCP (and TLS) connections",
        );
        f.row(
            "reused",
            self.reused_exchanges,
            format!(
                "of {} leases went out on a pooled connection, with no connect",
                self.leases
            ),
        );
        f.row(
            "stale closed",
            self.stale_closed,
            "pooled connections the server had closed, caught by the stale probe before reuse",
        );
        f.row(
            "idle-limit closed",
            self.idle_limit_closed,
            format!(
                "pooled connections idler than the route's learned idle limit, closed before \
                 reuse ({} change{} of a learned limit)",
                self.idle_limit_changes,
                plural(self.idle_limit_changes)
            ),
        );
        f.row(
            "retries",
            self.retries,
            "attempts sent again by the RETRY layer (lost in flight, or 429/503)",
        );
        f.row("redirects", self.redirects, "redirects followed");
        let waits = self.pool_waits.describe();
        f.row(
            "pool waits",
            self.pool_waits.count,
            if waits.is_empty() {
                String::from("leases that queued for a free connection")
            } else {
                format!("leases that queued for a free connection: {waits}")
            },
        );
        let closes: u64 = self.closes.values().sum();
        f.row(
            "closes",
            closes,
            "connections closed, by reason below (idle ones still open are not counted)",
        );
        for (reason, n) in &self.closes {
            f.row(format!("  {reason}"), n, explain_close(reason));
        }
        let p = &self.pool;
        f.row(
            "pool at end",
            "",
            format!(
                "{} of {} leased, {} idle, {} waiting",
                p.leased, p.max, p.available, p.pending
            ),
        );
        for route in &self.routes {
            let c = &route.counts;
            let mut text = format!(
                "{} of {} leased, {} idle, {} waiting",
                c.leased, c.max, c.available, c.pending
            );
            if let Some(idle) = &route.idle_limit {
                text.push_str("; ");
                text.push_str(&idle.text());
            }
            f.row(format!("  {}", route.route), "", text);
        }
        f
    }

    /// Writes the summary as text.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let what = match (self.requests_planned, self.duration_planned_s) {
            (Some(n), None) => format!("{n} request{}", plural(n)),
            (None, Some(s)) => format!("for {s}s"),
            (Some(n), Some(s)) => format!("{n} request{} or {s}s", plural(n)),
            (None, None) => String::new(),
        };
        let rate = self
            .rate_limit_per_s
            .map_or_else(String::new, |r| format!(", at most {r} requests/s"));
        let interrupted = if self.interrupted {
            " (interrupted: the figures cover the requests finished before Ctrl-C)"
        } else {
            ""
        };
        writeln!(
            out,
            "hcx load: {} {}, {what} over {} thread{}{rate}{interrupted}",
            self.method,
            self.url,
            self.concurrency,
            plural(self.concurrency as u64)
        )?;
        self.figures().write(out, "  ")
    }
}

/// The explanation of a close reason from its JSON key.
fn explain_close(key: &str) -> &'static str {
    CloseReason::ALL
        .iter()
        .find(|r| r.name() == key)
        .map_or("a reason of the application's", CloseReason::explain)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Rows of `label  value  explanation`, aligned when written.
#[derive(Debug, Default)]
pub struct Figures {
    rows: Vec<(String, String, String)>,
}

impl Figures {
    /// Adds a row.
    pub fn row(
        &mut self,
        label: impl Into<String>,
        value: impl ToString,
        explanation: impl Into<String>,
    ) {
        self.rows
            .push((label.into(), value.to_string(), explanation.into()));
    }

    /// Writes the rows, each after `indent`: labels left-aligned, values
    /// right-aligned.
    pub fn write(&self, out: &mut dyn Write, indent: &str) -> io::Result<()> {
        let label_width = self.rows.iter().map(|r| width(&r.0)).max().unwrap_or(0);
        let value_width = self.rows.iter().map(|r| width(&r.1)).max().unwrap_or(0);
        for (label, value, explanation) in &self.rows {
            let label_pad = label_width - width(label);
            let value_pad = value_width - width(value);
            writeln!(
                out,
                "{indent}{label}{:label_pad$}  {:value_pad$}{value}  {explanation}",
                "", ""
            )?;
        }
        Ok(())
    }
}

/// Width in characters (`µs` is two bytes, one column).
fn width(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learned_idle_limit_says_what_taught_it() {
        let mut bounds = IdleBounds::default();
        bounds.survived = Duration::from_secs(3);
        let idle = IdleLimit::from(bounds);
        assert_eq!(idle.text(), "learned idle: no limit (survived 3s)");
        bounds.died = Some(Duration::from_secs(9));
        bounds.limit = Some(Duration::from_millis(4500));
        let idle = IdleLimit::from(bounds);
        assert_eq!(
            (idle.limit_us, idle.survived_us, idle.died_us),
            (Some(4_500_000), 3_000_000, Some(9_000_000))
        );
        assert_eq!(
            idle.text(),
            "learned idle: limit 4.5s (survived 3s, died at 9s)"
        );
    }

    #[test]
    fn figures_are_aligned_and_explained() -> io::Result<()> {
        let mut f = Figures::default();
        f.row("requests", 1000, "finished");
        f.row("latency p50", "410µs", "half took at most this");
        let mut out = Vec::new();
        f.write(&mut out, "  ")?;
        assert_eq!(
            String::from_utf8_lossy(&out),
            "  requests      1000  finished\n  latency p50  410µs  half took at most this\n"
        );
        Ok(())
    }

    /// A run of a few milliseconds: the wall time the rate is computed from is
    /// printed with its figures (not `0.00s`), so requests / time gives the rate shown.
    #[test]
    fn a_short_run_prints_its_wall_time_with_its_figures() -> Result<(), String> {
        use crate::cli::{Cli, Command};
        use crate::client::RequestTemplate;
        use crate::load::{Outcome, Plan, Tally};
        use clap::Parser;

        let url = "http://127.0.0.1:1/";
        let cli = Cli::try_parse_from(["hcx", "load", url]).map_err(|e| e.to_string())?;
        let Command::Load(args) = cli.command else {
            return Err("not load".into());
        };
        let template = RequestTemplate::new(url, &args.request).map_err(|e| e.to_string())?;
        let client = Client::builder().build().map_err(|e| e.to_string())?;
        let plan = Plan {
            template,
            concurrency: 1,
            requests: Some(5),
            duration: None,
            rate: None,
            progress: false,
        };
        let mut latency = hdrhistogram::Histogram::new(3).map_err(|e| e.to_string())?;
        for _ in 0..5 {
            latency.record(600).map_err(|e| e.to_string())?;
        }
        let outcome = Outcome {
            latency,
            tally: Tally {
                responses: 5,
                ..Tally::default()
            },
            elapsed: Duration::from_micros(3_140),
            per_thread: vec![5],
            interrupted: false,
        };
        let summary = LoadSummary::new(&plan, &outcome, &Counts::default(), &client);
        let mut out = Vec::new();
        summary.write_text(&mut out).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out);
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("requests/s"))
            .ok_or_else(|| text.to_string())?;
        assert!(line.contains(" 1592.4 "), "{line}");
        assert!(line.contains("(3.14ms over 1 thread)"), "{line}");
        Ok(())
    }

    #[test]
    fn waits_and_closes_are_described() {
        let waits = PoolWaits {
            count: 3,
            total_us: 600,
            mean_us: Some(200),
            longest_us: Some(400),
            buckets: vec![
                WaitBucket {
                    below_us: Some(100),
                    count: 1,
                },
                WaitBucket {
                    below_us: Some(1000),
                    count: 2,
                },
                WaitBucket {
                    below_us: None,
                    count: 0,
                },
            ],
        };
        assert_eq!(
            waits.describe(),
            "mean 200µs, longest 400µs; <100µs 1, <1ms 2"
        );
        assert_eq!(
            explain_close("response_connection_close"),
            "response had Connection: close"
        );
        assert_eq!(close_key(CloseReason::Custom("mine")), "custom:mine");
    }
}
