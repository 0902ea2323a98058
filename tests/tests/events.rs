//! The event listener end to end: what a recording listener sees, in order, for new
//! and reused connections, closes with their reasons, lease waits and failures,
//! connect failures, retries, redirects and TLS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{SAFETY, TestResult, wait_until_idle_connection_is_stale};
use hcx::{
    CloseReason, Connected, ConnectionInfo, ConnectionRef, Decision, Error, EventListener,
    RedirectEvent, ResponseHeadRef, RetryCause, RetryEvent, Route,
};
use hcx_testserver::{Method, Reply, SilentClose, TestServer};
use parking_lot::Mutex;

/// Every event as one line of text, in order.
#[derive(Default)]
struct Recorder {
    lines: Mutex<Vec<String>>,
}

impl Recorder {
    fn push(&self, line: String) {
        self.lines.lock().push(line);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock())
    }
}

impl EventListener for Recorder {
    fn lease_requested(&self, _route: &Route) {
        self.push("lease".into());
    }
    fn leased(&self, _route: &Route, info: &ConnectionInfo) {
        let how = if info.reused { "reused" } else { "new" };
        let how = format!("{how} #{}", info.connection_id);
        let waited = if info.lease_waited.is_some() {
            " after waiting"
        } else {
            ""
        };
        let stale = match info.stale_discarded {
            0 => String::new(),
            n => format!(" ({n} stale closed)"),
        };
        self.push(format!("leased {how}{waited}{stale}"));
    }
    fn lease_failed(&self, _route: &Route, error: &Error) {
        self.push(format!("lease failed: {:?}", error.kind()));
    }
    fn connect_start(&self, _route: &Route) {
        self.push("connect".into());
    }
    fn connect_end(&self, _route: &Route, result: Result<&Connected, &Error>) {
        match result {
            Ok(c) => {
                let tls = c.tls.as_ref().map_or(String::new(), |t| {
                    format!(" tls {} resumed={}", t.version, t.resumed)
                });
                self.push(format!("connected #{}{tls}", c.connection_id));
            }
            Err(e) => self.push(format!("connect failed: {:?}", e.kind())),
        }
    }
    fn request_head_written(&self, conn: &ConnectionRef<'_>, head: &[u8]) {
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        self.push(format!("#{} >> {line}", conn.id));
    }
    fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {
        self.push(format!("#{} << {}", conn.id, head.status.as_u16()));
    }
    fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        self.push(format!("#{} decided {}", conn.id, short(decision)));
    }
    fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {
        self.push(format!("#{} body {bytes} bytes", conn.id));
    }
    fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        self.push(format!("#{} released {}", conn.id, short(decision)));
    }
    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        self.push(format!("#{} closed {}", conn.id, reason.name()));
    }
    fn retry(&self, event: &RetryEvent<'_>) {
        let cause = match event.cause {
            RetryCause::Error(e) => format!("{:?}", e.kind()),
            RetryCause::Status(s) => s.as_u16().to_string(),
            _ => "?".into(),
        };
        self.push(format!("retry attempt {} after {cause}", event.attempt));
    }
    fn redirect(&self, event: &RedirectEvent<'_>) {
        self.push(format!(
            "redirect {} to {} ({} {})",
            event.from.path(),
            event.to.path(),
            event.status.as_u16(),
            event.method
        ));
    }
}

fn short(decision: Decision) -> String {
    match decision.close_reason() {
        Some(reason) => format!("close {}", reason.name()),
        None => "keep".into(),
    }
}

fn client_with(recorder: &Arc<Recorder>) -> Result<hcx::Client, hcx::Error> {
    hcx::Client::builder()
        .event_listener(Arc::clone(recorder))
        .response_timeout(Some(SAFETY))
        .build()
}

#[test]
fn a_new_then_a_reused_connection_then_a_close() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello"))
        .route(
            Method::GET,
            "/bye",
            Reply::ok().body("bye").connection_close(),
        )
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(
        recorder.take(),
        [
            "lease",
            "leased new #1",
            "connect",
            "connected #1",
            "#1 >> GET / HTTP/1.1",
            "#1 << 200",
            "#1 decided keep",
            "#1 body 5 bytes",
            "#1 released keep",
        ]
    );
    client.get(server.url("/bye"))?.into_body().into_string()?;
    assert_eq!(
        recorder.take(),
        [
            "lease",
            "leased reused #1",
            "#1 >> GET /bye HTTP/1.1",
            "#1 << 200",
            "#1 decided close response_connection_close",
            "#1 body 3 bytes",
            "#1 released close response_connection_close",
            "#1 closed response_connection_close",
        ]
    );
    Ok(())
}

#[test]
fn a_body_drained_when_dropped_reports_body_done_before_released() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("0123456789"))
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    // Dropped unread (as REDIRECT drops every 3xx): the 10 bytes are drained, the
    // connection kept.
    drop(client.get(server.url("/"))?);
    assert_eq!(client.stats().pool.available, 1);
    let lines = recorder.take();
    assert_eq!(
        lines[lines.len() - 3..],
        ["#1 decided keep", "#1 body 10 bytes", "#1 released keep"]
    );
    Ok(())
}

/// A body cut off before its end has no `body_done` and no `released`: its connection
/// goes straight to `closed`, also when the response had said to close it anyway
/// (then for that reason, the one its `ResponseInfo` gives).
#[test]
fn a_body_cut_off_on_a_connection_to_close_goes_straight_to_closed() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok().generated_body(100_000).connection_close(),
        )
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    // Dropped unread: nothing to drain for, the connection closes.
    drop(client.get(server.url("/"))?);
    client.get(server.url("/"))?.into_body().discard();
    assert_eq!(
        client
            .stats()
            .closes
            .get(CloseReason::ResponseConnectionClose),
        2
    );
    let lines = recorder.take();
    let cut_off = [
        "#1 decided close response_connection_close",
        "#1 closed response_connection_close",
    ];
    assert_eq!(lines[6..8], cut_off, "{lines:#?}");
    assert_eq!(
        lines[lines.len() - 2..],
        cut_off.map(|line| line.replace("#1", "#2")),
        "{lines:#?}"
    );
    Ok(())
}

/// A request body that notes each read of it among the events.
struct NotedReader {
    recorder: Arc<Recorder>,
    left: usize,
    reads: usize,
}

impl std::io::Read for NotedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left).min(8 * 1024);
        if n > 0 {
            self.left -= n;
            self.reads += 1;
            buf[..n].fill(b'x');
            self.recorder.push(format!("body read {}", self.reads));
        }
        Ok(n)
    }
}

#[test]
fn the_head_is_reported_written_before_the_rest_of_a_streamed_body_is_read() -> TestResult {
    let server = TestServer::builder()
        .route(Method::POST, "/up", Reply::ok())
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    let len = 40 * 1024;
    let body = hcx::Body::sized_reader(
        NotedReader {
            recorder: Arc::clone(&recorder),
            left: len,
            reads: 0,
        },
        len as u64,
    );
    let request = http::Request::post(server.url("/up")).body(body)?;
    client.execute(request)?.into_body().into_string()?;
    let lines = recorder.take();
    let at = |wanted: &str| {
        lines
            .iter()
            .position(|line| line == wanted)
            .ok_or(format!("no {wanted:?} in {lines:?}"))
    };
    // The head goes out with the first 16 KiB (two reads of 8 KiB), and is reported
    // then, not after the whole body.
    let head = at("#1 >> POST /up HTTP/1.1")?;
    assert!(at("body read 2")? < head, "{lines:?}");
    assert!(head < at("body read 3")?, "{lines:?}");
    assert!(at("body read 5")? > head, "{lines:?}");
    Ok(())
}

#[test]
fn a_response_without_a_body_reports_body_done_of_no_bytes() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::HEAD,
            "/",
            Reply::ok()
                .header("Content-Length", "1234")
                .without_framing(),
        )
        .route(Method::GET, "/204", Reply::new(204u16).without_framing())
        .route(Method::GET, "/empty", Reply::ok().body(""))
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    let head = hcx::Body::empty();
    drop(client.execute(http::Request::head(server.url("/")).body(head)?)?);
    drop(client.get(server.url("/204"))?);
    drop(client.get(server.url("/empty"))?);
    let lines = recorder.take();
    let ends: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("body") || l.contains("released"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        ends,
        [
            "#1 body 0 bytes",
            "#1 released keep",
            "#1 body 0 bytes",
            "#1 released keep",
            "#1 body 0 bytes",
            "#1 released keep",
        ]
    );
    Ok(())
}

#[test]
fn a_pair_of_listeners_both_see_every_event() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/bye",
            Reply::ok().body("bye").connection_close(),
        )
        .start()?;
    let (first, second) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let client = hcx::Client::builder()
        .event_listener((Arc::clone(&first), Arc::clone(&second)))
        .response_timeout(Some(SAFETY))
        .build()?;
    client.get(server.url("/bye"))?.into_body().into_string()?;
    let seen = first.take();
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("#1 closed response_connection_close")
    );
    assert_eq!(second.take(), seen);
    Ok(())
}

#[test]
fn a_stale_pooled_connection_is_reported_closed_before_the_new_one() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .idle_timeout(Duration::from_millis(50))
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    client.get(server.url("/"))?.into_body().into_string()?;
    server.wait_for_closed(1, SAFETY)?;
    wait_until_idle_connection_is_stale(&client, &common::route(&server.url("/"))?)?;
    recorder.take();
    client.get(server.url("/"))?.into_body().into_string()?;
    let lines = recorder.take();
    assert_eq!(
        lines[..4],
        [
            "lease",
            "#1 closed stale",
            "leased new #2 (1 stale closed)",
            "connect"
        ]
    );
    Ok(())
}

#[test]
fn retries_and_redirects_are_reported() -> TestResult {
    let landing = TestServer::builder()
        .route(Method::GET, "/landing", Reply::ok().body("here"))
        .start()?;
    // Every connection's second request is read and dropped unanswered.
    let flaky = TestServer::builder()
        .route(
            Method::GET,
            "/flaky",
            Reply::new(302u16).header("location", landing.url("/landing")),
        )
        .silent_close_after(2, SilentClose::WithoutResponse)
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    // One pooled connection to each server.
    client.get(flaky.url("/flaky"))?.into_body().into_string()?;
    recorder.take();
    let body = client.get(flaky.url("/flaky"))?.into_body().into_string()?;
    assert_eq!(body, "here");
    let lines = recorder.take();
    let notable: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("retry") || l.starts_with("redirect") || l.contains("closed"))
        .collect();
    assert_eq!(
        notable,
        [
            "#1 closed failed_exchange",
            "retry attempt 1 after ClosedBeforeResponse",
            "redirect /flaky to /landing (302 GET)",
        ],
        "{lines:#?}"
    );
    Ok(())
}

#[test]
fn lease_waits_and_failures_are_reported_and_counted() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = hcx::Client::builder()
        .event_listener(Arc::clone(&recorder))
        .max_per_route(1)
        .connection_request_timeout(Duration::from_millis(20))
        .response_timeout(Some(SAFETY))
        .build()?;
    let held = client.get(server.url("/"))?;
    recorder.take();
    let error = client.get(server.url("/")).err().ok_or("no slot")?;
    assert!(error.is_lease_timeout());
    assert_eq!(recorder.take(), ["lease", "lease failed: LeaseTimeout"]);
    let waits = client.stats().lease_waits;
    assert_eq!(waits.count(), 1);
    assert!(waits.total() >= Duration::from_millis(20), "{waits}");
    drop(held);
    assert_eq!(client.stats().lease_waits.count(), 1, "no wait when free");
    Ok(())
}

#[test]
fn a_failed_connect_is_reported() -> TestResult {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let recorder = Arc::new(Recorder::default());
    let client = client_with(&recorder)?;
    let error = client
        .get(format!("http://127.0.0.1:{port}/"))
        .err()
        .ok_or("nothing listens")?;
    assert_eq!(error.kind(), hcx::ErrorKind::Connect);
    let lines = recorder.take();
    assert_eq!(
        lines[..4],
        [
            "lease",
            "leased new #1",
            "connect",
            "connect failed: Connect"
        ],
        "{lines:#?}"
    );
    Ok(())
}

#[test]
fn a_tls_connect_reports_the_session() -> TestResult {
    let ca = hcx_testserver::TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("s"))
        .close_after(1)
        .start()?;
    let config = hcx::rustls::ClientConfig::builder_with_provider(hcx::crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(ca.root_store())
        .with_no_client_auth();
    let recorder = Arc::new(Recorder::default());
    let client = hcx::Client::builder()
        .event_listener(Arc::clone(&recorder))
        .tls_config(Arc::new(config))
        .response_timeout(Some(SAFETY))
        .build()?;
    for _ in 0..2 {
        client.get(server.url("/"))?.into_body().into_string()?;
    }
    let connected: Vec<String> = recorder
        .take()
        .into_iter()
        .filter(|l| l.starts_with("connected"))
        .collect();
    assert_eq!(
        connected,
        [
            "connected #1 tls TLSv1_3 resumed=false",
            "connected #2 tls TLSv1_3 resumed=true"
        ]
    );
    Ok(())
}

/// `redirect` and `retry` are reported once the `3xx` or the retried response has given
/// its connection back: with one slot in all, a request made from the callback gets it.
mod callbacks_after_the_slot_is_free {
    use std::cell::Cell;
    use std::sync::{Arc, Mutex, OnceLock, mpsc};
    use std::thread;
    use std::time::Duration;

    use hcx::Client;
    use hcx_testserver::{Method, Reply, TestServer};

    /// What the callback saw: leased and idle counts, and its own request's outcome.
    type Seen = (usize, usize, Result<String, hcx::ErrorKind>);

    thread_local!(static NESTED: Cell<bool> = const { Cell::new(false) });

    /// On the event named `on`, records the pool's counts and sends one nested request.
    struct Probe {
        on: &'static str,
        client: OnceLock<Client>,
        url: OnceLock<String>,
        seen: Mutex<Vec<Seen>>,
    }

    impl Probe {
        fn hook(&self, event: &str) {
            if event != self.on || NESTED.with(Cell::get) {
                return;
            }
            let (Some(client), Some(url)) = (self.client.get(), self.url.get()) else {
                return;
            };
            let stats = client.stats().pool;
            NESTED.with(|n| n.set(true));
            let nested = client
                .get(url.as_str())
                .and_then(|r| r.into_body().into_string())
                .map_err(|e| e.kind());
            NESTED.with(|n| n.set(false));
            if let Ok(mut seen) = self.seen.lock() {
                seen.push((stats.leased, stats.available, nested));
            }
        }
    }

    impl hcx::EventListener for Probe {
        fn redirect(&self, _: &hcx::RedirectEvent<'_>) {
            self.hook("redirect");
        }
        fn retry(&self, _: &hcx::RetryEvent<'_>) {
            self.hook("retry");
        }
    }

    /// One request to `path` on a client with a single connection slot; returns what the
    /// probe saw inside the callback.
    fn run(on: &'static str) -> Result<Vec<Seen>, String> {
        let other = TestServer::builder()
            .route(Method::GET, "/other", Reply::ok().body("other"))
            .start()
            .map_err(|e| e.to_string())?;
        let first = TestServer::builder()
            .route(Method::GET, "/plain", Reply::ok().body("plain"))
            .route(
                Method::GET,
                "/moved",
                Reply::new(302u16)
                    .header("location", other.url("/other").as_str())
                    .body("moved"),
            )
            .route_seq(
                Method::GET,
                "/busy",
                [
                    Reply::new(503u16).header("retry-after", "0").body("busy"),
                    Reply::ok().body("plain"),
                ],
            )
            .start()
            .map_err(|e| e.to_string())?;
        let probe = Arc::new(Probe {
            on,
            client: OnceLock::new(),
            url: OnceLock::new(),
            seen: Mutex::new(Vec::new()),
        });
        let client = Client::builder()
            .max_total(1)
            .connection_request_timeout(Duration::from_millis(300))
            .response_timeout(Some(super::common::SAFETY))
            .retry_sleeper(|_: Duration| {})
            .event_listener(Arc::clone(&probe))
            .build()
            .map_err(|e| e.to_string())?;
        let _ = probe.client.set(client.clone());
        let _ = probe.url.set(other.url("/other"));
        let path = match on {
            "redirect" => "/moved",
            "retry" => "/busy",
            _ => "/plain",
        };
        client
            .get(first.url(path).as_str())
            .and_then(|r| r.into_body().into_string())
            .map_err(|e| format!("{e:#}"))?;
        let seen = probe.seen.lock().map_err(|e| e.to_string())?.clone();
        Ok(seen)
    }

    fn check(on: &'static str) {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(run(on));
        });
        let seen = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(seen)) => seen,
            Ok(Err(e)) => panic!("{on}: {e}"),
            Err(_) => panic!("{on}: watchdog: no answer in 5 s"),
        };
        assert_eq!(seen.len(), 1, "{on}: {seen:?}");
        let (leased, _available, nested) = &seen[0];
        assert_eq!(
            *leased, 0,
            "{on}: the connection given back is still counted leased inside the callback: {seen:?}"
        );
        assert_eq!(
            nested.as_deref(),
            Ok("other"),
            "{on}: a request from the callback could not get the one slot: {seen:?}"
        );
    }

    #[test]
    fn redirect_runs_after_the_3xx_gave_its_connection_back() {
        check("redirect");
    }

    #[test]
    fn retry_runs_after_the_retried_response_gave_its_connection_back() {
        check("retry");
    }
}
