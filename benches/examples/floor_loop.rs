//! The floor of a blocking HTTP/1.1 client on one connection: how fast a loop that does
//! only what any such client must do runs against a real server, each step added one at
//! a time, to compare with `wrk -c1` and hcx in the pinned layout of the peer comparison
//! (`benches/peers`; docs/benchmarks.md, "Session 12").
//!
//! `cargo run --release -p hcx-benches --example floor_loop -- URL [seconds] [level]`
//!
//! Levels, each including the ones before it:
//! - `raw`: write hcx's request bytes, read until the head's end and `Content-Length`
//!   bytes of body (found by a byte search, nothing parsed);
//! - `parse`: the head parsed by `httparse`;
//! - `probe`: hcx's stale probe before each request (one non-blocking
//!   `recv(MSG_PEEK | MSG_DONTWAIT)`);
//! - `map`: the fields copied into an `http::HeaderMap` the way hcx's codec does
//!   (values sharing the read buffer), dropped after the body.
//!
//! Prints requests per second and the process's CPU time per request (`/proc`).
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Level {
    Raw,
    Parse,
    Probe,
    Map,
}

/// User and system CPU time of the process, in microseconds.
fn cpu_us() -> f64 {
    let (user, sys) = hcx_benches::proc_time::process_cpu_us();
    user + sys
}

/// The position just past the blank line ending the head, if it is in `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// `Content-Length` found by a byte search of the head (the `raw` level parses nothing).
fn raw_content_length(head: &[u8]) -> usize {
    let needle = b"\r\ncontent-length:";
    head.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|at| {
            head[at + needle.len()..]
                .iter()
                .skip_while(|b| **b == b' ')
                .take_while(|b| b.is_ascii_digit())
                .fold(0usize, |n, b| n * 10 + usize::from(b - b'0'))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url: http::Uri = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18090/small".into())
        .parse()?;
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let level = match args.next().as_deref().unwrap_or("map") {
        "raw" => Level::Raw,
        "parse" => Level::Parse,
        "probe" => Level::Probe,
        "map" => Level::Map,
        other => return Err(format!("unknown level {other}").into()),
    };
    let authority = url.authority().ok_or("URL without a host")?.as_str();
    let mut stream = TcpStream::connect(authority)?;
    stream.set_nodelay(true)?;
    // The bytes hcx's default client sends.
    let request = format!(
        "GET {} HTTP/1.1\r\nhost: {authority}\r\naccept-encoding: gzip, deflate\r\n\
         user-agent: hcx/0.1.0\r\n\r\n",
        url.path()
    );
    let mut buf = vec![0u8; 8192];
    let mut one = |stream: &mut TcpStream| -> Result<(), Box<dyn std::error::Error>> {
        if level >= Level::Probe {
            let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
            match socket2::SockRef::from(&*stream)
                .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT)
            {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                other => return Err(format!("connection not fresh: {other:?}").into()),
            }
        }
        stream.write_all(request.as_bytes())?;
        let mut filled = 0;
        let end = loop {
            if filled == buf.len() {
                return Err("the response head does not fit the 8 KiB buffer".into());
            }
            let n = stream.read(&mut buf[filled..])?;
            if n == 0 {
                return Err("closed".into());
            }
            filled += n;
            if let Some(end) = head_end(&buf[..filled]) {
                break end;
            }
        };
        let length = if level >= Level::Parse {
            let mut fields = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut fields);
            response.parse(&buf[..filled])?;
            if response.code != Some(200) {
                return Err("status".into());
            }
            let mut length = 0;
            let mut map = HeaderMap::new();
            let shared = (level >= Level::Map).then(|| Bytes::copy_from_slice(&buf[..end]));
            let base = buf.as_ptr() as usize;
            for field in response.headers.iter() {
                if field.name.eq_ignore_ascii_case("content-length") {
                    length = std::str::from_utf8(field.value)?.trim().parse()?;
                }
                if let Some(shared) = &shared {
                    let at = field.value.as_ptr() as usize - base;
                    let value = shared.slice(at..at + field.value.len());
                    map.append(
                        HeaderName::from_bytes(field.name.as_bytes())?,
                        HeaderValue::from_maybe_shared(value)?,
                    );
                }
            }
            std::hint::black_box(&map);
            length
        } else {
            raw_content_length(&buf[..end])
        };
        if end + length > buf.len() {
            return Err(format!("a {length}-byte body does not fit the 8 KiB buffer").into());
        }
        while filled < end + length {
            let n = stream.read(&mut buf[filled..])?;
            if n == 0 {
                return Err("closed in the body".into());
            }
            filled += n;
        }
        Ok(())
    };
    // Warm-up, then the timed run.
    let warm_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm_until {
        one(&mut stream)?;
    }
    let cpu_before = cpu_us();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        one(&mut stream)?;
        n += 1;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_us() - cpu_before;
    println!(
        "{{\"rps\":{:.0},\"cpu_us_per_req\":{:.2},\"requests\":{n}}}",
        n as f64 / elapsed.as_secs_f64(),
        cpu / n as f64
    );
    Ok(())
}
