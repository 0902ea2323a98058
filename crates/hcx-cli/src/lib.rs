//! `hcx`: the command-line face of the hcx HTTP/1.1 client (this crate's binary; the
//! library holds its commands, so that they are documented and tested here).
//!
//! ```text
//! hcx get URL [-X METHOD] [-H 'Name: value']... [-d DATA | --data-file FILE | -F FIELD...]
//!         [-o FILE] [-v] [-m SECS|DUR]
//! hcx load URL [-n N] [-c C] [--duration DUR] [--rate R] [--json]
//!          [--max-per-route K] [--max-total K] [--keep-alive DUR] [--validate-after DUR|never]
//! hcx demo
//! ```
//!
//! `get` and `load` also take the client flags: `--cacert FILE` (PEM roots that replace
//! the bundled Mozilla roots), `-u USER:PASSWORD` (Basic credentials for the URL's host
//! and port, sent up front, not to another host a redirect leads to; without it,
//! credentials in the URL, `http://user:password@host/`, are used the same way and never
//! shown), `--digest` (those credentials only in answer to a challenge, Digest before
//! Basic, never up front), `--proxy URL`, `--proxy-from-env`, `-U USER:PASSWORD`
//! (credentials for the proxy, first in answer to its 407, Digest before Basic; a
//! Basic answer then up front),
//! `--local-address ADDR` (connections bound to that IP address, only the target's
//! addresses of its family tried), `--connect-timeout DUR`, `--timeout DUR`
//! (the response timeout), `--max-redirects N`, `--no-redirects`, `--user-agent TEXT` and
//! `--retries N` (of a request lost in flight when replaying it is safe, and of a 429
//! or 503 answer, after its `Retry-After` when at most 30 s, or 1 s without one;
//! default 1). Durations are humantime: `500ms`, `30s`, `2m`. There is no flag that
//! turns certificate verification off.
//!
//! # `hcx get`
//!
//! Sends one request and writes the body to stdout (or `-o FILE`; `-o -` is stdout).
//! `-d` / `--data-file`
//! make the default method `POST`, and so does `-F`: curl's form fields, sent as
//! `multipart/form-data` (`-F 'name=value'`, `-F 'name=@FILE;type=MIME;filename=NAME'`
//! for a file: one over 4 KiB is read again if the request is sent again, a smaller
//! one is read once; `load` takes them too). Any status is a success; with `-v`, stderr shows
//! the exchange as it happens, from an `hcx::EventListener`: `*` lines for the lease
//! (new, or reused after how long idle, whether the stale probe ran, stale connections
//! closed first, the wait for a slot), the connect (peer, time per step, TLS version,
//! resumption, ALPN), the keep-alive decision with its reason, the body's end, the
//! release or the close with its reason, retries and redirects; `>` lines for the
//! request head as sent (credentials and cookies redacted) and `<` lines for the
//! response head.
//!
//! Where curl's habits would go wrong silently, hcx refuses instead: `-d @FILE` (curl
//! reads the file; hcx's `-d` reads none, so it would send the text `@FILE`) is a usage
//! error naming `--data-file FILE`, and a URL without its `http://` (`localhost:8080/x`)
//! is an error that says what to write. `-H 'Name:'`, nothing after the colon, sends
//! no such field, as curl's: not even the `User-Agent` or `Accept-Encoding` hcx would
//! add (then the response is not decompressed either) or the `Authorization` of `-u`
//! or the URL's credentials; `Host`, `Content-Length` and
//! `Transfer-Encoding`, which HTTP/1.1 needs hcx to write, are refused that way.
//!
//! # `hcx load`
//!
//! Sends `-n` requests (default 100), or sends for `--duration` (each request may wait
//! that long for a connection from the pool and, without `--timeout`, that long again
//! for its response, at most 3 minutes each, so a stalled server cannot keep the run
//! going),
//! optionally at most `--rate` per second in all (on a schedule; with `--duration`,
//! none starts after it has ended, however far behind a slow server left it, and the
//! run lasts it, as wrk2's, so requests/s is over the duration asked for; with `-n`
//! it lasts `n / rate`, the slots of its requests; a
//! request sent late because every thread was busy counts its latency from when it
//! was due, as wrk2 does, so a server slower than the rate shows in the percentiles), from
//! `-c` threads (default 1)
//! sharing one client, then
//! prints a summary with a one-line explanation of each figure. The pool flags default
//! to the library's (5 per route, 25 in all, 30 s keep-alive, probe on every reuse,
//! learned idle limits on), so the summary shows what a default client does. A
//! progress bar is drawn on stderr when it is a terminal. Exit 1 when no request at all
//! was answered. Ctrl-C stops the run and prints the summary of what was done, marked
//! interrupted, as ab, wrk and hey do: no request starts after it (one still waiting
//! for a pooled connection is not sent, nor counted) and, as hey's (ab and
//! wrk print at once, leaving them out), those under way finish, a stalled one at its
//! timeouts (`--connect-timeout`, `--timeout`: 3 minutes each by default, or the
//! `--duration` bound above); a second Ctrl-C ends the process at once (exit 130),
//! without a summary.
//!
//! With `--json`, stdout is one JSON object:
//!
//! | field | meaning |
//! | --- | --- |
//! | `url`, `method`, `concurrency` | what was run |
//! | `requests_planned`, `duration_planned_s`, `rate_limit_per_s` | `-n` (or the default), `--duration` in seconds, `--rate`; `null` when not set |
//! | `requests` | requests finished: `responses + errors` (retries and redirect hops are not extra requests) |
//! | `responses` | requests answered, any status, body read to its end |
//! | `errors` | requests failed |
//! | `elapsed_s`, `requests_per_s` | wall time in seconds; `requests / elapsed_s` |
//! | `interrupted` | `true` when Ctrl-C stopped the run: the figures cover the requests finished by then |
//! | `bytes_received` | body bytes received (after content decoding) |
//! | `latency_us` | `{min, mean, p50, p90, p99, p99_9, max}` in microseconds, from the send (with `--rate`, for a request that fell behind its schedule, from when it was due) to the body's end, of the answered requests (an HdrHistogram, 3 significant digits); `null`s when none was answered |
//! | `per_thread` | `{min, max}`: requests finished by the least and the most served thread |
//! | `status_codes` | `{"200": n, …}` |
//! | `errors_by_kind` | `{"connect": n, …}`, keyed by `ErrorKind::as_str()` |
//! | `error_examples` | the first error of each kind, with its causes |
//! | `connections_opened` | connections the pool opened (`ManagerStats::connections_opened`) |
//! | `leases` | connection slots leased, one per attempt |
//! | `reused_exchanges` | leases served by a pooled connection (`ConnectionInfo::reused`) |
//! | `stale_closed` | pooled connections the stale probe found closed before a lease |
//! | `idle_limit_closed`, `idle_limit_changes` | pooled connections closed before a lease for being idler than the route's learned idle limit (`ConnectionInfo::idle_limit_closed`); changes of a learned limit (`EventListener::idle_limit_changed`) |
//! | `retries`, `redirects` | attempts the RETRY layer sent again; redirects followed |
//! | `closes` | `{"response_connection_close": n, …}`: closes by `CloseReason::name()` (`custom:<text>` for custom reasons), from `ManagerStats::closes` |
//! | `pool_waits` | `{count, total_us, mean_us, longest_us, buckets: [{below_us, count}]}`: leases that queued for a slot (`ManagerStats::lease_waits`; `below_us` is `null` for the last bucket) |
//! | `pool` | `{leased, pending, available, max}` when the run ended |
//! | `routes` | `[{route, leased, pending, available, max, idle_limit}]`: each route, when the run ended; `idle_limit` is `{limit_us, survived_us, died_us}` (what the learned idle limits learned of the route: `Client::idle_limits`) or `null` |
//!
//! # `hcx demo`
//!
//! Starts the embedded test server on loopback and shows, with an explanation of each
//! figure: keep-alive reuse, what happens to a connection after each kind of answer and
//! why, `Keep-Alive: timeout` honoured, a server closing idle connections (caught by
//! the stale probe, no error), 16 threads sharing 4 connections fairly, a request
//! dropped in flight and retried, and a middlebox that forgets idle connections
//! silently, learned and never written onto again (with and without the learned
//! limit). No arguments; a few seconds.
//!
//! # Exit codes
//!
//! 0: done. 1: the request failed (unreachable host, bad URL, timeout…) or a file could
//! not be read or written; one line on stderr, `hcx: error: …`, with the error's causes
//! and its kind in brackets. 2: the command line is wrong (unknown flag, bad value),
//! also one line. 28: `hcx get --max-time` ran out (as curl's), one line.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cli;
mod client;
mod counters;
mod demo;
mod error;
mod get;
mod load;
mod summary;
mod units;
mod verbose;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

pub use crate::summary::{
    Latency, LoadSummary, PerThread, PoolCounts, PoolWaits, RouteCounts, WaitBucket,
};

/// Runs `hcx` with the process's arguments: parses them, runs the command, reports a
/// failure in one line on stderr, and returns the exit code (0, 1, 2 for a wrong
/// command line, or 28 when `hcx get --max-time` ran out, as curl's).
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli::report(&e),
    };
    let result = match &cli.command {
        Command::Get(args) => get::run(args),
        Command::Load(args) => load::run(args),
        Command::Demo => demo::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "hcx: error: {e}");
            e.exit_code()
        }
    }
}
