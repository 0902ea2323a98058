//! `peers`: one load run of one HTTP/1.1 client against a server, printed as one JSON
//! line. `run.sh` drives it against nginx (or `peers-server`) on loopback over every
//! cell, client and CPU layout (see README.md).
//!
//! ```text
//! peers --client hcx|ureq|reqwest|hyper --url URL --threads T [--conns C]
//!       --seconds S [--warmup S] [--status URL] [--cell NAME --layout NAME --run N]
//! peers --client hcx|ureq|reqwest|hyper --url URL --idle-conns N [--status URL]
//! ```
//!
//! # The clients
//!
//! `T` threads share one client, each looping on `GET URL`, reading the body to its
//! end and counting any status but 200 (or any error) as an error:
//!
//! - hcx: `Client::builder().max_per_route(C).max_total(C)`, defaults otherwise
//!   (`C` defaults to `T`);
//! - ureq 3: one `Agent`, idle pool of `C` connections in total and per host;
//! - reqwest 0.12 blocking: one `Client`, `pool_max_idle_per_host(C)` (every request
//!   goes through reqwest's own runtime thread);
//! - hyper: hyper-util's legacy `Client` (hyper 1, HTTP/1), `pool_max_idle_per_host(C)`,
//!   on a tokio multi-thread runtime of `T` workers running `T` looping tasks.
//!
//! Only ureq's, reqwest's and hyper's idle pools can be capped: none of them bounds the
//! connections in use, so with `C < T` they open (and close) connections beyond `C`.
//! The `accepted` figures (from nginx's `stub_status`, `--status`) show it.
//!
//! # What is measured
//!
//! After `--warmup` seconds (pool filled, caches warm), for `--seconds`:
//!
//! - `requests`, `errors`, `rps`: requests that started and ended in the measured
//!   phase, per second of it;
//! - `p50_us`, `p99_us`: their latency (µs, from an HDR histogram per thread, merged);
//! - `cpu_us_per_req` (`user_` + `sys_`): `getrusage(RUSAGE_SELF)` user + system time
//!   over the phase, the whole process (every thread: workers, runtimes, the idle
//!   driver thread) divided by `requests`;
//! - `csw_per_req`: voluntary + involuntary context switches of the process
//!   (`ru_nvcsw + ru_nivcsw`) over the phase, per request;
//! - `allocs_per_req`: heap allocations (`alloc`, `alloc_zeroed`, `realloc` calls,
//!   counted by the global allocator, [`alloc::Counting`]) over the phase, per request;
//! - `accepted_total`, `accepted_measured`: connections nginx accepted during the whole
//!   run and during the measured phase (its `stub_status` "accepts", read before and
//!   after, less the status requests' own connections);
//! - `total_requests`: every request of the run, warmup included (what a syscall count
//!   of the whole process, `strace -f -c`, divides by).
//!
//! # Idle-connection memory (`--idle-conns N`)
//!
//! The client is built with room for `N` connections and one request is made; then
//! `N` requests run at once (blocking clients: `N` threads with 256 KiB stacks; hyper:
//! `N` tasks), each holding its response head until all `N` have one (so `N`
//! connections are open), then reading its body, which gives the connection back to
//! the pool. The threads are joined and, after a pause, the resident set (`VmRSS`)
//! and the live heap bytes are compared with the ones before: `rss_per_conn` and
//! `heap_per_conn` are the growth divided by `N`, `rss_per_accepted` and
//! `heap_per_accepted` the growth divided by the connections nginx accepted (fewer
//! than `N` when a client hands a connection on before its body is read: hyper-util
//! does once the body is off the wire, so use a body larger than one read, `/16k`). Freed heap is returned to the
//! system (`malloc_trim`) before each reading; run it with
//! `GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0` (run.sh does) so that the
//! threads' stacks are not kept cached.

mod alloc;
mod clients;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

/// `PHASE`: warming up, measuring, stopping.
const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

struct Args {
    client: String,
    url: String,
    threads: usize,
    conns: Option<usize>,
    seconds: f64,
    warmup: f64,
    status: Option<String>,
    idle_conns: Option<usize>,
    cell: String,
    layout: String,
    run: u32,
}

const USAGE: &str = "usage: peers --client hcx|ureq|reqwest|hyper --url URL --threads T \
[--conns C] --seconds S [--warmup S] [--status URL] [--cell NAME] [--layout NAME] [--run N]\n\
       peers --client NAME --url URL --idle-conns N [--status URL]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        client: String::new(),
        url: String::new(),
        threads: 1,
        conns: None,
        seconds: 3.0,
        warmup: 1.0,
        status: None,
        idle_conns: None,
        cell: String::new(),
        layout: String::new(),
        run: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} wants a value\n{USAGE}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--client" => args.client = value,
            "--url" => args.url = value,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--conns" => args.conns = Some(value.parse().map_err(|e| bad(&e))?),
            "--seconds" => args.seconds = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => args.warmup = value.parse().map_err(|e| bad(&e))?,
            "--status" => args.status = Some(value),
            "--idle-conns" => args.idle_conns = Some(value.parse().map_err(|e| bad(&e))?),
            "--cell" => args.cell = value,
            "--layout" => args.layout = value,
            "--run" => args.run = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if args.client.is_empty() || args.url.is_empty() || args.threads == 0 {
        return Err(USAGE.to_owned());
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let line = match args.idle_conns {
        Some(n) => idle_conns(&args, n).map(|r| serde_json::to_string(&r)),
        None => load(&args).map(|r| serde_json::to_string(&r)),
    };
    match line {
        Ok(Ok(line)) => println!("{line}"),
        Ok(Err(e)) => fatal(&e.to_string()),
        Err(e) => fatal(&e),
    }
}

fn fatal(message: &str) -> ! {
    eprintln!("peers: {message}");
    std::process::exit(1)
}

/// One load run's line.
#[derive(Serialize)]
struct LoadReport {
    mode: &'static str,
    cell: String,
    layout: String,
    run: u32,
    client: String,
    url: String,
    threads: usize,
    conns: usize,
    seconds: f64,
    warmup: f64,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    total_requests: u64,
    body_bytes_per_req: f64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
    cpu_us_per_req: f64,
    user_us_per_req: f64,
    sys_us_per_req: f64,
    csw_per_req: f64,
    allocs_per_req: f64,
    accepted_total: Option<i64>,
    accepted_measured: Option<i64>,
}

/// What a worker (thread or task) brings back.
struct Tally {
    hist: Histogram<u64>,
    requests: u64,
    errors: u64,
    total: u64,
    bytes: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            // 1 µs to 60 s in ns, 3 significant digits; recorded saturating, so it never
            // grows (and never allocates) while measuring.
            hist: Histogram::new_with_bounds(1_000, 60_000_000_000, 3).expect("bounds"),
            requests: 0,
            errors: 0,
            total: 0,
            bytes: 0,
            first_error: None,
        }
    }

    /// Counts one finished request, if it started and ended in the measured phase.
    fn record(&mut self, started: u8, phase: &AtomicU8, at: Instant, result: Result<u64, String>) {
        let elapsed = at.elapsed();
        self.total += 1;
        if started != MEASURE || phase.load(Ordering::Acquire) != MEASURE {
            return;
        }
        match result {
            Ok(len) => {
                self.requests += 1;
                self.bytes += len;
                self.hist
                    .saturating_record(elapsed.as_nanos().try_into().unwrap_or(u64::MAX));
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.hist.add(&other.hist).expect("same bounds");
        self.requests += other.requests;
        self.errors += other.errors;
        self.total += other.total;
        self.bytes += other.bytes;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// The process's counters at one instant.
struct Snapshot {
    at: Instant,
    user_us: i64,
    sys_us: i64,
    csw: i64,
    allocs: u64,
}

fn snapshot() -> Snapshot {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let us = |tv: libc::timeval| tv.tv_sec * 1_000_000 + tv.tv_usec;
    Snapshot {
        at: Instant::now(),
        user_us: us(usage.ru_utime),
        sys_us: us(usage.ru_stime),
        csw: usage.ru_nvcsw + usage.ru_nivcsw,
        allocs: alloc::allocations(),
    }
}

/// Warmup, measured phase, stop, as the main thread sees it: returns the snapshots
/// and the accept counts read around them.
struct Phases {
    start: Snapshot,
    end: Snapshot,
    accepts: [Option<i64>; 3],
}

fn run_phases(args: &Args, phase: &AtomicU8, accepts_before: Option<i64>) -> Phases {
    std::thread::sleep(Duration::from_secs_f64(args.warmup));
    let accepts_mid = read_accepts(args);
    let start = snapshot();
    phase.store(MEASURE, Ordering::Release);
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    phase.store(STOP, Ordering::Release);
    let end = snapshot();
    let accepts_end = read_accepts(args);
    Phases {
        start,
        end,
        accepts: [accepts_before, accepts_mid, accepts_end],
    }
}

fn load(args: &Args) -> Result<LoadReport, String> {
    let conns = args.conns.unwrap_or(args.threads);
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let accepts_before = read_accepts(args);
    let (phases, tally) = if args.client == "hyper" {
        load_hyper(args, conns, &phase, accepts_before)?
    } else {
        load_blocking(args, conns, &phase, accepts_before)?
    };
    let accepts = phases.accepts;
    let (start, end) = (&phases.start, &phases.end);
    let secs = end.at.duration_since(start.at).as_secs_f64();
    let n = tally.requests.max(1) as f64;
    let per = |a: i64, b: i64| (b - a) as f64 / n;
    // Each status read is a connection of its own, counted by the reads after it.
    let accepted = |from: Option<i64>, to: Option<i64>, reads: i64| match (from, to) {
        (Some(a), Some(b)) => Some(b - a - reads),
        _ => None,
    };
    Ok(LoadReport {
        mode: "load",
        cell: args.cell.clone(),
        layout: args.layout.clone(),
        run: args.run,
        client: args.client.clone(),
        url: args.url.clone(),
        threads: args.threads,
        conns,
        seconds: args.seconds,
        warmup: args.warmup,
        requests: tally.requests,
        errors: tally.errors,
        first_error: tally.first_error,
        total_requests: tally.total,
        body_bytes_per_req: tally.bytes as f64 / n,
        rps: tally.requests as f64 / secs,
        p50_us: tally.hist.value_at_quantile(0.50) as f64 / 1_000.0,
        p99_us: tally.hist.value_at_quantile(0.99) as f64 / 1_000.0,
        mean_us: tally.hist.mean() / 1_000.0,
        cpu_us_per_req: per(start.user_us + start.sys_us, end.user_us + end.sys_us),
        user_us_per_req: per(start.user_us, end.user_us),
        sys_us_per_req: per(start.sys_us, end.sys_us),
        csw_per_req: per(start.csw, end.csw),
        allocs_per_req: (end.allocs - start.allocs) as f64 / n,
        accepted_total: accepted(accepts[0], accepts[2], 2),
        accepted_measured: accepted(accepts[1], accepts[2], 1),
    })
}

fn load_blocking(
    args: &Args,
    conns: usize,
    phase: &Arc<AtomicU8>,
    accepts_before: Option<i64>,
) -> Result<(Phases, Tally), String> {
    let client = clients::blocking(&args.client, &args.url, conns)?;
    let workers: Vec<_> = (0..args.threads)
        .map(|_| {
            let client = Arc::clone(&client);
            let phase = Arc::clone(phase);
            std::thread::spawn(move || {
                let mut tally = Tally::new();
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let started = phase.load(Ordering::Acquire);
                    if started == STOP {
                        return tally;
                    }
                    let at = Instant::now();
                    let result = client.fetch(&mut buf, &mut || {});
                    let failed = result.is_err();
                    tally.record(started, &phase, at, result);
                    if failed {
                        // A refused connect fails in microseconds: do not spin on it.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    let phases = run_phases(args, phase, accepts_before);
    let mut tally = Tally::new();
    for worker in workers {
        tally.merge(worker.join().map_err(|_| "a worker panicked")?);
    }
    Ok((phases, tally))
}

fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn load_hyper(
    args: &Args,
    conns: usize,
    phase: &Arc<AtomicU8>,
    accepts_before: Option<i64>,
) -> Result<(Phases, Tally), String> {
    let rt = runtime(args.threads)?;
    let client = {
        let _guard = rt.enter();
        clients::Hyper::new(&args.url, conns)?
    };
    let tasks: Vec<_> = (0..args.threads)
        .map(|_| {
            let client = client.clone();
            let phase = Arc::clone(phase);
            rt.spawn(async move {
                let mut tally = Tally::new();
                loop {
                    let started = phase.load(Ordering::Acquire);
                    if started == STOP {
                        return tally;
                    }
                    let at = Instant::now();
                    let result = client.fetch(None).await;
                    let failed = result.is_err();
                    tally.record(started, &phase, at, result);
                    if failed {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    let phases = run_phases(args, phase, accepts_before);
    let mut tally = Tally::new();
    for task in tasks {
        tally.merge(rt.block_on(task).map_err(|e| e.to_string())?);
    }
    Ok((phases, tally))
}

/// The idle-connection memory line.
#[derive(Serialize)]
struct IdleReport {
    mode: &'static str,
    client: String,
    url: String,
    idle_conns: usize,
    errors: u64,
    first_error: Option<String>,
    accepted: Option<i64>,
    rss_base_kib: u64,
    rss_after_kib: u64,
    rss_per_conn: f64,
    heap_per_conn: f64,
    rss_per_accepted: Option<f64>,
    heap_per_accepted: Option<f64>,
    stack_cache_off: bool,
}

fn idle_conns(args: &Args, n: usize) -> Result<IdleReport, String> {
    let accepts_before = read_accepts(args);
    let (base, after, errors) = if args.client == "hyper" {
        idle_hyper(args, n)?
    } else {
        idle_blocking(args, n)?
    };
    let accepts_after = read_accepts(args);
    let first_error = errors.first().cloned();
    let accepted = accepts_before
        .zip(accepts_after)
        .map(|(before, after)| after - before - 1);
    let rss_growth = (after.0 as f64 - base.0 as f64) * 1024.0;
    let heap_growth = (after.1 - base.1) as f64;
    let per_accepted = |growth: f64| accepted.filter(|&a| a > 0).map(|a| growth / a as f64);
    Ok(IdleReport {
        mode: "idle",
        client: args.client.clone(),
        url: args.url.clone(),
        idle_conns: n,
        errors: errors.len() as u64,
        first_error,
        accepted,
        rss_base_kib: base.0,
        rss_after_kib: after.0,
        rss_per_conn: rss_growth / n as f64,
        heap_per_conn: heap_growth / n as f64,
        rss_per_accepted: per_accepted(rss_growth),
        heap_per_accepted: per_accepted(heap_growth),
        stack_cache_off: std::env::var("GLIBC_TUNABLES")
            .is_ok_and(|t| t.contains("stack_cache_size=0")),
    })
}

/// Resident set (KiB) and live heap bytes, once freed memory went back to the system.
fn memory() -> (u64, i64) {
    std::thread::sleep(Duration::from_millis(300));
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (rss, alloc::live_bytes())
}

type Memory = ((u64, i64), (u64, i64), Vec<String>);

fn idle_blocking(args: &Args, n: usize) -> Result<Memory, String> {
    let client = clients::blocking(&args.client, &args.url, n)?;
    let mut buf = vec![0u8; 16 * 1024];
    client.fetch(&mut buf, &mut || {})?;
    drop(buf);
    let base = memory();
    let start = Arc::new(Barrier::new(n));
    let held = Arc::new(Barrier::new(n));
    let mut threads = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, start, held) = (Arc::clone(&client), Arc::clone(&start), Arc::clone(&held));
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut buf = [0u8; 4096];
                start.wait();
                let mut waited = false;
                let result = client.fetch(&mut buf, &mut || {
                    held.wait();
                    waited = true;
                });
                if !waited {
                    held.wait();
                }
                result.err()
            })
            .map_err(|e| e.to_string())?;
        threads.push(thread);
    }
    let errors = threads
        .into_iter()
        .filter_map(|t| t.join().unwrap_or(Some("panicked".to_owned())))
        .collect();
    let after = memory();
    drop(client);
    Ok((base, after, errors))
}

fn idle_hyper(args: &Args, n: usize) -> Result<Memory, String> {
    let rt = runtime(args.threads)?;
    let client = {
        let _guard = rt.enter();
        clients::Hyper::new(&args.url, n)?
    };
    rt.block_on(client.fetch(None))?;
    let base = memory();
    let held = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, held) = (client.clone(), Arc::clone(&held));
            rt.spawn(async move { client.fetch(Some(&held)).await.err() })
        })
        .collect();
    let errors = rt.block_on(async {
        let mut errors = Vec::new();
        for task in tasks {
            if let Some(e) = task.await.unwrap_or(Some("panicked".to_owned())) {
                errors.push(e);
            }
        }
        errors
    });
    let after = memory();
    drop(client);
    Ok((base, after, errors))
}

/// nginx's `stub_status` "accepts" at `--status` (peers-server serves the same
/// page), over a connection of its own.
fn read_accepts(args: &Args) -> Option<i64> {
    let url = args.status.as_deref()?;
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(authority).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    // "server accepts handled requests\n 12 12 34"
    let mut lines = text.lines().skip_while(|l| !l.contains("accepts handled"));
    lines.nth(1)?.split_whitespace().next()?.parse().ok()
}
