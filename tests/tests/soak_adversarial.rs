//! A seeded soak: eight threads share one client with a small pool and send a few
//! thousand requests to a loopback server whose every answer is drawn from a seeded
//! PRNG (varied framing, closes, truncations, extra bytes, 1xx, slow bodies, 503s,
//! redirects). Each body carries its request's id, so a response handed to the wrong
//! caller, or bytes of one response read as the next, is seen; at the end nothing is
//! leased and every socket the server accepted is closed.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::{Client, ErrorKind, RequestConfig};

/// A tiny xorshift64*: the soak needs reproducible draws, not quality.
#[derive(Clone, Copy)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 of the seed: nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SEED: u64 = 0x5EED_2026;
const THREADS: u64 = 8;
const PER_THREAD: u64 = 300;

/// What the server does for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Length,
    /// `Content-Length`, then the server closes without saying so.
    LengthThenHangUp,
    /// `Content-Length` with `Connection: close`.
    LengthClose,
    Chunked,
    /// No framing: the body ends with the close.
    CloseDelimited,
    /// `Content-Length` promising more than is sent, then a close.
    Truncated,
    /// A complete response followed, in the same write, by bytes of another.
    ExtraBytes,
    /// A `103` and a `100` before the final response.
    Interim,
    /// The body in several writes with pauses.
    Slow,
    /// `503` with `Retry-After: 0` on the first hit; the retry gets the body.
    Unavailable,
    /// `302` to `/r/{id}/moved`, which answers with the body.
    Redirect,
}

/// The answer to the `hit`-th request for `id`, and the body size.
fn plan(id: u64, hit: u32, moved: bool) -> (Answer, usize) {
    let mut rng = Rng::new(SEED ^ id.wrapping_mul(0x1000_0001));
    let size = match rng.below(4) {
        0 => 0,
        1 => 1 + rng.below(100) as usize,
        2 => 1000 + rng.below(4000) as usize,
        _ => 9000 + rng.below(40_000) as usize,
    };
    let answer = match rng.below(22) {
        0..=5 => Answer::Length,
        6..=8 => Answer::Chunked,
        9 => Answer::LengthThenHangUp,
        10 => Answer::LengthClose,
        11 => Answer::CloseDelimited,
        12 => Answer::Truncated,
        13 | 14 => Answer::ExtraBytes,
        15 => Answer::Interim,
        16 => Answer::Slow,
        17 | 18 => Answer::Unavailable,
        _ => Answer::Redirect,
    };
    let answer = match answer {
        Answer::Unavailable if hit > 0 => Answer::Length,
        Answer::Redirect if moved => Answer::Length,
        other => other,
    };
    (answer, size)
}

/// The body for `id`: its tag repeated to `size` bytes (at least one whole tag).
fn body_of(id: u64, size: usize) -> Vec<u8> {
    let tag = format!("[{id}]");
    let size = size.max(tag.len());
    tag.bytes().cycle().take(size).collect()
}

/// What the client does with a response.
#[derive(Clone, Copy, Debug)]
enum Use {
    ReadAll,
    /// Reads a few bytes and drops the body (drain or close).
    DropHalfRead,
    /// Reads a few bytes and discards the body.
    Discard,
    /// `execute_with` whose handler reads a few bytes and panics.
    PanickingHandler,
}

fn use_of(id: u64) -> Use {
    match Rng::new(!SEED ^ id).below(20) {
        0 | 1 => Use::DropHalfRead,
        2 => Use::Discard,
        3 => Use::PanickingHandler,
        _ => Use::ReadAll,
    }
}

/// Sockets the server holds open, and a way to wait for none.
#[derive(Default)]
struct Open {
    count: Mutex<(u64, u64)>,
    changed: Condvar,
}

impl Open {
    fn opened(&self) {
        let mut c = self.count.lock().unwrap();
        c.0 += 1;
        c.1 += 1;
    }

    fn closed(&self) {
        self.count.lock().unwrap().0 -= 1;
        self.changed.notify_all();
    }

    /// Waits (at most [`SAFETY`]) until every socket is closed; the number still open.
    fn wait_all_closed(&self) -> (u64, u64) {
        let c = self.count.lock().unwrap();
        let (c, _) = self
            .changed
            .wait_timeout_while(c, SAFETY, |c| c.0 > 0)
            .unwrap();
        *c
    }
}

struct Server {
    port: u16,
    open: Arc<Open>,
    /// Wrong-looking requests the server saw (a bad request line).
    bad: Arc<Mutex<Vec<String>>>,
}

fn start_server() -> std::io::Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let open = Arc::new(Open::default());
    let bad = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let (o, b) = (Arc::clone(&open), Arc::clone(&bad));
    thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            o.opened();
            let (o, b, hits) = (Arc::clone(&o), Arc::clone(&b), Arc::clone(&hits));
            thread::spawn(move || {
                let _ = serve(stream, n as u64, &hits, &b);
                o.closed();
            });
        }
    });
    Ok(Server { port, open, bad })
}

/// Serves one connection until either side closes it.
fn serve(
    mut stream: TcpStream,
    n: u64,
    hits: &Mutex<HashMap<String, u32>>,
    bad: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    // One connection in four is closed by the server when idle for a moment.
    let idle = if Rng::new(SEED ^ n).below(4) == 0 {
        Duration::from_millis(20)
    } else {
        SAFETY * 3
    };
    stream.set_read_timeout(Some(idle))?;
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_head(&mut stream, &mut buf)? else {
            return Ok(());
        };
        let head: Vec<u8> = buf.drain(..end).collect();
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split(' ').nth(1).unwrap_or("").to_owned();
        let Some(id) = path
            .strip_prefix("/r/")
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse::<u64>().ok())
        else {
            bad.lock().unwrap().push(head);
            return Ok(());
        };
        let hit = {
            let mut hits = hits.lock().unwrap();
            let h = hits.entry(path.clone()).or_insert(0);
            *h += 1;
            *h - 1
        };
        let (answer, size) = plan(id, hit, path.ends_with("/moved"));
        let body = body_of(id, size);
        let keep = respond(&mut stream, id, answer, &body)?;
        if !keep {
            return Ok(());
        }
    }
}

/// Reads one request head into `buf`; its length, or `None` at a close or idle timeout.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(at + 4));
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes the answer; whether the connection stays open.
fn respond(stream: &mut TcpStream, id: u64, answer: Answer, body: &[u8]) -> std::io::Result<bool> {
    let len = body.len();
    let mut out = Vec::new();
    match answer {
        Answer::Length | Answer::LengthThenHangUp | Answer::Slow | Answer::ExtraBytes => {
            write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")?;
            if answer == Answer::Slow {
                stream.write_all(&out)?;
                for piece in body.chunks(len / 3 + 1) {
                    stream.write_all(piece)?;
                    stream.flush()?;
                    thread::sleep(Duration::from_millis(1));
                }
                return Ok(true);
            }
            out.extend_from_slice(body);
            if answer == Answer::ExtraBytes {
                // What a confused server sends: the start of another response, whose
                // body would look like a wrong id if anyone read it as the next one.
                out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n[WRONG]");
            }
            stream.write_all(&out)?;
            Ok(true)
        }
        Answer::LengthClose => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {len}\r\n\r\n"
            )?;
            out.extend_from_slice(body);
            stream.write_all(&out)?;
            Ok(false)
        }
        Answer::Chunked => {
            write!(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")?;
            let mut rng = Rng::new(id);
            let mut rest = body;
            while !rest.is_empty() {
                let n = (1 + rng.below(3000) as usize).min(rest.len());
                write!(out, "{n:x}\r\n")?;
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            out.extend_from_slice(b"0\r\n\r\n");
            stream.write_all(&out)?;
            Ok(true)
        }
        Answer::CloseDelimited => {
            write!(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            out.extend_from_slice(body);
            stream.write_all(&out)?;
            Ok(false)
        }
        Answer::Truncated => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                len + 10
            )?;
            out.extend_from_slice(body);
            stream.write_all(&out)?;
            Ok(false)
        }
        Answer::Interim => {
            write!(
                out,
                "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
                 HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n"
            )?;
            out.extend_from_slice(body);
            stream.write_all(&out)?;
            Ok(true)
        }
        Answer::Unavailable => {
            write!(
                out,
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 5\r\n\r\nlater"
            )?;
            stream.write_all(&out)?;
            Ok(true)
        }
        Answer::Redirect => {
            write!(
                out,
                "HTTP/1.1 302 Found\r\nLocation: /r/{id}/moved\r\nContent-Length: 3\r\n\r\nsee"
            )?;
            stream.write_all(&out)?;
            Ok(true)
        }
    }
}

/// How one request ended, as the soak counts it.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    truncated: u64,
    /// Errors a dead pooled connection can cause twice in a row (the retry layer
    /// retries once): typed, counted, allowed.
    transient: Vec<String>,
    /// Anything the test calls a defect.
    wrong: Vec<String>,
}

fn one(client: &Client, base: &str, id: u64, tally: &mut Tally) {
    let url = format!("{base}/r/{id}");
    let (answer, size) = plan(id, 0, false);
    let expected = body_of(id, size);
    let transient = |e: &hcx::Error| {
        matches!(
            e.kind(),
            ErrorKind::ClosedBeforeResponse | ErrorKind::Io | ErrorKind::Protocol
        ) && !e.is_response_started()
    };
    match use_of(id) {
        Use::PanickingHandler => {
            let request = http::Request::get(url.as_str())
                .body(hcx::Body::empty())
                .unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                client.execute_with(request, |response| {
                    let mut first = [0u8; 3];
                    let _ = response.body_mut().read(&mut first);
                    panic!("handler gives up on request {id}");
                })
            }));
            match outcome {
                Err(_) => tally.ok += 1,
                Ok(Err(e)) if transient(&e) => tally.transient.push(format!("{id}: {e}")),
                Ok(Err(e)) => tally.wrong.push(format!("{id} ({answer:?}): {e:?}")),
                Ok(Ok(())) => tally.wrong.push(format!("{id}: handler returned")),
            }
        }
        usage => {
            let response = match client.get(url.as_str()) {
                Ok(r) => r,
                Err(e) if transient(&e) => {
                    tally.transient.push(format!("{id} ({answer:?}): {e}"));
                    return;
                }
                Err(e) => {
                    tally
                        .wrong
                        .push(format!("{id} ({answer:?}): request failed: {e:?}"));
                    return;
                }
            };
            if response.status() != 200 {
                tally
                    .wrong
                    .push(format!("{id} ({answer:?}): status {}", response.status()));
                return;
            }
            let mut body = response.into_body();
            match usage {
                Use::ReadAll => match body.into_vec() {
                    Ok(got) if answer == Answer::Truncated => tally.wrong.push(format!(
                        "{id}: a truncated body read as complete ({} bytes)",
                        got.len()
                    )),
                    Ok(got) if got == expected => tally.ok += 1,
                    Ok(got) => tally.wrong.push(format!(
                        "{id} ({answer:?}): wrong body: {:?}",
                        String::from_utf8_lossy(&got[..got.len().min(60)])
                    )),
                    Err(e) if answer == Answer::Truncated && e.is_incomplete_body() => {
                        let says = e.to_string();
                        if says.is_empty() {
                            tally
                                .wrong
                                .push(format!("{id}: an error that says nothing"));
                        }
                        tally.truncated += 1;
                    }
                    Err(e) => tally
                        .wrong
                        .push(format!("{id} ({answer:?}): body failed: {e:?}")),
                },
                Use::DropHalfRead | Use::Discard => {
                    let mut first = vec![0u8; expected.len().min(4)];
                    match body.read_exact(&mut first) {
                        Ok(()) if first[..] == expected[..first.len()] => tally.ok += 1,
                        Ok(()) => tally.wrong.push(format!(
                            "{id} ({answer:?}): wrong first bytes {:?}",
                            String::from_utf8_lossy(&first)
                        )),
                        Err(e) => tally
                            .wrong
                            .push(format!("{id} ({answer:?}): first bytes failed: {e:?}")),
                    }
                    if matches!(usage, Use::Discard) {
                        body.discard();
                    } else {
                        drop(body);
                    }
                }
                Use::PanickingHandler => {}
            }
        }
    }
}

#[test]
fn eight_threads_against_a_seeded_adversarial_server_get_their_own_bytes() -> TestResult {
    let server = start_server()?;
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = Client::builder()
        .max_per_route(3)
        .max_total(3)
        // The default strategy waits 1 s after a `503` whose `Retry-After` is 0, as
        // Apache does: not waited here, the soak is about bytes, not back-off.
        .retry_sleeper(|_: Duration| {})
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_drain(64 * 1024, SAFETY),
        )
        .build()?;
    // A panicking handler is expected here: keep its message out of the output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let quiet = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.starts_with("handler gives up"));
        if !quiet {
            eprintln!("{info}");
        }
    }));
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (client, start, base) = (client.clone(), Arc::clone(&start), base.clone());
            thread::spawn(move || {
                start.wait();
                let mut tally = Tally::default();
                for i in 0..PER_THREAD {
                    one(&client, &base, t * 100_000 + i, &mut tally);
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for worker in workers {
        let tally = worker.join().map_err(|_| "a worker panicked")?;
        all.ok += tally.ok;
        all.truncated += tally.truncated;
        all.transient.extend(tally.transient);
        all.wrong.extend(tally.wrong);
    }
    std::panic::set_hook(hook);
    let stats = client.stats();
    eprintln!(
        "ok {} truncated {} transient {} wrong {}; {:?}",
        all.ok,
        all.truncated,
        all.transient.len(),
        all.wrong.len(),
        stats
    );
    assert!(all.wrong.is_empty(), "{:#?}", all.wrong);
    assert!(server.bad.lock().unwrap().is_empty(), "{:?}", server.bad);
    // Dead pooled connections twice in a row are rare; most requests must succeed.
    assert!(
        all.transient.len() as u64 * 20 < THREADS * PER_THREAD,
        "{:#?}",
        all.transient
    );
    assert!(all.truncated > 0);
    assert_eq!(stats.pool.leased, 0);
    assert_eq!(stats.pool.pending, 0);

    // A body still being read when the client shuts down gracefully is read to its
    // end, and its connection is then closed, not pooled.
    let id = (1_000_000..)
        .find(|&id| plan(id, 0, false).0 == Answer::Length && plan(id, 0, false).1 > 9000)
        .ok_or("no such id")?;
    let mut body = client.get(format!("{base}/r/{id}"))?.into_body();
    let mut first = [0u8; 4];
    body.read_exact(&mut first)?;
    client.connection_manager().shutdown();
    let mut got = first.to_vec();
    got.extend(body.into_vec()?);
    assert!(
        got == body_of(id, plan(id, 0, false).1),
        "{id}: wrong body after shutdown"
    );
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    // Nothing is left open, though the client itself is still alive.
    let (open, accepted) = server.open.wait_all_closed();
    assert_eq!(open, 0, "{open} of {accepted} sockets still open");
    let after = client.get(format!("{base}/r/{id}"));
    assert!(
        after.as_ref().is_err_and(hcx::Error::is_shutdown),
        "{after:?}"
    );
    Ok(())
}
