//! `hcx load`: many requests over threads sharing one client, then the summary.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use hcx::{Client, Error, PoolingConnectionManager, RequestProgress};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::LoadArgs;
use crate::client::{self, RequestTemplate};
use crate::counters::Counters;
use crate::error::CliError;
use crate::summary::LoadSummary;

/// Requests sent when neither `-n` nor `--duration` is given.
const DEFAULT_REQUESTS: u64 = 100;

/// A request number that stops every thread at its next request, whatever the limit
/// (half the range, so that adding to it never wraps).
const STOPPED: u64 = u64::MAX / 2;

/// The histogram's first range in microseconds: 1 µs to an hour, 3 significant
/// digits. It grows past it: with `--rate`, a request behind its schedule counts from
/// when it was due, which a long run against a slow server can put hours back.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The request each send copies.
    pub template: RequestTemplate,
    /// Threads, each sending one request at a time.
    pub concurrency: usize,
    /// Stop after this many requests (`None`: only the duration stops the run).
    pub requests: Option<u64>,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// At most this many requests start per second, over all threads.
    pub rate: Option<f64>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What a run did, as the threads saw it.
#[derive(Debug)]
pub struct Outcome {
    /// Latency of each answered request in microseconds: from the send (from when it
    /// was due, for a request behind a `--rate` schedule) to the body's end.
    pub latency: Histogram<u64>,
    /// What the threads counted, added up.
    pub tally: Tally,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Requests finished by each thread.
    pub per_thread: Vec<u64>,
    /// The run was stopped before its end (Ctrl-C): the figures cover the requests
    /// finished by then.
    pub interrupted: bool,
}

/// Failures of one kind.
#[derive(Debug, Clone)]
pub struct ErrorTally {
    /// How many.
    pub count: u64,
    /// The first one, as `{:#}`.
    pub example: String,
}

impl Outcome {
    fn empty(latency: Histogram<u64>) -> Self {
        Outcome {
            latency,
            tally: Tally::default(),
            elapsed: Duration::ZERO,
            per_thread: Vec::new(),
            interrupted: false,
        }
    }

    /// Adds a thread's counts to this outcome (its latencies are in the shards).
    fn merge(&mut self, other: Tally) {
        self.per_thread.push(other.requests());
        let total = &mut self.tally;
        for (status, n) in other.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        for (kind, tally) in other.errors {
            total
                .errors
                .entry(kind)
                .and_modify(|t| t.count += tally.count)
                .or_insert(tally);
        }
        total.responses += other.responses;
        total.bytes += other.bytes;
    }
}

/// What the threads counted: each its own, added up into the [`Outcome`]. Latencies
/// go to histograms shared by a few threads ([`Shards`]): one histogram per thread
/// would be some 190 KB each (`-c 1000`: 190 MB).
#[derive(Debug, Default)]
pub struct Tally {
    /// Answered requests by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Failed requests by `ErrorKind::as_str()`, with the first one's message.
    pub errors: BTreeMap<&'static str, ErrorTally>,
    /// Requests answered (their body read to its end).
    pub responses: u64,
    /// Body bytes received (after content decoding).
    pub bytes: u64,
}

impl Tally {
    /// Requests finished, answered or failed.
    pub fn requests(&self) -> u64 {
        self.responses + self.failures()
    }

    /// Requests that failed.
    pub fn failures(&self) -> u64 {
        self.errors.values().map(|t| t.count).sum()
    }

    /// The kind of failure that happened most (of equals, the first by name), with its
    /// first example: what a run that failed throughout is reported by.
    fn commonest_error(&self) -> Option<(&'static str, &ErrorTally)> {
        self.errors
            .iter()
            .min_by_key(|(kind, t)| (std::cmp::Reverse(t.count), **kind))
            .map(|(kind, t)| (*kind, t))
    }

    fn record_error(&mut self, error: &Error) {
        self.errors
            .entry(error.kind().as_str())
            .and_modify(|t| t.count += 1)
            .or_insert_with(|| ErrorTally {
                count: 1,
                example: format!("{error:#}").replace(['\r', '\n'], " "),
            });
    }
}

/// The latency histograms the threads record into: a few, each behind a lock, thread
/// `i` using shard `i % len`. Twice as many as CPUs (at most one per thread), so a
/// thread rarely finds its shard taken, while the memory stays bounded by the machine
/// rather than by `-c`.
struct Shards(Vec<std::sync::Mutex<Histogram<u64>>>);

impl Shards {
    fn new(concurrency: usize, cpus: usize, empty: &Histogram<u64>) -> Self {
        let count = concurrency.clamp(1, cpus.max(1) * 2);
        Shards(
            (0..count)
                .map(|_| std::sync::Mutex::new(empty.clone()))
                .collect(),
        )
    }

    /// Records `micros` in thread `thread`'s shard, growing it to hold the value
    /// (clamped only if it cannot grow).
    fn record(&self, thread: usize, micros: u64) {
        if let Some(shard) = self.0.get(thread % self.0.len().max(1)) {
            let mut histogram = shard.lock().unwrap_or_else(|p| p.into_inner());
            if histogram.record(micros).is_err() {
                histogram.saturating_record(micros);
            }
        }
    }

    /// All shards added into `total`.
    fn add_into(self, total: &mut Histogram<u64>) -> Result<(), CliError> {
        for shard in self.0 {
            let shard = shard.into_inner().unwrap_or_else(|p| p.into_inner());
            total
                .add(&shard)
                .map_err(|e| CliError::Other(format!("merging latency histograms: {e}")))?;
        }
        Ok(())
    }
}

/// The client of `hcx load`.
fn load_client(
    args: &LoadArgs,
    template: &RequestTemplate,
    counters: &Arc<Counters>,
) -> Result<Client, CliError> {
    let mut builder = client::builder(&args.client, template)?;
    if let Some(duration) = args.duration {
        // The duration stops starting requests; a stalled one must end too (wrk's
        // --timeout and ab's -s do the same by default), and no later than the
        // socket timeout (3 min) would end it without --duration. The wait for a
        // connection as well: with more threads than connections, each queued
        // request would otherwise get its turn only as the one before it timed out.
        let bound = duration.min(Duration::from_secs(180));
        builder = builder.connection_request_timeout(bound);
        if args.client.timeout.is_none() {
            builder = builder.response_timeout(Some(bound));
        }
    }
    Ok(client::with_pool(builder, &args.pool)
        .event_listener(Arc::clone(counters))
        .build()?)
}

/// `hcx load`: runs the plan the flags describe, prints the summary (text, or JSON
/// with `--json`). Fails (exit 1) when no request at all was answered.
pub fn run(args: &LoadArgs) -> Result<(), CliError> {
    let template = RequestTemplate::new(&args.url, &args.request)?;
    let counters = Arc::new(Counters::default());
    let client = load_client(args, &template, &counters)?;
    let plan = Plan {
        template,
        concurrency: usize::try_from(args.concurrency).unwrap_or(1).max(1),
        requests: args
            .requests
            .or(args.duration.is_none().then_some(DEFAULT_REQUESTS)),
        duration: args.duration,
        rate: args.rate,
        progress: io::stderr().is_terminal(),
    };
    if let (Some(rate), Some(n), None) = (plan.rate, plan.requests, plan.duration) {
        // The last request must fall on a time the schedule can hold, or the run
        // would end short of -n and look complete.
        let last = n.saturating_sub(1) as f64 / rate;
        let fits = Duration::try_from_secs_f64(last)
            .ok()
            .and_then(|offset| Instant::now().checked_add(offset))
            .is_some();
        if !fits {
            return Err(CliError::Other(format!(
                "--rate {rate} is too low to schedule {n} requests (the last one would \
                 start {last:e} seconds from now); raise it, or give --duration"
            )));
        }
    }
    let stop = Stop::new(&client);
    interrupt::on_ctrl_c(&stop);
    let outcome = execute_until(&client, &plan, &stop)?;
    let summary = LoadSummary::new(&plan, &outcome, &counters.counts(), &client);
    let mut out = io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &summary)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        summary.write_text(&mut out)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| CliError::io("writing the summary to stdout", e))?;
    let tally = &outcome.tally;
    if tally.responses == 0 {
        let first = tally
            .commonest_error()
            .map(|(kind, t)| format!(": {} [{kind}]", t.example))
            .unwrap_or_default();
        let when = if outcome.interrupted {
            " before the run was interrupted"
        } else {
            ""
        };
        return Err(CliError::Other(format!(
            "no request was answered{when} ({} failed){first}",
            tally.failures()
        )));
    }
    Ok(())
}

/// Ctrl-C during `hcx load`.
mod interrupt {
    use std::sync::{Mutex, OnceLock, PoisonError};

    use super::Stop;

    /// The run under way: the first Ctrl-C stops it.
    static RUN: Mutex<Option<Stop>> = Mutex::new(None);

    /// From now on the first Ctrl-C stops the run `stop` belongs to, which leaves its
    /// summary to be printed; a second one ends the process at once (exit 130, as a
    /// shell reports SIGINT). Where no handler can be installed, Ctrl-C ends the
    /// process as usual.
    pub(super) fn on_ctrl_c(stop: &Stop) {
        static INSTALLED: OnceLock<bool> = OnceLock::new();
        let installed = *INSTALLED.get_or_init(|| {
            ctrlc::set_handler(|| {
                let run = RUN.lock().unwrap_or_else(PoisonError::into_inner).take();
                match run {
                    Some(stop) => stop.stop(),
                    None => std::process::exit(130),
                }
            })
            .is_ok()
        });
        if installed {
            *RUN.lock().unwrap_or_else(PoisonError::into_inner) = Some(stop.clone());
        }
    }
}

/// Ends a run early, from any thread (`hcx load`'s Ctrl-C): see [`execute_until`].
#[derive(Debug, Clone)]
pub struct Stop {
    /// Disconnected when the run is stopped: every thread waiting on it wakes.
    receiver: Receiver<()>,
    sender: Arc<Mutex<Option<Sender<()>>>>,
    /// The client's: shut down, it fails the leases still waiting.
    manager: PoolingConnectionManager,
}

impl Stop {
    /// A stop for a run on `client`.
    pub fn new(client: &Client) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded(0);
        Stop {
            receiver,
            sender: Arc::new(Mutex::new(Some(sender))),
            manager: client.connection_manager().clone(),
        }
    }

    /// Stops the run: when this returns, no request of it starts any more. The
    /// client's connection manager is shut down ([`PoolingConnectionManager::shutdown`]):
    /// a request still waiting for a pooled connection fails without being sent, and
    /// those under way finish.
    pub fn stop(&self) {
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        self.manager.shutdown();
    }
}

/// An empty latency histogram: 1 µs to an hour at first, 3 significant digits,
/// growing past an hour when a value needs it.
fn latency_histogram() -> Result<Histogram<u64>, CliError> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_US, 3)
        .map_err(|e| CliError::Other(format!("cannot make the latency histogram: {e}")))?;
    histogram.auto(true);
    Ok(histogram)
}

/// Runs `plan` on `client`: `plan.concurrency` threads take request numbers from one
/// counter until the count or the duration runs out, each waiting for its number's
/// turn when a rate is set.
pub fn execute(client: &Client, plan: &Plan) -> Result<Outcome, CliError> {
    execute_until(client, plan, &Stop::new(client))
}

/// [`execute`], ended early by [`Stop::stop`]: no thread starts a request after it,
/// one waiting for its turn (`--rate`), for the duration's end or for a pooled
/// connection stops waiting (a request that got no connection was not sent, and is
/// not counted), requests under way finish, and the outcome is marked interrupted.
pub fn execute_until(client: &Client, plan: &Plan, stop: &Stop) -> Result<Outcome, CliError> {
    let histogram = latency_histogram()?;
    let progress = progress_bar(plan);
    let next = AtomicU64::new(0);
    let start = Instant::now();
    let deadline = plan.duration.and_then(|d| start.checked_add(d));
    let schedule = Schedule {
        next: &next,
        start,
        deadline,
        limit: plan.requests,
        rate: plan.rate,
        stop: stop.receiver.clone(),
    };
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let shards = Shards::new(plan.concurrency, cpus, &histogram);
    let mut total = Outcome::empty(histogram);
    let (results, spawn_error) = thread::scope(|scope| {
        let mut workers = Vec::with_capacity(plan.concurrency);
        let mut spawn_error = None;
        for i in 0..plan.concurrency {
            let (schedule, progress, shards) = (&schedule, &progress, &shards);
            let spawned = thread::Builder::new()
                .name(format!("hcx-load-{i}"))
                .spawn_scoped(scope, move || {
                    worker(client, plan, schedule, progress, |micros| {
                        shards.record(i, micros);
                    })
                });
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    // Too many threads for this machine: the ones running stop at
                    // their next request.
                    next.store(STOPPED, Ordering::Relaxed);
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        let results: Vec<thread::Result<Tally>> = workers.into_iter().map(|w| w.join()).collect();
        (results, spawn_error)
    });
    total.elapsed = start.elapsed();
    total.interrupted = schedule.stopped();
    progress.finish_and_clear();
    if let Some(e) = spawn_error {
        return Err(CliError::io(
            format!("cannot start {} load threads", plan.concurrency),
            e,
        ));
    }
    for result in results {
        let tally = result.map_err(|_| CliError::Other("a load thread panicked".into()))?;
        total.merge(tally);
    }
    shards.add_into(&mut total.latency)?;
    Ok(total)
}

/// Which request comes next, and when.
struct Schedule<'a> {
    next: &'a AtomicU64,
    start: Instant,
    deadline: Option<Instant>,
    limit: Option<u64>,
    rate: Option<f64>,
    /// Ends the run early (Ctrl-C).
    stop: Receiver<()>,
}

impl Schedule<'_> {
    /// The instant `seconds` into the run, or the duration's end if that comes
    /// first: `None` only without a duration, past what an `Instant` holds.
    fn at(&self, seconds: f64) -> Option<Instant> {
        let instant = Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|offset| self.start.checked_add(offset));
        match (instant, self.deadline) {
            (Some(instant), Some(end)) => Some(instant.min(end)),
            (instant, end) => instant.or(end),
        }
    }

    /// Whether the run was told to stop.
    fn stopped(&self) -> bool {
        !matches!(self.stop.try_recv(), Err(TryRecvError::Empty))
    }

    /// Waits `time`, or until told to stop: `false` then.
    fn wait(&self, time: Duration) -> bool {
        matches!(self.stop.recv_timeout(time), Err(RecvTimeoutError::Timeout))
    }

    /// Waits for the next request's turn: `None` when the run is over, else the time
    /// its latency counts from. With a rate, a request that fell behind its schedule
    /// (every thread busy with a server slower than the rate) counts from when it was
    /// due, not from when a thread got to it: its wait is the server's doing, and
    /// leaving it out would show a slow server as fast, only sending fewer requests
    /// (coordinated omission; wrk2 counts the same way). A request on time counts from
    /// when the thread woke for it (its sleep running late is the client's own), and
    /// without a rate from now. The requests due before the end of the duration are
    /// the ones sent, but for those the threads fall behind on past its end; with a
    /// rate, a thread whose next request falls due after the duration waits for its end.
    fn take(&self) -> Option<Instant> {
        if self.stopped() {
            return None;
        }
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        if number >= STOPPED {
            return None;
        }
        if let Some(limit) = self.limit.filter(|limit| number >= *limit) {
            // With a rate, the run lasts its requests' slots, to `limit / rate` (or
            // the duration's end, if sooner), as one by duration lasts the duration:
            // -n 10 --rate 10 takes a second and reports 10 requests/s, not 11.
            if let Some(end) = self.rate.and_then(|rate| self.at(limit as f64 / rate))
                && let Some(rest) = end.checked_duration_since(Instant::now())
            {
                self.wait(rest);
            }
            return None;
        }
        let Some(rate) = self.rate else {
            let now = Instant::now();
            return self.deadline.is_none_or(|end| now < end).then_some(now);
        };
        // Request `number` starts at `number / rate` seconds into the run.
        let due = self.at(number as f64 / rate)?;
        if let Some(end) = self.deadline.filter(|end| due >= *end) {
            // Nothing more falls due within the duration: the run still lasts it (as
            // wrk2's), or its requests/s would be over the part of it with requests
            // due, above the rate (--duration 1s --rate 2: 2 requests in 0.5s).
            if let Some(rest) = end.checked_duration_since(Instant::now()) {
                self.wait(rest);
            }
            return None;
        }
        let now = Instant::now();
        if due > now {
            // Scheduled within the duration: sent, however late the thread woke.
            return self.wait(due - now).then(Instant::now);
        }
        // Behind schedule (the server is slower than the rate): a request due within
        // the duration that would only start after it is not sent, or the backlog
        // would stretch the run far past --duration.
        self.deadline.is_none_or(|end| now < end).then_some(due)
    }
}

/// Sends requests while the schedule gives it some, each answered one's latency
/// (microseconds, at least 1) to `record`.
fn worker(
    client: &Client,
    plan: &Plan,
    schedule: &Schedule<'_>,
    progress: &ProgressBar,
    mut record: impl FnMut(u64),
) -> Tally {
    let mut outcome = Tally::default();
    let mut buf = vec![0u8; 64 * 1024];
    while let Some(started) = schedule.take() {
        match client.execute(plan.template.request()) {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut body = response.into_body();
                match drain(&mut body, &mut buf) {
                    Ok(bytes) => {
                        let micros =
                            u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                        record(micros.max(1));
                        *outcome.statuses.entry(status).or_default() += 1;
                        outcome.responses += 1;
                        outcome.bytes += bytes;
                    }
                    Err(e) => outcome.record_error(&Error::from_io(e)),
                }
            }
            // Stopped while it waited for a pooled connection: never sent.
            Err(e)
                if e.is_shutdown()
                    && e.request_progress() == RequestProgress::NotStarted
                    && schedule.stopped() =>
            {
                break;
            }
            Err(e) => outcome.record_error(&e),
        }
        progress.inc(1);
    }
    outcome
}

/// Reads `body` to its end (which gives the connection back), counting the bytes.
fn drain(body: &mut impl Read, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match body.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A bar over the requests (a spinner for a run by duration), hidden unless asked for.
fn progress_bar(plan: &Plan) -> ProgressBar {
    if !plan.progress {
        return ProgressBar::hidden();
    }
    match plan.requests {
        Some(n) => {
            let bar = ProgressBar::new(n);
            if let Ok(style) =
                ProgressStyle::with_template("{wide_bar} {pos}/{len} requests, eta {eta}")
            {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} requests in {elapsed}")
            {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        }
    }
}

/// `hcx load …` as the command line `argv` gives it (from `"hcx"` on): its flags, the
/// request it sends and the client it builds, for the tests of the run itself.
#[cfg(test)]
fn load_setup(argv: &[&str]) -> Result<(LoadArgs, RequestTemplate, Client), String> {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let crate::cli::Command::Load(args) = cli.command else {
        return Err("not load".into());
    };
    let template = RequestTemplate::new(&args.url, &args.request).map_err(|e| e.to_string())?;
    let client = load_client(&args, &template, &Arc::default()).map_err(|e| e.to_string())?;
    Ok((args, template, client))
}

#[cfg(test)]
mod review_duration_timeout {
    use super::*;

    #[test]
    fn a_long_duration_does_not_lengthen_the_default_socket_timeout() -> Result<(), String> {
        let url = "http://127.0.0.1:1/";
        for (duration, expected) in [("10s", 10), ("10m", 180)] {
            let (_, _, client) = load_setup(&["hcx", "load", url, "--duration", duration])?;
            assert_eq!(
                client.request_config().response_timeout,
                Some(Duration::from_secs(expected)),
                "--duration {duration}"
            );
            assert_eq!(
                client.request_config().connection_request_timeout,
                Duration::from_secs(expected),
                "--duration {duration}"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tally {
    use super::*;

    fn failed(count: u64, example: &str) -> ErrorTally {
        ErrorTally {
            count,
            example: example.to_string(),
        }
    }

    #[test]
    fn a_run_that_failed_throughout_is_reported_by_its_commonest_failure() {
        let mut tally = Tally::default();
        assert!(tally.commonest_error().is_none());
        tally.errors.insert("connect", failed(1, "refused once"));
        tally
            .errors
            .insert("response_timeout", failed(9, "timed out"));
        tally.errors.insert("io", failed(9, "reset"));
        // Not the first by name ("connect"): the most frequent, of equals the first.
        let (kind, example) = tally
            .commonest_error()
            .map(|(k, t)| (k, &t.example))
            .unzip();
        assert_eq!(kind, Some("io"));
        assert_eq!(example.map(String::as_str), Some("reset"));
    }
}

#[cfg(test)]
mod schedule {
    use super::*;

    /// A schedule that started `ago` before now, so every request of the first
    /// `ago × rate` is already due: nothing sleeps.
    fn behind(next: &AtomicU64, ago: Duration, rate: Option<f64>) -> Option<Schedule<'_>> {
        Some(Schedule {
            next,
            start: Instant::now().checked_sub(ago)?,
            deadline: None,
            limit: Some(5),
            rate,
            stop: crossbeam_channel::never(),
        })
    }

    #[test]
    fn a_request_behind_its_schedule_counts_its_latency_from_when_it_was_due() {
        let next = AtomicU64::new(0);
        let Some(schedule) = behind(&next, Duration::from_secs(60), Some(4.0)) else {
            return; // a clock too young to go back a minute: nothing to check
        };
        for n in 0..5u32 {
            let due = schedule.start + Duration::from_millis(250) * n;
            assert_eq!(schedule.take(), Some(due), "request {n}");
        }
        assert_eq!(schedule.take(), None, "-n 5 ends the run");
    }

    #[test]
    fn without_a_rate_latency_counts_from_the_take() {
        let next = AtomicU64::new(0);
        let Some(schedule) = behind(&next, Duration::from_secs(60), None) else {
            return;
        };
        let before = Instant::now();
        let started = schedule.take();
        assert!(started.is_some_and(|at| at >= before), "{started:?}");
    }

    #[test]
    fn nothing_is_taken_after_the_duration_even_when_due_within_it() {
        let next = AtomicU64::new(0);
        let Some(mut schedule) = behind(&next, Duration::from_secs(60), Some(1.0)) else {
            return;
        };
        // Ended a second ago; request 0 was due 60 s ago, within it.
        schedule.deadline = Instant::now().checked_sub(Duration::from_secs(1));
        assert_eq!(schedule.take(), None);
    }
}

#[cfg(test)]
mod shards {
    use super::*;

    #[test]
    fn a_thousand_threads_share_a_few_histograms_and_lose_no_latency() -> Result<(), String> {
        let empty = latency_histogram().map_err(|e| e.to_string())?;
        let shards = Shards::new(1000, 2, &empty);
        assert_eq!(shards.0.len(), 4);
        assert_eq!(Shards::new(3, 8, &empty).0.len(), 3);
        for thread in 0..1000 {
            shards.record(thread, 1 + thread as u64);
        }
        let mut total = empty;
        shards.add_into(&mut total).map_err(|e| e.to_string())?;
        assert_eq!(total.len(), 1000);
        assert_eq!((total.min(), total.max()), (1, 1000));
        Ok(())
    }
}

#[cfg(test)]
mod review_latency_range {
    use super::*;
    use hcx_testserver::{Reply, TestServer};

    /// A request two hours behind its `--rate` schedule (a long `-n` run against a
    /// server slower than the rate) counts its latency from when it was due: two
    /// hours, not the histogram's old one-hour ceiling.
    #[test]
    fn a_request_hours_behind_its_schedule_keeps_its_whole_latency() -> Result<(), String> {
        let Some(start) = Instant::now().checked_sub(Duration::from_secs(2 * 3600)) else {
            return Ok(()); // a clock too young to go back two hours
        };
        let server = TestServer::builder()
            .default_reply(Reply::ok().body("x"))
            .start()
            .map_err(|e| e.to_string())?;
        let url = server.url("/");
        let (_, template, client) =
            load_setup(&["hcx", "load", url.as_str(), "-n", "1", "--rate", "1"])?;
        let plan = Plan {
            template,
            concurrency: 1,
            requests: Some(1),
            duration: None,
            rate: Some(1.0),
            progress: false,
        };
        let next = AtomicU64::new(0);
        let schedule = Schedule {
            next: &next,
            start,
            deadline: None,
            limit: Some(1),
            rate: Some(1.0),
            stop: crossbeam_channel::never(),
        };
        let histogram = latency_histogram().map_err(|e| e.to_string())?;
        let shards = Shards::new(1, 1, &histogram);
        let outcome = worker(
            &client,
            &plan,
            &schedule,
            &ProgressBar::hidden(),
            |micros| {
                shards.record(0, micros);
            },
        );
        assert_eq!(outcome.responses, 1);
        let mut latency = histogram;
        shards.add_into(&mut latency).map_err(|e| e.to_string())?;
        let max = latency.max();
        assert!(
            max >= 7_100_000_000,
            "latency max {max} µs: clamped at an hour"
        );
        Ok(())
    }
}

#[cfg(test)]
mod stopping {
    use super::*;
    use hcx_testserver::{Method, Reply, TestServer};
    use std::sync::mpsc;

    const SAFETY: Duration = Duration::from_secs(10);

    /// Stopped while two of three threads wait for the route's only connection: they
    /// stop waiting and send nothing (nor count a failure), and the request under way
    /// finishes and is counted. Before `Stop` shut the manager down, the waiters got
    /// the connection once it came free and sent their requests after the stop.
    #[test]
    fn a_stop_ends_the_lease_waits_and_lets_the_exchange_under_way_finish() -> Result<(), String> {
        let (arrived_tx, arrived) = mpsc::sync_channel::<()>(1);
        let (release, released) = mpsc::channel::<()>();
        let (arrived_tx, released) = (Mutex::new(arrived_tx), Mutex::new(released));
        let server = TestServer::builder()
            .keep_requests(0)
            .route_fn(Method::GET, "/", move |_request| {
                let _ = arrived_tx
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .try_send(());
                let _ = released
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .recv_timeout(SAFETY);
                Reply::ok().body("x")
            })
            .start()
            .map_err(|e| e.to_string())?;
        let url = server.url("/");
        let argv = [
            "hcx",
            "load",
            &url,
            "--duration",
            "1h",
            "-c",
            "3",
            "--max-per-route",
            "1",
        ];
        let (args, template, client) = load_setup(&argv)?;
        let plan = Plan {
            template,
            concurrency: 3,
            requests: None,
            duration: args.duration,
            rate: None,
            progress: false,
        };
        let stop = Stop::new(&client);
        let outcome = thread::scope(|scope| {
            let run = scope.spawn(|| execute_until(&client, &plan, &stop));
            let under_way = arrived.recv_timeout(SAFETY);
            // Yielding, bounded: the other two threads queue for the connection.
            let deadline = Instant::now() + SAFETY;
            while client.stats().pool.pending < 2 && Instant::now() < deadline {
                thread::yield_now();
            }
            let pending = client.stats().pool.pending;
            stop.stop();
            drop(release);
            let outcome = run.join().map_err(|_| "the run panicked".to_string())?;
            under_way.map_err(|e| format!("no request arrived: {e}"))?;
            assert_eq!(pending, 2, "the other threads never queued");
            outcome.map_err(|e| e.to_string())
        })?;
        assert_eq!(
            server.stats().requests_received,
            1,
            "a request went out after the stop"
        );
        assert!(outcome.interrupted);
        assert_eq!(outcome.tally.responses, 1);
        assert_eq!(outcome.tally.failures(), 0, "{:?}", outcome.tally.errors);
        Ok(())
    }
}
