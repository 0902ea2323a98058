//! Error paths leave nothing behind: after every way a request can fail or be
//! abandoned, the pool holds no lease and no waiter, every connection opened is closed
//! or idle, the client's sockets to the peer are exactly the idle ones, and the
//! listener's events balance. Sockets are counted from `/proc`, so this runs on Linux.
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use common::{SAFETY, TestResult, trusting};
use hcx::chain::{Chain, Scope};
use hcx::{
    Body, Client, CloseReason, ConnectionInfo, ConnectionRef, Decision, Error, ErrorKind,
    EventListener, Proxy, RequestConfig, ResponseBody, Route,
};
use hcx_testserver::{Method, Reply, StatusCode, TestCa, TestProxy, TestServer};
use http::{Request, Response};

const N: usize = 10;
const SHORT: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Balance {
    requested: AtomicU64,
    leased: AtomicU64,
    lease_failed: AtomicU64,
    connect_start: AtomicU64,
    connect_ok: AtomicU64,
    connect_err: AtomicU64,
    released: AtomicU64,
    closed: AtomicU64,
}

impl EventListener for Balance {
    fn lease_requested(&self, _: &Route) {
        self.requested.fetch_add(1, SeqCst);
    }
    fn leased(&self, _: &Route, _: &ConnectionInfo) {
        self.leased.fetch_add(1, SeqCst);
    }
    fn lease_failed(&self, _: &Route, _: &Error) {
        self.lease_failed.fetch_add(1, SeqCst);
    }
    fn connect_start(&self, _: &Route) {
        self.connect_start.fetch_add(1, SeqCst);
    }
    fn connect_end(&self, _: &Route, result: Result<&hcx::Connected, &Error>) {
        match result {
            Ok(_) => self.connect_ok.fetch_add(1, SeqCst),
            Err(_) => self.connect_err.fetch_add(1, SeqCst),
        };
    }
    fn released(&self, _: &ConnectionRef<'_>, _: Decision) {
        self.released.fetch_add(1, SeqCst);
    }
    fn closed(&self, _: &ConnectionRef<'_>, _: CloseReason) {
        self.closed.fetch_add(1, SeqCst);
    }
}

/// Inodes of this process's sockets.
fn my_socket_inodes() -> HashSet<u64> {
    let mut out = HashSet::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for entry in dir.flatten() {
            if let Ok(link) = std::fs::read_link(entry.path()) {
                let link = link.to_string_lossy().into_owned();
                if let Some(rest) = link.strip_prefix("socket:[")
                    && let Ok(inode) = rest.trim_end_matches(']').parse()
                {
                    out.insert(inode);
                }
            }
        }
    }
    out
}

/// This process's open sockets whose remote port is `port` (client side of
/// connections to the peer on `port`).
fn client_sockets_to(port: u16) -> usize {
    let mine = my_socket_inodes();
    let mut n = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 10 {
                continue;
            }
            let rem_port = fields[2]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let inode: u64 = fields[9].parse().unwrap_or(0);
            if rem_port == Some(port) && inode != 0 && mine.contains(&inode) {
                n += 1;
            }
        }
    }
    n
}

/// Everything is given back: no lease, no waiter, sockets == idle, events balance.
fn settled(client: &Client, balance: &Balance, port: u16, what: &str) -> Result<(), String> {
    settled_base(client, balance, port, 0, what)
}

fn settled_base(
    client: &Client,
    balance: &Balance,
    port: u16,
    base: usize,
    what: &str,
) -> Result<(), String> {
    let stats = client.stats();
    let mut problems = Vec::new();
    if stats.pool.leased != 0 || stats.pool.pending != 0 {
        problems.push(format!("pool: {}", stats.pool));
    }
    for (route, s) in client.connection_manager().all_route_stats() {
        if s.leased != 0 || s.pending != 0 || s.available == 0 {
            problems.push(format!("route {route}: {s}"));
        }
    }
    let idle = stats.pool.available as u64;
    let sockets = client_sockets_to(port).saturating_sub(base) as u64;
    if sockets != idle {
        problems.push(format!("{sockets} sockets open to :{port}, {idle} idle"));
    }
    let (ok, closed) = (balance.connect_ok.load(SeqCst), balance.closed.load(SeqCst));
    if ok != closed + idle {
        problems.push(format!("connects {ok} != closed {closed} + idle {idle}"));
    }
    if stats.connections_opened != ok {
        problems.push(format!(
            "opened {} != connect_end(Ok) {ok}",
            stats.connections_opened
        ));
    }
    let counted: u64 = stats.closes.total();
    if counted != closed {
        problems.push(format!("close counts {counted} != closed events {closed}"));
    }
    let (req, leased, failed) = (
        balance.requested.load(SeqCst),
        balance.leased.load(SeqCst),
        balance.lease_failed.load(SeqCst),
    );
    if req != leased + failed {
        problems.push(format!(
            "lease_requested {req} != leased {leased} + lease_failed {failed}"
        ));
    }
    let (cs, ce) = (
        balance.connect_start.load(SeqCst),
        balance.connect_err.load(SeqCst),
    );
    if cs != ok + ce {
        problems.push(format!("connect_start {cs} != ok {ok} + err {ce}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: {}", problems.join("; ")))
    }
}

fn client_with(
    build: impl FnOnce(hcx::ClientBuilder) -> hcx::ClientBuilder,
) -> Result<(Client, Arc<Balance>), hcx::Error> {
    let balance = Arc::new(Balance::default());
    let client = build(
        Client::builder()
            .response_timeout(Some(SAFETY))
            .event_listener(Arc::clone(&balance)),
    )
    .build()?;
    Ok((client, balance))
}

fn get(url: &str) -> Request<Body> {
    Request::get(url).body(Body::empty()).expect("a request")
}

/// Runs `n` requests to `path` on `server`, each expected to fail in `execute` or
/// in reading the body; returns the error kinds.
fn failing(client: &Client, url: &str) -> Vec<String> {
    let mut kinds = Vec::new();
    for _ in 0..N {
        match client.execute(get(url)) {
            Err(e) => kinds.push(format!("{:?}", e.kind())),
            Ok(r) => match r.into_body().into_vec() {
                Err(e) => kinds.push(format!("body {:?}", e.kind())),
                Ok(_) => kinds.push("ok".into()),
            },
        }
    }
    kinds.dedup();
    kinds
}

#[test]
fn connect_refused() -> TestResult {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let (client, balance) = client_with(|b| b)?;
    let kinds = failing(&client, &format!("http://127.0.0.1:{port}/"));
    assert_eq!(kinds, ["Connect"]);
    settled(&client, &balance, port, "refused")?;
    Ok(())
}

#[test]
fn server_failures_leave_nothing_behind() -> TestResult {
    let huge = "a".repeat(200_000);
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/stall-head",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-"),
        )
        .route(
            Method::GET,
            "/stall-body",
            Reply::ok().generated_body(1000).stall_body_after(10),
        )
        .route(
            Method::GET,
            "/stall-chunk",
            Reply::ok()
                .generated_body(1000)
                .chunked()
                .stall_body_after(12),
        )
        .route(
            Method::GET,
            "/close-head",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-").then_close(),
        )
        .route(
            Method::GET,
            "/close-body",
            Reply::ok().generated_body(1000).truncate_body(10),
        )
        .route(
            Method::GET,
            "/close-chunk",
            Reply::ok().generated_body(1000).chunked().truncate_body(12),
        )
        .route(
            Method::GET,
            "/malformed",
            Reply::raw("garbage here\r\n\r\n"),
        )
        .route(
            Method::GET,
            "/bad-chunk",
            Reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        )
        .route(
            Method::GET,
            "/huge-head",
            Reply::ok().header("x-big", huge.as_bytes()),
        )
        .route(Method::GET, "/nothing", Reply::no_response())
        .route(
            Method::GET,
            "/bad-gzip",
            Reply::ok()
                .header("content-encoding", "gzip")
                .body("not gzip at all"),
        )
        .route(
            Method::GET,
            "/loop",
            Reply::new(302u16).header("location", "/loop2"),
        )
        .route(
            Method::GET,
            "/loop2",
            Reply::new(302u16).header("location", "/loop"),
        )
        .route_fn(Method::GET, "/many", |r| {
            let n: u32 = r.path().trim_start_matches("/many").parse().unwrap_or(0);
            Reply::new(302u16)
                .header("location", format!("/many{}", n + 1))
                .generated_body(100)
        })
        .default_fn(|r| {
            let n: u32 = r.path().trim_start_matches("/many").parse().unwrap_or(0);
            Reply::new(302u16)
                .header("location", format!("/many{}", n + 1))
                .generated_body(100)
        })
        .start()?;
    let (client, balance) = client_with(|b| {
        b.request_config(RequestConfig::default().with_max_redirects(5))
            .response_timeout(Some(SHORT))
    })?;
    let mut report = Vec::new();
    for path in [
        "/stall-head",
        "/stall-body",
        "/stall-chunk",
        "/close-head",
        "/close-body",
        "/close-chunk",
        "/malformed",
        "/bad-chunk",
        "/huge-head",
        "/nothing",
        "/bad-gzip",
        "/loop",
        "/many",
    ] {
        let kinds = failing(&client, &server.url(path));
        let check = settled(&client, &balance, server.port(), path);
        report.push(format!("{path}: {kinds:?} {check:?}"));
    }
    let bad: Vec<_> = report.iter().filter(|l| l.contains("Err(")).collect();
    assert!(bad.is_empty(), "{}", report.join("\n"));
    Ok(())
}

#[test]
fn bodies_dropped_unread_partly_read_or_read_after_error() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/small", Reply::ok().generated_body(1000))
        .route(Method::GET, "/big", Reply::ok().generated_body(1 << 20))
        .route(
            Method::GET,
            "/chunked",
            Reply::ok().generated_body(100_000).chunk_size(1000),
        )
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(100_000).truncate_body(50_000),
        )
        .start()?;
    let (client, balance) = client_with(|b| b)?;
    for _ in 0..N {
        for path in ["/small", "/big", "/chunked"] {
            drop(client.get(server.url(path))?);
            let mut body = client.get(server.url(path))?.into_body();
            let mut buf = [0u8; 100];
            body.read_exact(&mut buf)?;
            drop(body);
            client.get(server.url(path))?.into_body().discard();
            settled(&client, &balance, server.port(), path)?;
        }
        let mut body = client.get(server.url("/cut"))?.into_body();
        let mut all = Vec::new();
        assert!(body.read_to_end(&mut all).is_err());
        assert!(body.read(&mut [0u8; 10]).is_err());
        drop(body);
        settled(&client, &balance, server.port(), "/cut")?;
    }
    Ok(())
}

#[test]
fn user_handlers_that_fail_or_panic() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(10_000))
        .start()?;
    let (client, balance) = client_with(|b| {
        b.add_handler_last(
            "after-proceed",
            |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                let path = request.uri().path().to_owned();
                let response = chain.proceed(request, scope)?;
                match path.as_str() {
                    "/panic" => panic!("handler panics holding a response"),
                    "/error" => Err(Error::new(ErrorKind::Io, "handler error")),
                    _ => Ok(response),
                }
            },
        )
        .add_handler_first(
            "first",
            |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                if request.uri().path() == "/panic-first" {
                    let _r = chain.proceed(request, scope);
                    panic!("outer handler panics");
                }
                chain.proceed(request, scope)
            },
        )
        .add_response_interceptor_last(
            |response: &mut Response<ResponseBody>, _: &mut hcx::Context| {
                if response.headers().contains_key("x-never") {
                    return Ok(());
                }
                Ok(())
            },
        )
        .add_response_interceptor_first(
            |_: &mut Response<ResponseBody>, context: &mut hcx::Context| {
                if context.attributes.get::<&'static str>() == Some(&"panic") {
                    panic!("interceptor panics");
                }
                if context.attributes.get::<&'static str>() == Some(&"error") {
                    return Err(Error::new(ErrorKind::Io, "interceptor error"));
                }
                Ok(())
            },
        )
    })?;
    for _ in 0..N {
        for path in ["/panic", "/panic-first"] {
            let r = catch_unwind(AssertUnwindSafe(|| client.get(server.url(path))));
            assert!(r.is_err());
            settled(&client, &balance, server.port(), path)?;
        }
        assert!(client.get(server.url("/error")).is_err());
        settled(&client, &balance, server.port(), "/error")?;
        for attr in ["panic", "error"] {
            let mut context = hcx::Context::new();
            context.attributes.insert(attr);
            let r = catch_unwind(AssertUnwindSafe(|| {
                client.execute_in(get(&server.url("/i")), &mut context)
            }));
            assert!(!matches!(r, Ok(Ok(_))));
            settled(&client, &balance, server.port(), attr)?;
        }
        // execute_with: the handler errors, panics, reads part.
        let r: Result<Result<(), String>, _> =
            client.execute_with(get(&server.url("/w")), |_| Err("handler".to_owned()));
        assert!(matches!(r, Ok(Err(_))));
        let r = catch_unwind(AssertUnwindSafe(|| {
            client.execute_with(get(&server.url("/w")), |resp| {
                let mut b = [0u8; 10];
                let _ = resp.body_mut().read(&mut b);
                panic!("execute_with handler panics");
            })
        }));
        assert!(r.is_err());
        settled(&client, &balance, server.port(), "execute_with")?;
    }
    Ok(())
}

#[test]
fn retries_exhausted() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/gone", Reply::no_response())
        .route(
            Method::GET,
            "/busy",
            Reply::new(503u16)
                .header("retry-after", "0")
                .generated_body(500),
        )
        .start()?;
    let (client, balance) = client_with(|b| {
        b.retry_strategy(hcx::DefaultRetryStrategy::default().with_max_retries(3))
            .retry_sleeper(|_: Duration| {})
    })?;
    for _ in 0..N {
        assert!(client.get(server.url("/gone")).is_err());
        let r = client.get(server.url("/busy"))?;
        assert_eq!(r.status(), 503);
        drop(r);
        settled(&client, &balance, server.port(), "retries")?;
    }
    Ok(())
}

#[test]
fn lease_timeout_leaves_no_waiter() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(1000))
        .start()?;
    let (client, balance) = client_with(|b| {
        b.max_per_route(1)
            .connection_request_timeout(Duration::from_millis(20))
    })?;
    let held = client.get(server.url("/"))?;
    for _ in 0..N {
        let e = client.get(server.url("/")).err().ok_or("served")?;
        assert_eq!(e.kind(), ErrorKind::LeaseTimeout);
        assert_eq!(client.stats().pool.pending, 0);
    }
    drop(held);
    settled(&client, &balance, server.port(), "lease timeout")?;
    Ok(())
}

#[test]
fn client_dropped_while_a_body_lives() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(100_000))
        .start()?;
    for evict in [false, true] {
        let (client, balance) = client_with(|b| {
            if evict {
                b.evict_idle_connections(Duration::from_secs(60))
            } else {
                b
            }
        })?;
        let manager = client.connection_manager().clone();
        let body = client.get(server.url("/"))?.into_body();
        let body2 = client.get(server.url("/"))?.into_body();
        let keeper = client.clone();
        drop(client);
        drop(body);
        body2.discard();
        settled(&keeper, &balance, server.port(), "client dropped")?;
        drop(keeper);
        // Everything freed: only the manager handle left.
        manager.close_idle(Duration::ZERO);
        assert_eq!(client_sockets_to(server.port()), 0, "evict={evict}");
        assert_eq!(manager.stats().pool.leased, 0);
    }
    Ok(())
}

#[test]
fn tls_handshake_failures() -> TestResult {
    let ca = TestCa::new()?;
    let other = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["other.example"]))
        .default_reply(Reply::ok())
        .start()?;
    let good = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .default_reply(Reply::ok())
        .start()?;
    for (name, config) in [
        ("wrong name", trusting(&ca)?),
        ("untrusted", trusting(&other)?),
    ] {
        let (client, balance) = client_with(|b| b.tls_config(config))?;
        let kinds = failing(&client, &format!("https://127.0.0.1:{}/", server.port()));
        assert_eq!(kinds, ["Tls"], "{name}");
        settled(&client, &balance, server.port(), name)?;
        if name == "untrusted" {
            let kinds = failing(&client, &format!("https://127.0.0.1:{}/", good.port()));
            assert_eq!(kinds, ["Tls"], "{name}");
            settled(&client, &balance, good.port(), name)?;
        }
    }
    // A peer that never answers the handshake: the connect timeout.
    // Connections complete in the backlog; nobody ever reads the ClientHello.
    let mute = TcpListener::bind("127.0.0.1:0")?;
    let mute_port = mute.local_addr()?.port();
    let (client, balance) = client_with(|b| {
        b.tls_config(trusting(&ca).expect("config"))
            .connect_timeout(SHORT)
    })?;
    let kinds = failing(&client, &format!("https://127.0.0.1:{mute_port}/"));
    assert_eq!(kinds, ["ConnectTimeout"]);
    settled(&client, &balance, mute_port, "tls timeout")?;
    Ok(())
}

#[test]
fn proxy_failures() -> TestResult {
    let ca = TestCa::new()?;
    let origin = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .default_reply(Reply::ok())
        .start()?;
    for status in [
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        StatusCode::BAD_GATEWAY,
    ] {
        let proxy = TestProxy::builder().refuse_connect(status).start()?;
        let (client, balance) = client_with(|b| {
            b.proxy(Proxy::from_url(&proxy.url()).expect("proxy"))
                .tls_config(trusting(&ca).expect("config"))
        })?;
        let kinds = failing(&client, &origin.url("/"));
        assert_eq!(kinds, ["ProxyTunnel"]);
        settled(&client, &balance, proxy.port(), "refused")?;
    }
    // A "proxy" that closes at once, and one that never answers.
    for (what, reply) in [("closes", Reply::no_response()), ("stalls", Reply::stall())] {
        let proxy = TestServer::builder().default_reply(reply).start()?;
        let (client, balance) = client_with(|b| {
            b.proxy(Proxy::from_url(&proxy.url("")).expect("proxy"))
                .tls_config(trusting(&ca).expect("config"))
                .connect_timeout(SHORT)
        })?;
        let kinds = failing(&client, &origin.url("/"));
        assert!(!kinds.iter().any(|k| k == "ok"), "{what}: {kinds:?}");
        settled(&client, &balance, proxy.port(), what)?;
    }
    Ok(())
}

#[test]
fn stalled_bodies_dropped_unread() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(100_000).stall_body_after(1000))
        .start()?;
    let (client, balance) = client_with(|b| b)?;
    for _ in 0..N {
        drop(client.get(server.url("/"))?);
    }
    settled(&client, &balance, server.port(), "stalled drop")?;
    Ok(())
}

#[test]
fn tunnel_then_tls_failure() -> TestResult {
    let ca = TestCa::new()?;
    let other = TestCa::new()?;
    let origin = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .default_reply(Reply::ok())
        .start()?;
    let proxy = TestProxy::builder().start()?;
    let (client, balance) = client_with(|b| {
        b.proxy(Proxy::from_url(&proxy.url()).expect("proxy"))
            .tls_config(trusting(&other).expect("config"))
    })?;
    let kinds = failing(&client, &origin.url("/"));
    assert_eq!(kinds, ["Tls"]);
    settled(&client, &balance, proxy.port(), "tunnel+tls")?;
    Ok(())
}

#[test]
fn body_outlives_client_and_manager_handles() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(1000))
        .start()?;
    for evict in [false, true] {
        let client = if evict {
            Client::builder()
                .evict_idle_connections(Duration::from_secs(60))
                .build()?
        } else {
            Client::new()
        };
        let body = client.get(server.url("/"))?.into_body();
        let idle = client.get(server.url("/"))?;
        drop(idle); // one idle connection in the pool
        drop(client);
        assert_eq!(client_sockets_to(server.port()), 2);
        drop(body); // drained, released into a pool nobody else holds
        assert_eq!(client_sockets_to(server.port()), 0, "evict={evict}");
    }
    Ok(())
}

struct FailingReader {
    sent: usize,
    panic: bool,
}

impl Read for FailingReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.sent >= 20_000 {
            if self.panic {
                panic!("request body reader panics");
            }
            return Err(std::io::Error::other("request body reader fails"));
        }
        let n = out.len().min(1000);
        out[..n].fill(b'x');
        self.sent += n;
        Ok(n)
    }
}

#[test]
fn request_bodies_that_fail_or_panic_and_expect_continue() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/early",
            Reply::new(413u16).generated_body(100),
        )
        .default_reply(Reply::ok().generated_body(100))
        .start()?;
    let (client, balance) = client_with(|b| b)?;
    for _ in 0..N {
        for panic in [false, true] {
            for expect in [false, true] {
                let mut builder = Request::post(server.url("/up"));
                if expect {
                    builder = builder.header("expect", "100-continue");
                }
                let request = builder.body(Body::reader(FailingReader { sent: 0, panic }))?;
                let r = catch_unwind(AssertUnwindSafe(|| client.execute(request)));
                assert!(!matches!(r, Ok(Ok(_))));
                settled(&client, &balance, server.port(), "request body")?;
            }
        }
        // An early final response to a request expecting 100-continue.
        let request = Request::post(server.url("/early"))
            .header("expect", "100-continue")
            .body(Body::sized_reader(
                std::io::repeat(b'x').take(100_000),
                100_000,
            ))?;
        let r = client.execute(request)?;
        assert_eq!(r.status(), 413);
        drop(r);
        settled(&client, &balance, server.port(), "early")?;
    }
    Ok(())
}

#[test]
fn auth_challenges_that_never_end() -> TestResult {
    use hcx::{AuthScope, BasicCredentialsProvider, Credentials};
    let server = TestServer::builder()
        .default_reply(
            Reply::new(401u16)
                .header("www-authenticate", "Basic realm=\"x\"")
                .generated_body(500),
        )
        .start()?;
    let (client, balance) = client_with(|b| {
        b.credentials_provider(
            BasicCredentialsProvider::new().with(AuthScope::any(), Credentials::basic("u", "p")),
        )
    })?;
    for _ in 0..N {
        let r = client.get(server.url("/"))?;
        assert_eq!(r.status(), 401);
        drop(r);
        settled(&client, &balance, server.port(), "auth")?;
    }
    Ok(())
}

#[test]
fn many_threads_failing_and_timing_out() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/ok", Reply::ok().generated_body(5000))
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(5000).truncate_body(100),
        )
        .route(Method::GET, "/nothing", Reply::no_response())
        .start()?;
    let (client, balance) = client_with(|b| {
        b.max_per_route(2)
            .connection_request_timeout(Duration::from_millis(5))
    })?;
    std::thread::scope(|s| {
        for t in 0..8 {
            let client = client.clone();
            let server = &server;
            s.spawn(move || {
                for i in 0..50 {
                    let path = ["/ok", "/cut", "/nothing"][(t + i) % 3];
                    if let Ok(r) = client.get(server.url(path))
                        && i % 2 == 0
                    {
                        let _ = r.into_body().into_vec();
                    }
                }
            });
        }
    });
    settled(&client, &balance, server.port(), "threads")?;
    Ok(())
}

/// A listener whose accept queue is full: SYNs to it are dropped, connects hang.
fn blackhole() -> std::io::Result<(TcpListener, Vec<std::net::TcpStream>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut queue = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queue.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Ok((listener, queue)),
            Err(e) => return Err(e),
        }
        assert!(queue.len() < 10_000);
    }
}

/// The client's connect-attempt threads (named `hcx-connect`) alive now. Only these:
/// other tests of this binary run in parallel and start and end threads of their own.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |dir| {
        dir.flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|name| name.trim_end() == "hcx-connect")
            })
            .count()
    })
}

/// Waits (yielding, bounded) until at most `n` connect-attempt threads remain.
fn threads_settle_to(n: usize) -> usize {
    let deadline = std::time::Instant::now() + SAFETY;
    loop {
        let now = threads();
        if now <= n || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::yield_now();
    }
}

#[test]
fn connect_timeouts_direct_and_raced() -> TestResult {
    let (hole, _queue) = blackhole()?;
    let hole_addr = hole.local_addr()?;
    let base = client_sockets_to(hole_addr.port());
    let live = TestServer::builder().default_reply(Reply::ok()).start()?;
    let live_addr = live.addr();
    // One address, blackholed: ConnectTimeout.
    let (client, balance) = client_with(|b| b.connect_timeout(SHORT))?;
    let kinds = failing(&client, &format!("http://127.0.0.1:{}/", hole_addr.port()));
    assert_eq!(kinds, ["ConnectTimeout"]);
    settled_base(&client, &balance, hole_addr.port(), base, "blackhole")?;
    // Two addresses, both blackholed, and blackholed-then-live.
    let before = threads();
    // The live address is tried 250 ms in (the attempt delay): its case gets a timeout
    // a loaded machine cannot run out of before the live connect is done.
    for (name, addrs, timeout) in [
        (
            "both",
            vec![hole_addr, hole_addr],
            Duration::from_millis(400),
        ),
        ("hole-then-live", vec![hole_addr, live_addr], SAFETY),
    ] {
        let resolver = move |_: &str, _: u16| Ok(addrs.clone());
        let (client, balance) = client_with(|b| b.resolver(resolver).connect_timeout(timeout))?;
        let kinds = failing(&client, "http://dual.test/");
        let want = if name == "both" {
            "ConnectTimeout"
        } else {
            "ok"
        };
        assert_eq!(kinds, [want], "{name}");
        if name == "hole-then-live" {
            settled(&client, &balance, live_addr.port(), name)?;
            assert_eq!(client_sockets_to(hole_addr.port()), base, "losers closed");
        } else {
            settled_base(&client, &balance, hole_addr.port(), base, name)?;
        }
    }
    let after = threads_settle_to(before);
    assert!(after <= before, "threads {before} -> {after}");
    Ok(())
}

#[test]
fn shutdown_with_bodies_alive_and_waiters() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(10_000))
        .start()?;
    let (client, balance) = client_with(|b| b.max_per_route(1))?;
    let held = client.get(server.url("/"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| -> TestResult {
        let waiter = client.clone();
        let url = server.url("/");
        let handle = s.spawn(move || {
            let _ = tx.send(());
            waiter.get(url).map(|_| ()).map_err(|e| e.kind())
        });
        rx.recv()?;
        // Wait (yielding, bounded) until the waiter is queued.
        let deadline = std::time::Instant::now() + SAFETY;
        while client.stats().pool.pending == 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        // Otherwise the shutdown below could come before the lease and the test would
        // not be about a queued waiter at all.
        assert_eq!(client.stats().pool.pending, 1, "the waiter never queued");
        client.connection_manager().shutdown();
        let outcome = handle.join().map_err(|_| "waiter panicked")?;
        assert_eq!(outcome, Err(ErrorKind::Shutdown));
        Ok(())
    })?;
    drop(held);
    settled(&client, &balance, server.port(), "shutdown")?;
    assert!(client.get(server.url("/")).is_err());
    settled(&client, &balance, server.port(), "after shutdown")?;
    Ok(())
}

#[test]
fn tls_failures_mid_exchange() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(
            Method::GET,
            "/stall",
            Reply::ok().generated_body(100_000).stall_body_after(1000),
        )
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(100_000).truncate_body(1000),
        )
        .route(Method::GET, "/stall-head", Reply::stall())
        .route(Method::GET, "/ok", Reply::ok().generated_body(100_000))
        .start()?;
    let (client, balance) = client_with(|b| {
        b.tls_config(trusting(&ca).expect("config"))
            .response_timeout(Some(SHORT))
    })?;
    for _ in 0..2 {
        for path in ["/stall", "/cut", "/stall-head"] {
            let _ = failing(&client, &server.url(path));
            if let Ok(r) = client.get(server.url(path)) {
                drop(r);
            }
        }
        drop(client.get(server.url("/ok"))?);
        settled(&client, &balance, server.port(), "tls mid")?;
    }
    Ok(())
}
