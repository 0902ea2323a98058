//! MainExec against the test server: the exchange and the connection's fate.

use std::error::Error as _;
use std::io::Read;
use std::time::Duration;

use hcx_exec::{
    Body, CloseReason, ConnectionInfo, Decision, Error, ExecRuntime, MainExec,
    PoolingConnectionManager, RequestConfig, ResponseInfo, Route,
};
use hcx_testserver::{Method, Reply, SilentClose, TestServer};
use http::{Request, Response};

type TestResult = Result<(), Box<dyn std::error::Error>>;
const WAIT: Duration = Duration::from_secs(10);

struct Setup {
    manager: PoolingConnectionManager,
    exec: MainExec,
    config: RequestConfig,
}

impl Setup {
    fn new() -> Result<Self, Error> {
        Ok(Setup {
            manager: PoolingConnectionManager::builder().build()?,
            exec: MainExec::default(),
            config: RequestConfig::default().with_response_timeout(Some(WAIT)),
        })
    }

    fn send(&self, request: Request<Body>) -> Result<Response<hcx_exec::ResponseBody>, Error> {
        let route = Route::from_uri(request.uri())?;
        let runtime = ExecRuntime::new(self.manager.clone());
        self.exec.execute(&route, request, runtime, &self.config)
    }

    fn get(
        &self,
        url: &str,
    ) -> Result<Response<hcx_exec::ResponseBody>, Box<dyn std::error::Error>> {
        Ok(self.send(Request::get(url).body(Body::empty())?)?)
    }
}

fn info(response: &Response<hcx_exec::ResponseBody>) -> Option<ConnectionInfo> {
    ResponseInfo::of(response).map(|i| i.connection)
}

#[test]
fn a_body_read_to_its_end_releases_the_connection_for_the_next_request() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello"))
        .start()?;
    let setup = Setup::new()?;
    for i in 0..5 {
        let response = setup.get(&server.url("/"))?;
        let info = info(&response).ok_or("no connection info")?;
        assert_eq!(info.reused, i > 0, "request {i}");
        assert_eq!(info.probed, i > 0);
        assert_eq!(response.into_body().into_string()?, "hello");
        assert_eq!(setup.manager.stats().pool.leased, 0);
    }
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(setup.manager.stats().connections_opened, 1);
    Ok(())
}

#[test]
fn the_connection_is_released_before_the_last_bytes_are_returned() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("abcdef"))
        .start()?;
    let setup = Setup::new()?;
    let mut body = setup.get(&server.url("/"))?.into_body();
    let mut first = [0u8; 2];
    body.read_exact(&mut first)?;
    // The whole body arrived with the head: the decoder is done, the slot is back.
    assert_eq!(setup.manager.stats().pool.leased, 0);
    assert!(body.is_end());
    let mut rest = String::new();
    body.read_to_string(&mut rest)?;
    assert_eq!(rest, "cdef");
    Ok(())
}

#[test]
fn a_close_before_any_response_byte_is_its_own_error() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::no_response())
        .start()?;
    let setup = Setup::new()?;
    let error = setup
        .get(&server.url("/"))
        .err()
        .ok_or("expected an error")?;
    let error = error.downcast::<Error>()?;
    assert!(error.is_closed_before_response(), "{error:?}");
    assert_eq!(setup.manager.stats().pool.leased, 0);
    assert_eq!(setup.manager.stats().pool.available, 0);
    Ok(())
}

#[test]
fn a_silent_close_after_the_response_is_caught_by_the_stale_probe() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .silent_close_after(1, SilentClose::AfterResponse)
        .start()?;
    let setup = Setup::new()?;
    assert_eq!(setup.get(&server.url("/"))?.into_body().into_string()?, "x");
    server.wait_for_closed(1, WAIT)?;
    // The server records the close just before its FIN: probe (no sleep) until it is here.
    let route = Route::from_uri(&server.url("/").parse()?)?;
    let mut lease = setup.manager.pool().lease(&route, None).get(WAIT)?;
    let deadline = std::time::Instant::now() + WAIT;
    while !lease
        .connection_mut()
        .ok_or("no idle connection")?
        .is_stale()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the FIN never arrived"
        );
        std::thread::yield_now();
    }
    lease.release(Decision::keep(None));
    let response = setup.get(&server.url("/"))?;
    let info = info(&response).ok_or("no connection info")?;
    assert!(!info.reused);
    assert_eq!(info.stale_discarded, 1);
    assert_eq!(response.into_body().into_string()?, "x");
    assert_eq!(setup.manager.stats().closes.get(CloseReason::Stale), 1);
    assert_eq!(setup.manager.stats().closes.total(), 1);
    Ok(())
}

#[test]
fn post_bodies_of_every_kind_arrive_intact() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::POST, "/echo", |req| {
            Reply::ok().body(req.body.clone())
        })
        .start()?;
    let setup = Setup::new()?;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let bodies = vec![
        Body::from("small"),
        Body::from(big.clone()),
        Body::reader(std::io::Cursor::new(big.clone())),
        Body::sized_reader(std::io::Cursor::new(b"sized".to_vec()), 5),
        Body::empty(),
    ];
    let expected: Vec<Vec<u8>> = vec![
        b"small".to_vec(),
        big.clone(),
        big,
        b"sized".to_vec(),
        Vec::new(),
    ];
    for (body, want) in bodies.into_iter().zip(expected) {
        let response = setup.send(Request::post(server.url("/echo")).body(body)?)?;
        assert_eq!(response.into_body().into_vec()?, want);
    }
    let requests = server.requests();
    assert_eq!(requests[2].header("transfer-encoding"), Some("chunked"));
    assert_eq!(requests[4].header("content-length"), Some("0"));
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn a_sized_reader_that_ends_early_fails_and_closes_the_connection() -> TestResult {
    let server = TestServer::builder().default_reply(Reply::ok()).start()?;
    let setup = Setup::new()?;
    let body = Body::sized_reader(std::io::Cursor::new(b"abc".to_vec()), 10);
    let error = setup
        .send(Request::post(server.url("/")).body(body)?)
        .err()
        .ok_or("expected an error")?;
    // Found only while sending: the caller's body broke its promise. The head and the
    // three bytes were still buffered (a small body goes out in one write), so nothing
    // reached the wire, and the error says so.
    assert_eq!(error.kind(), hcx_exec::ErrorKind::RequestBody, "{error:?}");
    assert_eq!(
        error.request_progress(),
        hcx_exec::RequestProgress::NotStarted
    );
    assert!(error.source().is_some());
    assert_eq!(setup.manager.stats().pool.leased, 0);
    assert_eq!(setup.manager.stats().pool.available, 0);
    Ok(())
}

#[test]
fn reuse_decisions_are_reported_with_their_reason() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/close",
            Reply::ok().body("bye").connection_close(),
        )
        .route(
            Method::GET,
            "/keep",
            Reply::ok().header("Keep-Alive", "timeout=7").body("hi"),
        )
        .start()?;
    let setup = Setup::new()?;
    let response = setup.get(&server.url("/keep"))?;
    // The server's 7 s less the 1 s safety margin.
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::keep(Some(Duration::from_secs(6))))
    );
    drop(response);
    let response = setup.get(&server.url("/close"))?;
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::ResponseConnectionClose))
    );
    assert_eq!(response.into_body().into_string()?, "bye");
    assert_eq!(setup.manager.stats().pool.available, 0);
    Ok(())
}

#[test]
fn large_reads_go_straight_to_the_caller_and_still_release_at_the_end() -> TestResult {
    const LEN: usize = 1 << 20;
    let server = TestServer::builder()
        .route(Method::GET, "/big", Reply::ok().generated_body(LEN))
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(LEN).truncate_body(500_000),
        )
        .start()?;
    let setup = Setup::new()?;
    let mut body = setup.get(&server.url("/big"))?.into_body();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            break;
        }
        // The generated body is `abc…xyzabc…`.
        let expected = (total..total + n).map(|i| b'a' + (i % 26) as u8);
        assert!(buf[..n].iter().copied().eq(expected), "bytes at {total}");
        total += n;
        if total == LEN {
            assert!(body.is_end(), "released before the final Ok(0)");
            assert_eq!(setup.manager.stats().pool.available, 1);
        }
    }
    assert_eq!(total, LEN);

    let mut body = setup.get(&server.url("/cut"))?.into_body();
    let error = std::io::copy(&mut body, &mut std::io::sink())
        .err()
        .ok_or("expected an error")?;
    let error = error
        .into_inner()
        .ok_or("no inner error")?
        .downcast::<Error>()
        .map_err(|e| e.to_string())?;
    assert!(error.is_incomplete_body(), "{error:?}");
    assert_eq!(setup.manager.stats().pool.leased, 0);
    Ok(())
}

/// A bare server that answers `413` as soon as it has the request head and closes
/// without reading the body (so its close is a reset), once.
fn impatient_server() -> std::io::Result<(String, std::thread::JoinHandle<std::io::Result<()>>)> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/upload", listener.local_addr()?);
    let thread = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte)? == 0 {
                return Ok(());
            }
            head.push(byte[0]);
        }
        stream.write_all(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!",
        )?;
        Ok(()) // dropped with the body unread: a reset
    });
    Ok((url, thread))
}

#[test]
fn an_answer_sent_before_the_server_hung_up_on_the_upload_is_still_read() -> TestResult {
    let (url, server) = impatient_server()?;
    let setup = Setup::new()?;
    // 32 MiB: more than loopback buffers hold, so the write meets the reset (or, if it
    // all fits, the answer is simply read after it).
    let body = Body::from(vec![b'x'; 32 << 20]);
    let response = setup.send(Request::put(url).body(body)?)?;
    assert_eq!(response.status(), 413);
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    assert_eq!(response.into_body().into_string()?, "too big!");
    assert_eq!(setup.manager.stats().pool.leased, 0);
    assert_eq!(setup.manager.stats().pool.available, 0);
    server.join().map_err(|_| "server panicked")??;
    Ok(())
}
