//! `hcx demo`: the client against the embedded test server, each step explained, and
//! a summary of every figure. Deterministic: it waits on the test server's records and
//! moves a manual clock, never sleeps to let something happen.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use hcx::{
    Client, ClientBuilder, Clock, ConnectionInfo, Decision, EventListener, IntoUri, ManualClock,
    PoolingConnectionManager, ResponseInfo, Route,
};
use hcx_testserver::{Method, RecordedRequest, Reply, SilentClose, TestServer, Version};

use crate::client::RequestTemplate;
use crate::counters::Counters;
use crate::error::CliError;
use crate::load::{self, Plan};
use crate::summary::{Figures, LoadSummary, PoolWaits, close_map};
use crate::units;
use crate::verbose::VerboseListener;

/// The bound on every wait for the test server and on every response: a demo that
/// cannot finish says so instead of hanging.
const WAIT: Duration = Duration::from_secs(10);

/// The idle timeout of the server that closes idle connections.
const SERVER_IDLE_TIMEOUT: Duration = Duration::from_millis(50);

/// How long the middlebox of step 7 remembers an idle flow.
const MIDDLEBOX_FORGETS_AFTER: Duration = Duration::from_secs(60);

/// Threads and the route limit of the shared-pool step.
const THREADS: usize = 16;
const ROUTE_LIMIT: usize = 4;
const REQUESTS_PER_THREAD: u64 = 100;

/// Writes a line to the demo's output; a failed write ends the demo.
macro_rules! say {
    ($out:expr) => {
        writeln!($out).map_err(stdout_error)?
    };
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*).map_err(stdout_error)?
    };
}

fn stdout_error(e: io::Error) -> CliError {
    CliError::io("writing to stdout", e)
}

fn wait_error(e: hcx_testserver::WaitTimeout) -> CliError {
    CliError::Other(format!("the test server did not get there: {e}"))
}

/// Runs the demo, writing to stdout.
pub fn run() -> Result<(), CliError> {
    let mut out = io::stdout();
    Demo::start()?.run(&mut out)
}

/// The demo's servers, clients and counts.
struct Demo {
    /// The main test server: every route the demo needs.
    server: TestServer,
    /// Every event of every client of the demo, for the summary.
    counters: Arc<Counters>,
    /// Every client made, for the summary's pool figures.
    clients: Vec<Client>,
    /// What the other test servers saw: (connections accepted, requests).
    other_servers: Vec<(usize, usize)>,
}

impl Demo {
    fn start() -> Result<Self, CliError> {
        let server = TestServer::builder()
            .route(Method::GET, "/hello", Reply::ok().body("hello, world"))
            .route(
                Method::GET,
                "/close",
                Reply::ok().body("bye").connection_close(),
            )
            .route(
                Method::GET,
                "/http10",
                Reply::ok()
                    .version(Version::HTTP_10)
                    .close_delimited()
                    .body("old school"),
            )
            .route(
                Method::GET,
                "/chunked",
                Reply::ok()
                    .chunked()
                    .chunk_size(4)
                    .trailer("x-checksum", "42")
                    .body("streamed in chunks"),
            )
            .route(
                Method::GET,
                "/no-idle",
                Reply::ok()
                    .header("Keep-Alive", "timeout=0")
                    .body("no idle"),
            )
            .route(
                Method::GET,
                "/short-keep-alive",
                Reply::ok().header("Keep-Alive", "timeout=2").body("brief"),
            )
            .route_fn(Method::GET, "/shared", first_together(ROUTE_LIMIT))
            .keep_requests(64)
            .start()
            .map_err(|e| CliError::io("cannot start the test server", e))?;
        Ok(Demo {
            server,
            counters: Arc::new(Counters::default()),
            clients: Vec::new(),
            other_servers: Vec::new(),
        })
    }

    /// `builder` with the demo's listener and bounds, built and remembered.
    fn client(&mut self, builder: ClientBuilder) -> Result<Client, CliError> {
        self.client_with(builder, Arc::clone(&self.counters))
    }

    fn client_with(
        &mut self,
        builder: ClientBuilder,
        listener: impl EventListener + 'static,
    ) -> Result<Client, CliError> {
        let client = builder
            .event_listener(listener)
            .response_timeout(Some(WAIT))
            .connection_request_timeout(WAIT)
            .build()?;
        self.clients.push(client.clone());
        Ok(client)
    }

    /// `builder` over a pool whose clock is `clock` (which the demo moves by hand),
    /// with the demo's listener, built and remembered.
    fn client_on_clock(
        &mut self,
        clock: &ManualClock,
        builder: ClientBuilder,
    ) -> Result<Client, CliError> {
        let listener: Arc<dyn EventListener> = self.counters.clone();
        let manager = PoolingConnectionManager::builder()
            .clock(clock.clone())
            .event_listener(listener)
            .build()?;
        let client = builder
            .connection_manager(manager)
            .response_timeout(Some(WAIT))
            .build()?;
        self.clients.push(client.clone());
        Ok(client)
    }

    fn run(mut self, out: &mut dyn Write) -> Result<(), CliError> {
        let started = Instant::now();
        say!(
            out,
            "hcx demo: the client against its embedded test server on {}",
            self.server.authority()
        );
        let client = self.reuse(out)?;
        self.decisions(out, &client)?;
        self.keep_alive_timeout(out)?;
        self.idle_close(out, &client)?;
        self.shared_pool(out)?;
        self.retry(out)?;
        self.middlebox(out)?;
        self.summary(out, started.elapsed())
    }

    /// 1. Sequential requests share one connection.
    fn reuse(&mut self, out: &mut dyn Write) -> Result<Client, CliError> {
        say!(out);
        say!(
            out,
            "1. keep-alive: sequential requests share one connection"
        );
        let client = self.client(Client::builder())?;
        let before = self.server.stats().connections_accepted;
        for i in 0..100 {
            let response = client.get(self.server.url("/hello"))?;
            let info = ResponseInfo::of(&response).map(|i| i.connection);
            // Reading the body to its end gives the connection back to the pool.
            let body = response.into_body().into_string()?;
            if i < 2 {
                say!(out, "   request {}: {body:?} {}", i + 1, how(info));
            }
        }
        let accepted = self.server.stats().connections_accepted - before;
        say!(
            out,
            "   100 requests, {accepted} connection{} accepted by the server: each response's end gave",
            if accepted == 1 { "" } else { "s" }
        );
        say!(
            out,
            "   the connection back to the pool, and the next request took it (after a stale probe)"
        );
        Ok(client)
    }

    /// 2. What each kind of answer does to its connection, and why.
    fn decisions(&mut self, out: &mut dyn Write, client: &Client) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "2. after each response: keep the connection, or close it and say why"
        );
        for path in ["/close", "/http10", "/no-idle", "/chunked", "/hello"] {
            let response = client.get(self.server.url(path))?;
            let decision = ResponseInfo::of(&response).map(|i| i.decision);
            let body = response.into_body().into_string()?;
            let verdict = decision.map_or_else(|| "no decision".to_string(), |d| d.to_string());
            say!(out, "   GET {path:<9} -> {body:<22} {verdict}");
        }
        say!(
            out,
            "   (the chunked body's trailers were read to its end, so its connection stays reusable)"
        );
        Ok(())
    }

    /// 3. `Keep-Alive: timeout=2` honoured, on a clock the demo moves by hand.
    fn keep_alive_timeout(&mut self, out: &mut dyn Write) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "3. Keep-Alive: timeout=2 honoured (a client of its own, whose pool's clock the demo"
        );
        say!(out, "   moves by hand: no waiting)");
        let clock = ManualClock::new();
        let client = self.client_on_clock(&clock, Client::builder())?;
        let url = self.server.url("/short-keep-alive");

        let response = client.get(&url)?;
        let response_info = ResponseInfo::of(&response);
        let decision = response_info.map(|i| i.decision);
        let info = response_info.map(|i| i.connection);
        response.into_body().into_string()?;
        let verdict = decision.map_or_else(|| "no decision".to_string(), |d| d.to_string());
        say!(
            out,
            "   GET /short-keep-alive {}: {verdict} (the server's 2s less a safety margin,",
            how(info)
        );
        say!(
            out,
            "   so that no request is sent just as the server closes the connection)"
        );

        clock.advance(Duration::from_millis(500));
        let response = client.get(&url)?;
        let info = ResponseInfo::of(&response).map(|i| i.connection);
        response.into_body().into_string()?;
        say!(out, "   0.5s later: {}", how(info));

        clock.advance(Duration::from_millis(1500));
        let response = client.get(&url)?;
        let info = ResponseInfo::of(&response).map(|i| i.connection);
        response.into_body().into_string()?;
        let expired = client.stats().closes.get(hcx::CloseReason::Expired);
        say!(
            out,
            "   1.5s later: the pooled connection's keep-alive had run out: {expired} closed as expired,"
        );
        say!(out, "   and the request went {}", how(info));
        Ok(())
    }

    /// 4. A server that closes idle connections: the stale probe catches it.
    fn idle_close(&mut self, out: &mut dyn Write, client: &Client) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "4. a server that closes idle connections after {} (its keep-alive timeout)",
            units::duration(SERVER_IDLE_TIMEOUT)
        );
        let idle = TestServer::builder()
            .idle_timeout(SERVER_IDLE_TIMEOUT)
            .route(Method::GET, "/", Reply::ok().body("still here"))
            .start()
            .map_err(|e| CliError::io("cannot start the idle-closing test server", e))?;
        let url = idle.url("/");

        let response = client.get(&url)?;
        let first = ResponseInfo::of(&response).map(|i| i.connection);
        let body = response.into_body().into_string()?;
        say!(out, "   GET / -> {body:?} {}, kept in the pool", how(first));

        idle.wait_for_closed(1, WAIT).map_err(wait_error)?;
        wait_until_stale(client, &url)?;
        let why = idle
            .connections()
            .first()
            .and_then(|c| c.closed)
            .map_or_else(|| "unknown".to_string(), |r| r.to_string());
        say!(
            out,
            "   the server closed it while it sat idle (the server's record: {why}); no one told the client"
        );

        let retries_before = self.counters.counts().retries;
        let response = client.get(&url)?;
        let second = ResponseInfo::of(&response).map(|i| i.connection);
        let body = response.into_body().into_string()?;
        let retried = self.counters.counts().retries - retries_before;
        let stale = second.map_or(0, |i| i.stale_discarded);
        say!(
            out,
            "   GET / -> {body:?}: the stale probe found {stale} closed connection and discarded it,"
        );
        say!(
            out,
            "   then the request went {}; no error, {retried} retries",
            how(second)
        );
        let stats = idle.stats();
        self.other_servers
            .push((stats.connections_accepted, stats.requests_received));
        Ok(())
    }

    /// 5. 16 threads on 4 connections: the pool makes them wait in line.
    fn shared_pool(&mut self, out: &mut dyn Write) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "5. {THREADS} threads share one client whose route allows {ROUTE_LIMIT} connections"
        );
        say!(
            out,
            "   (as: hcx load URL -n {} -c {THREADS} --max-per-route {ROUTE_LIMIT}; the server holds",
            REQUESTS_PER_THREAD * THREADS as u64
        );
        say!(
            out,
            "   its first {ROUTE_LIMIT} requests until all {ROUTE_LIMIT} are in, so every connection is busy at once)"
        );
        let own = Arc::new(Counters::default());
        let client = self.client_with(
            Client::builder()
                .max_per_route(ROUTE_LIMIT)
                .max_total(2 * ROUTE_LIMIT),
            (Arc::clone(&self.counters), Arc::clone(&own)),
        )?;
        let before = self.server.stats().connections_accepted;
        let plan = Plan {
            template: RequestTemplate::get(&self.server.url("/shared"))?,
            concurrency: THREADS,
            requests: Some(REQUESTS_PER_THREAD * THREADS as u64),
            duration: None,
            rate: None,
            progress: false,
        };
        let outcome = load::execute(&client, &plan)?;
        let s = LoadSummary::new(&plan, &outcome, &own.counts(), &client);
        let accepted = self.server.stats().connections_accepted - before;
        let mut f = Figures::default();
        f.row(
            "requests",
            s.requests,
            format!("{} answered, {} failed", s.responses, s.errors),
        );
        f.row(
            "requests/s",
            format!("{:.0}", s.requests_per_s),
            format!("in {} of wall time", units::seconds(s.elapsed_s)),
        );
        let l = &s.latency_us;
        for (label, value, explain) in [
            (
                "latency p50",
                l.p50,
                "half the requests took at most this, waits included",
            ),
            ("latency p99", l.p99, "99 in 100 took at most this"),
            ("latency max", l.max, "the slowest"),
        ] {
            f.row(
                label,
                value.map_or_else(String::new, units::micros),
                explain,
            );
        }
        f.row(
            "connections",
            s.connections_opened,
            format!(
                "opened ({accepted} accepted by the server): never more than the route's {ROUTE_LIMIT}"
            ),
        );
        f.row(
            "reused",
            s.reused_exchanges,
            format!(
                "of {} leases took a pooled connection; the rest opened one",
                s.leases
            ),
        );
        f.row(
            "pool waits",
            s.pool_waits.count,
            format!(
                "leases found all {ROUTE_LIMIT} connections busy and queued (mean {}, longest {})",
                s.pool_waits
                    .mean_us
                    .map_or_else(|| "-".into(), units::micros),
                s.pool_waits
                    .longest_us
                    .map_or_else(|| "-".into(), units::micros),
            ),
        );
        f.row(
            "per thread",
            format!("{}..{}", s.per_thread.min, s.per_thread.max),
            "requests each thread finished, fewest..most: a freed connection goes to the \
             longest waiter, so no thread starves",
        );
        f.row(
            "pool at end",
            "",
            format!(
                "{} of {} leased, {} idle, {} waiting",
                s.pool.leased, s.pool.max, s.pool.available, s.pool.pending
            ),
        );
        f.write(out, "   ").map_err(stdout_error)?;
        Ok(())
    }

    /// 6. A request lost in flight, replayed by the RETRY layer.
    fn retry(&mut self, out: &mut dyn Write) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "6. a request dropped in flight, sent again by the RETRY layer"
        );
        let flaky = TestServer::builder()
            .route(Method::GET, "/flaky", Reply::ok().body("answered"))
            .silent_close_after(2, SilentClose::WithoutResponse)
            .start()
            .map_err(|e| CliError::io("cannot start the flaky test server", e))?;
        let verbose = Arc::new(VerboseListener::new(io::stdout()).with_prefix("   | "));
        verbose.set_muted(true);
        let client = self.client_with(
            Client::builder(),
            (Arc::clone(&self.counters), Arc::clone(&verbose)),
        )?;
        let url = flaky.url("/flaky");
        client.get(&url)?.into_body().into_string()?;
        say!(
            out,
            "   this server answers the first request on each connection, and reads the second"
        );
        say!(
            out,
            "   and closes without a word. A GET on the pooled connection, as `hcx get -v` shows it:"
        );
        out.flush().map_err(stdout_error)?;
        verbose.set_muted(false);
        let answer = client.get(&url).and_then(|response| {
            let status = response.status();
            Ok((status, response.into_body().into_string()?))
        });
        verbose.set_muted(true);
        let (status, body) = answer?;
        say!(
            out,
            "   -> {status} {body:?}: nothing came back and a GET is idempotent, so RETRY sent it"
        );
        say!(
            out,
            "   again on a new connection; the caller saw the answer, not the error"
        );
        let stats = flaky.stats();
        self.other_servers
            .push((stats.connections_accepted, stats.requests_received));
        Ok(())
    }

    /// 7. A middlebox that forgets idle flows silently, and the learned idle limit.
    fn middlebox(&mut self, out: &mut dyn Write) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "7. a NAT or load balancer that forgets flows idle {}s, without a word to either side",
            MIDDLEBOX_FORGETS_AFTER.as_secs()
        );
        say!(
            out,
            "   (server and pool on one clock the demo moves by hand; the server allows an hour)"
        );
        let clock = ManualClock::new();
        let server_clock = clock.clone();
        let kept = || Reply::ok().header("Keep-Alive", "timeout=3600");
        let server = TestServer::builder()
            .route(Method::GET, "/", kept().body("got"))
            .route(Method::POST, "/orders", kept().body("posted"))
            .silent_drop_after(MIDDLEBOX_FORGETS_AFTER)
            .clock(move || server_clock.now())
            .start()
            .map_err(|e| CliError::io("cannot start the middlebox test server", e))?;
        let post = |client: &Client, what: &str| {
            client
                .post(server.url("/orders"), what.to_string())
                .and_then(|r| r.into_body().into_string())
        };

        let client = self.client_on_clock(&clock, Client::builder())?;
        client.get(server.url("/"))?.into_body().into_string()?;
        clock.advance(Duration::from_secs(45));
        post(&client, "order 1")?;
        say!(
            out,
            "   GET, then 45s idle, POST order 1: answered on the same connection"
        );
        clock.advance(Duration::from_secs(70));
        let response = client.get(server.url("/"))?;
        let info = ResponseInfo::of(&response).map(|i| i.connection);
        response.into_body().into_string()?;
        let learned = client
            .idle_limits()
            .first()
            .map_or_else(|| "nothing".to_string(), |(_, bounds)| bounds.to_string());
        say!(
            out,
            "   70s idle, GET: the middlebox reset it; RETRY sent it again {}",
            how(info)
        );
        say!(out, "   the route's learned idle limit: {learned}");
        clock.advance(Duration::from_secs(70));
        let response = client.post(server.url("/orders"), "order 2".to_string())?;
        let info = ResponseInfo::of(&response).map(|i| i.connection);
        response.into_body().into_string()?;
        let closed = info.map_or(0, |i| i.idle_limit_closed);
        say!(
            out,
            "   70s idle, POST order 2: {closed} pooled connection closed before use, idler than"
        );
        say!(
            out,
            "   the limit; the POST went {} and was answered",
            how(info)
        );

        let without = self.client_on_clock(&clock, Client::builder().learn_idle_limits(false))?;
        without.get(server.url("/"))?.into_body().into_string()?;
        clock.advance(Duration::from_secs(70));
        let lost = match post(&without, "order 3") {
            Ok(_) => "answered".to_string(),
            Err(e) => format!("{:?}", e.kind()),
        };
        say!(
            out,
            "   the same without the learned limit (as every other client): 70s idle, POST order 3"
        );
        say!(
            out,
            "   -> {lost}: written onto the forgotten connection, and a POST is not sent twice"
        );
        let orders: Vec<String> = server
            .requests()
            .iter()
            .filter(|r| r.method == Method::POST)
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        say!(
            out,
            "   the server's record: {} POSTs reached it ({}), {} requests reset by the middlebox",
            orders.len(),
            orders.join(", "),
            server.dropped_requests().len()
        );
        let stats = server.stats();
        self.other_servers
            .push((stats.connections_accepted, stats.requests_received));
        Ok(())
    }

    /// Every figure of the demo, all clients together.
    fn summary(&self, out: &mut dyn Write, elapsed: Duration) -> Result<(), CliError> {
        say!(out);
        say!(
            out,
            "summary: the whole demo, {} clients together, in {}",
            self.clients.len(),
            units::duration(elapsed)
        );
        let counts = self.counters.counts();
        let mut opened = 0;
        let mut waits = 0;
        let mut closes: BTreeMap<String, u64> = BTreeMap::new();
        for client in &self.clients {
            let stats = client.stats();
            opened += stats.connections_opened;
            waits += PoolWaits::new(&stats.lease_waits).count;
            for (reason, n) in close_map(&stats.closes) {
                *closes.entry(reason).or_default() += n;
            }
        }
        let server = self.server.stats();
        let (mut accepted, mut received) = (server.connections_accepted, server.requests_received);
        for (a, r) in &self.other_servers {
            accepted += a;
            received += r;
        }
        let mut f = Figures::default();
        f.row(
            "requests sent",
            counts.heads_written,
            "request heads written to a connection, retries included",
        );
        let lost = counts.heads_written.saturating_sub(counts.heads_read);
        f.row(
            "responses",
            counts.heads_read,
            if lost == counts.retries {
                format!("response heads read: every request was answered ({lost} lost in flight and retried)")
            } else {
                format!(
                    "response heads read: {lost} requests got none ({} sent again by RETRY, {} failed)",
                    counts.retries,
                    lost.saturating_sub(counts.retries)
                )
            },
        );
        f.row(
            "connections",
            opened,
            format!(
                "opened by the clients ({accepted} accepted by the test servers, which read {received} requests)"
            ),
        );
        f.row(
            "reused",
            counts.reused,
            format!(
                "of {} leases took a pooled connection instead of connecting",
                counts.leases
            ),
        );
        f.row(
            "stale closed",
            counts.stale_closed,
            "pooled connections the server had closed, found by the stale probe before use",
        );
        f.row(
            "idle-limit closed",
            counts.idle_limit_closed,
            "pooled connections idler than a learned idle limit, closed instead of used",
        );
        f.row(
            "retries",
            counts.retries,
            "requests the RETRY layer sent again because the first attempt was lost",
        );
        f.row(
            "pool waits",
            waits,
            "leases that queued for a connection another thread held",
        );
        f.row(
            "closes",
            closes.values().sum::<u64>(),
            "connections the clients closed, each with its reason:",
        );
        for (reason, n) in &closes {
            f.row(format!("  {reason}"), n, explain(reason));
        }
        f.write(out, "   ").map_err(stdout_error)?;
        say!(
            out,
            "   (idle connections still in the pools are not closed yet: they close when the clients go)"
        );
        Ok(())
    }
}

/// A handler that holds the first `n` requests until all `n` have arrived (or `WAIT`
/// has passed), then answers every request at once: the first `n` are in flight
/// together, on `n` connections, whatever the threads' scheduling.
fn first_together(n: usize) -> impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static {
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    move |_request| {
        let (count, all_in) = &*arrived;
        let mut count = count.lock().unwrap_or_else(PoisonError::into_inner);
        *count += 1;
        if *count <= n {
            all_in.notify_all();
            let _held = all_in
                .wait_timeout_while(count, WAIT, |c| *c < n)
                .unwrap_or_else(PoisonError::into_inner);
        }
        Reply::ok().body("hello, world")
    }
}

/// How a response's connection was obtained, in words.
fn how(info: Option<ConnectionInfo>) -> String {
    match info {
        Some(i) if i.reused => {
            let idle = i
                .idle_for
                .filter(|d| !d.is_zero())
                .map_or_else(String::new, |d| {
                    format!(" after {} idle", units::duration(d))
                });
            let probe = if i.probed { ", stale probe ran" } else { "" };
            format!("on connection #{} reused{idle}{probe}", i.connection_id)
        }
        Some(i) => format!("on new connection #{}", i.connection_id),
        None => String::from("on an unknown connection"),
    }
}

fn explain(reason: &str) -> &'static str {
    hcx::CloseReason::ALL
        .iter()
        .find(|r| r.name() == reason)
        .map_or("a reason of the application's", hcx::CloseReason::explain)
}

/// Waits until the client's idle connection to `url` reads as closed. The test server
/// records a close just before it shuts the socket, so `wait_for_closed` can return a
/// moment before the FIN reaches the client; this makes the next request's stale probe
/// certain to see it. It checks the socket, as the probe does, and never sleeps.
fn wait_until_stale(client: &Client, url: &str) -> Result<(), CliError> {
    let route = Route::from_uri(&url.into_uri()?)?;
    let mut lease = client
        .connection_manager()
        .pool()
        .lease(&route, None)
        .get(WAIT)
        .map_err(|e| CliError::Other(format!("no pooled connection to {route}: {e}")))?;
    let deadline = Instant::now() + WAIT;
    loop {
        let Some(conn) = lease.connection_mut() else {
            return Err(CliError::Other(format!(
                "no idle connection to {route} in the pool"
            )));
        };
        if conn.is_stale() {
            break;
        }
        if Instant::now() > deadline {
            return Err(CliError::Other(format!(
                "the server's close of the connection to {route} never reached the client"
            )));
        }
        thread::yield_now();
    }
    // Back to the pool as it was found, for the request's own probe to discard.
    lease.release(Decision::keep(None));
    Ok(())
}
