//! Many threads, one client: limits hold, nothing leaks.

mod common;

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::{Client, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer};

#[test]
fn sixteen_threads_with_four_per_route_share_at_most_four_connections() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().generated_body(2048))
        .keep_requests(0)
        .start()?;
    let client = Client::builder()
        .max_per_route(4)
        .response_timeout(Some(SAFETY))
        .build()?;
    let start = Arc::new(Barrier::new(16));
    let url = server.url("/");
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, start, url) = (client.clone(), Arc::clone(&start), url.clone());
            thread::spawn(move || -> Result<usize, hcx::Error> {
                start.wait();
                let mut ok = 0;
                for _ in 0..25 {
                    let body = client.get(url.as_str())?.into_body().into_vec()?;
                    if body.len() == 2048 {
                        ok += 1;
                    }
                }
                Ok(ok)
            })
        })
        .collect();
    let mut ok = 0;
    for worker in workers {
        ok += worker.join().map_err(|_| "a worker panicked")??;
    }
    assert_eq!(ok, 16 * 25);
    let stats = server.stats();
    assert_eq!(stats.requests_received, 16 * 25);
    assert!(stats.connections_accepted <= 4, "{stats:?}");
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.pending, 0);
    Ok(())
}

#[test]
fn a_body_dropped_half_read_leaks_nothing() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/big", Reply::ok().generated_body(4 << 20))
        .route(
            Method::GET,
            "/small",
            Reply::ok().generated_body(20_000).chunk_size(1000),
        )
        .start()?;
    // A generous drain timeout: what is measured is the byte limit, not the clock.
    let client = Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_drain(64 * 1024, SAFETY),
        )
        .build()?;

    // 4 MiB announced, 1 KiB read: more than the drain limit is left, so it closes.
    let mut big = client.get(server.url("/big"))?.into_body();
    let mut first = [0u8; 1024];
    big.read_exact(&mut first)?;
    assert_eq!(client.stats().pool.leased, 1);
    drop(big);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);

    // A small rest is drained and the connection kept.
    let mut small = client.get(server.url("/small"))?.into_body();
    small.read_exact(&mut first)?;
    drop(small);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 1);
    client.get(server.url("/small"))?.into_body().into_vec()?;
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

/// Drops `body` on another thread and waits for it within [`SAFETY`] (a bound, not a
/// timing goal): a drain that lost its timeout fails the test instead of hanging it.
fn drop_within_safety(body: hcx::ResponseBody) -> TestResult {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(body);
        let _ = done.send(());
    });
    finished
        .recv_timeout(SAFETY)
        .map_err(|_| "dropping the body never returned")?;
    Ok(())
}

#[test]
fn a_body_that_would_take_too_long_to_drain_is_closed() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok().generated_body(1000).stall_body_after(100),
        )
        .start()?;
    let client = Client::builder()
        .request_config(RequestConfig::default().with_drain(64 * 1024, Duration::from_millis(20)))
        .build()?;
    let body = client.get(server.url("/"))?.into_body();
    // The rest never comes: the drain gives up after 20 ms.
    drop_within_safety(body)?;
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn dropping_a_partly_read_chunked_body_is_bounded_by_the_drain_timeout() -> TestResult {
    // Found in review: after a chunk is read its CRLF is still buffered, and the drain
    // read the rest with the response timeout (then none by default) instead of its
    // own: the drop hung for ever on a stalled stream.
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .body("helloworld")
                .chunked()
                .chunk_size(5)
                .stall_body_after(10),
        )
        .start()?;
    let client = Client::builder()
        .request_config(RequestConfig::default().with_drain(64 * 1024, Duration::from_millis(20)))
        .build()?;
    let mut body = client.get(server.url("/"))?.into_body();
    let mut first = [0u8; 5];
    std::io::Read::read_exact(&mut body, &mut first)?;
    assert_eq!(&first, b"hello");
    // The drop gives up after its 20 ms drain.
    drop_within_safety(body)?;
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().closes.get(hcx::CloseReason::UnreadBody), 1);
    Ok(())
}

#[test]
fn a_drain_ends_at_its_deadline_while_only_framing_bytes_trickle_in() -> TestResult {
    // Found in review: a trailer section (or a chunk extension, a size line) yields no
    // body data, and the drain read on without looking at its deadline: a server
    // sending one trailer byte at a time held the drop until it finished, then the
    // connection was pooled.
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        common::read_head(&mut s);
        s.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Slow: ",
        )?;
        // A trailer byte every 5 ms until the client closes (the write fails), for at
        // most SAFETY: the pace of the trickle, not a wait for the client.
        let start = std::time::Instant::now();
        while start.elapsed() < SAFETY {
            if s.write_all(b"a").is_err() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(5));
        }
        s.write_all(b"\r\n\r\n")
    });
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .request_config(RequestConfig::default().with_drain(64 * 1024, Duration::from_millis(20)))
        .build()?;
    let mut body = client.get(url.as_str())?.into_body();
    let mut two = [0u8; 2];
    body.read_exact(&mut two)?;
    assert_eq!(&two, b"hi");
    drop_within_safety(body)?;
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0, "not pooled");
    assert_eq!(client.stats().closes.get(hcx::CloseReason::UnreadBody), 1);
    server.join().map_err(|_| "the server panicked")??;
    Ok(())
}
