//! `peers-server`: the comparison's fallback server, for machines without nginx.
//!
//! It answers the same locations as run.sh's nginx config, with heads of the same
//! shape (so every client parses what it would parse from nginx), and counts accepted
//! connections behind a `stub_status`-style page, which the driver reads as it reads
//! nginx's:
//!
//! | path | response |
//! |---|---|
//! | `/small` | `hello, world\n`, `Content-Length` |
//! | `/16k` | 16384 bytes of `x`, `Content-Length` |
//! | `/chunked` | a 28-byte HTML body as one chunk and the last chunk, one write |
//! | `/close` | `hello, world\n` and `Connection: close`, then the server closes |
//! | `/nginx_status` | `server accepts handled requests` and the counts |
//!
//! Built for speed the way nginx's one worker is: an edge-triggered epoll loop per
//! worker thread (mio), non-blocking sockets with `TCP_NODELAY`, every response
//! rendered whole once a second (for the `Date` field), pipelined requests
//! answered in one write, no allocation per request once a connection's buffers have
//! grown. `--workers N` runs N loops on one shared listener (nginx's
//! `worker_processes`).
//!
//! `peers-server --port 18089 [--workers 1]`; it runs until killed.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
/// A head larger than this is refused (and the connection closed).
const MAX_HEAD: usize = 16 * 1024;
const SMALL: &[u8] = b"hello, world\n";
const CHUNKED_BODY: &[u8] = b"<p>hello, chunked world</p>\n";
const NOT_FOUND: &[u8] = b"not found\n";

/// Counters the status page shows, shared by every worker.
#[derive(Default)]
struct Counters {
    accepts: AtomicU64,
    requests: AtomicU64,
    active: AtomicU64,
}

fn main() {
    let mut port = 18089u16;
    let mut workers = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--workers" => workers = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| {
        eprintln!("peers-server: binding {addr}: {e}");
        std::process::exit(1)
    });
    if let Err(e) = listener.set_nonblocking(true) {
        eprintln!("peers-server: {e}");
        std::process::exit(1)
    }
    let counters = Arc::new(Counters::default());
    let handles: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let listener = listener.try_clone().unwrap_or_else(|e| {
                eprintln!("peers-server: cloning the listener: {e}");
                std::process::exit(1)
            });
            let counters = Arc::clone(&counters);
            std::thread::spawn(move || {
                let worker = Worker::new(TcpListener::from_std(listener), counters);
                if let Err(e) = worker.and_then(Worker::run) {
                    eprintln!("peers-server: worker stopped: {e}");
                    std::process::exit(1)
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
}

fn usage() -> ! {
    eprintln!("usage: peers-server [--port 18089] [--workers 1]");
    std::process::exit(2)
}

/// One connection's buffers: bytes read and not yet answered, bytes to write.
struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Close once `output` is written.
    closing: bool,
    /// Registered for writable as well as readable.
    writable: bool,
}

struct Worker {
    poll: Poll,
    listener: TcpListener,
    conns: HashMap<usize, Conn>,
    next: usize,
    counters: Arc<Counters>,
    responses: Responses,
}

impl Worker {
    fn new(listener: TcpListener, counters: Arc<Counters>) -> io::Result<Self> {
        Ok(Worker {
            poll: Poll::new()?,
            listener,
            conns: HashMap::new(),
            next: 0,
            counters,
            responses: Responses::new(),
        })
    }

    fn run(mut self) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut self.listener, LISTENER, Interest::READABLE)?;
        let mut events = Events::with_capacity(1024);
        loop {
            // Wakes at least once a second, so the Date field stays current.
            match self.poll.poll(&mut events, Some(Duration::from_secs(1))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.responses.refresh();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept()?,
                    Token(id) => self.serve(id),
                }
            }
        }
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    self.counters.accepts.fetch_add(1, Ordering::Relaxed);
                    self.counters.active.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    let id = self.next;
                    self.next = self.next.wrapping_add(1) % (usize::MAX - 1);
                    self.poll
                        .registry()
                        .register(&mut stream, Token(id), Interest::READABLE)?;
                    self.conns.insert(
                        id,
                        Conn {
                            stream,
                            input: Vec::with_capacity(1024),
                            output: Vec::with_capacity(1024),
                            closing: false,
                            writable: false,
                        },
                    );
                    // The first request is usually on its way: serve what is there.
                    self.serve(id);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // Another worker took it, or the peer gave up: not this loop's problem.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    // Out of descriptors, say: wait for the next readiness.
                    eprintln!("peers-server: accept: {e}");
                    return Ok(());
                }
            }
        }
    }

    /// Reads what the connection has, answers every complete request, writes.
    fn serve(&mut self, id: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let keep = read_and_answer(conn, &self.responses, &self.counters)
            && flush(conn)
            && !(conn.closing && conn.output.is_empty());
        if !keep {
            if let Some(mut conn) = self.conns.remove(&id) {
                let _ = self.poll.registry().deregister(&mut conn.stream);
                self.counters.active.fetch_sub(1, Ordering::Relaxed);
            }
            return;
        }
        // Ask for writable only while output waits.
        let want = !conn.output.is_empty();
        if want != conn.writable {
            conn.writable = want;
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self
                .poll
                .registry()
                .reregister(&mut conn.stream, Token(id), interest);
        }
    }
}

/// Reads until the socket has nothing more, answering each complete request into
/// `conn.output`. False when the connection is finished with.
fn read_and_answer(conn: &mut Conn, responses: &Responses, counters: &Counters) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        if conn.closing {
            // Answered a request that closes the connection: ignore what follows.
            return true;
        }
        match conn.stream.read(&mut chunk) {
            // The peer is done sending: answer what it sent, then close.
            Ok(0) => {
                conn.closing = true;
                return true;
            }
            Ok(n) => {
                conn.input.extend_from_slice(&chunk[..n]);
                if !answer(conn, responses, counters) {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Answers every complete request in `conn.input`. False on a request it cannot
/// read (the connection is then closed without an answer, as for a broken client).
fn answer(conn: &mut Conn, responses: &Responses, counters: &Counters) -> bool {
    let mut start = 0;
    while !conn.closing {
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 32];
        let mut request = httparse::Request::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut request,
            &conn.input[start..],
            &mut headers,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if conn.input.len() - start > MAX_HEAD => return false,
            Ok(httparse::Status::Partial) => break,
            Err(_) => return false,
        };
        // Only bodiless requests come here (GETs); a body would be ignored.
        let close_asked = request.version == Some(0)
            || request.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
            });
        let path = request.path.unwrap_or("/");
        counters.requests.fetch_add(1, Ordering::Relaxed);
        let close = responses.answer(path, close_asked, &mut conn.output, counters);
        conn.closing = close;
        start += len;
    }
    conn.input.drain(..start);
    true
}

/// Writes what it can of `conn.output`. False when the peer is gone.
fn flush(conn: &mut Conn) -> bool {
    let mut written = 0;
    while written < conn.output.len() {
        match conn.stream.write(&conn.output[written..]) {
            Ok(0) => return false,
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    conn.output.drain(..written);
    true
}

/// Every response whole, keep-alive and close, rendered again when the second (and
/// with it the `Date` field) changes: answering a request is one copy.
struct Responses {
    second: u64,
    started: Instant,
    small: Rendered,
    large: Rendered,
    chunked: Rendered,
    not_found: Rendered,
}

/// One location's response, `[keep-alive, close]`.
type Rendered = [Vec<u8>; 2];

impl Responses {
    fn new() -> Self {
        let mut responses = Responses {
            second: u64::MAX,
            started: Instant::now(),
            small: Rendered::default(),
            large: Rendered::default(),
            chunked: Rendered::default(),
            not_found: Rendered::default(),
        };
        responses.refresh();
        responses
    }

    /// Renders every response again if the second changed since the last time.
    fn refresh(&mut self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now == self.second {
            return;
        }
        self.second = now;
        let date = http_date(now);
        let mut chunked_body = format!("{:x}\r\n", CHUNKED_BODY.len()).into_bytes();
        chunked_body.extend_from_slice(CHUNKED_BODY);
        chunked_body.extend_from_slice(b"\r\n0\r\n\r\n");
        let large_body = vec![b'x'; 16 * 1024];
        for (i, close) in [false, true].into_iter().enumerate() {
            self.small[i] = render(&date, "200 OK", "text/plain", false, SMALL, close);
            self.large[i] = render(
                &date,
                "200 OK",
                "application/octet-stream",
                false,
                &large_body,
                close,
            );
            self.chunked[i] = render(&date, "200 OK", "text/html", true, &chunked_body, close);
            self.not_found[i] = render(
                &date,
                "404 Not Found",
                "text/plain",
                false,
                NOT_FOUND,
                close,
            );
        }
    }

    /// Writes the response for `path` (`close`: the request asked for it); whether the
    /// connection closes after it.
    fn answer(&self, path: &str, close: bool, out: &mut Vec<u8>, counters: &Counters) -> bool {
        let rendered = match path {
            "/small" => &self.small,
            "/16k" => &self.large,
            "/chunked" => &self.chunked,
            "/close" => {
                out.extend_from_slice(&self.small[1]);
                return true;
            }
            "/nginx_status" => {
                self.status(out, counters);
                return true;
            }
            _ => &self.not_found,
        };
        out.extend_from_slice(&rendered[usize::from(close)]);
        close
    }

    /// The `stub_status`-style page the driver reads accepted connections from; the
    /// connection closes after it.
    fn status(&self, out: &mut Vec<u8>, counters: &Counters) {
        let accepts = counters.accepts.load(Ordering::Relaxed);
        let body = format!(
            "Active connections: {} \nserver accepts handled requests\n {accepts} {accepts} {} \nReading: 0 Writing: 1 Waiting: 0 \nUptime: {}s\n",
            counters.active.load(Ordering::Relaxed),
            counters.requests.load(Ordering::Relaxed),
            self.started.elapsed().as_secs(),
        );
        let date = http_date(self.second);
        out.extend_from_slice(&render(
            &date,
            "200 OK",
            "text/plain",
            false,
            body.as_bytes(),
            true,
        ));
    }
}

/// A whole response: status line, `Server`, `Date`, `Content-Type`, then the framing
/// fields as nginx orders them (`Transfer-Encoding: chunked` when `chunked`, `body`
/// being chunked already; else `Content-Length`), `Connection`, `body`.
fn render(
    date: &[u8; 29],
    status: &str,
    content_type: &str,
    chunked: bool,
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(192 + body.len());
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\nServer: peers-server\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\nContent-Type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\n");
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    } else {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(connection(close));
    out.extend_from_slice(body);
    out
}

fn connection(close: bool) -> &'static [u8] {
    if close {
        b"Connection: close\r\n\r\n"
    } else {
        b"Connection: keep-alive\r\n\r\n"
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7) for seconds since the Unix epoch.
fn http_date(secs: u64) -> [u8; 29] {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Civil from days (Howard Hinnant's algorithm), days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!(
        "{}, {day:02} {} {year:04} {hour:02}:{minute:02}:{second:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
    );
    let mut out = [b' '; 29];
    let n = text.len().min(29);
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::http_date;

    #[test]
    fn dates_are_imf_fixdate() {
        assert_eq!(&http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&http_date(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&http_date(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
    }
}
