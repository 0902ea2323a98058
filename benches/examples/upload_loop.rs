//! Large uploads on one keep-alive connection, for what a request body's writes cost:
//! `cargo run --release -p hcx-benches --example upload_loop -- [MiB] [requests]
//! [bytes|reader]`.
//!
//! PUTs `MiB` (default 64) of body, `requests` times (default 20), as one bytes body
//! or through a reader (16 KiB reads), to a sink in this process that reads each
//! body whole (256 KiB reads) before it answers (nginx answers such a request before
//! reading its body, and the client then writes on without looking); prints MiB/s
//! and the sending thread's CPU time per MiB.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Instant;

use hcx::http::Request;
use hcx::{Body, Client};

/// A reader of `left` bytes of `x`.
struct Xs {
    left: u64,
}

impl Read for Xs {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf.iter_mut().take(n).for_each(|b| *b = b'x');
        self.left -= n as u64;
        Ok(n)
    }
}

/// The CPU time of the calling thread so far, in seconds.
fn cpu_seconds() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
}

/// Serves each connection of `listener`: reads a request head and its
/// `Content-Length` body whole, then answers `200`, until the client closes.
fn sink(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept() {
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut out = stream.try_clone()?;
            let mut input = BufReader::with_capacity(256 * 1024, stream);
            loop {
                let mut length = 0u64;
                let mut line = String::new();
                loop {
                    line.clear();
                    if input.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                std::io::copy(&mut (&mut input).take(length), &mut std::io::sink())?;
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
            }
        });
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/upload", listener.local_addr()?);
    std::thread::spawn(move || sink(listener));
    let mib: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let reader = args.next().as_deref() == Some("reader");
    let len = mib << 20;
    let payload = bytes::Bytes::from(vec![b'x'; len as usize]);
    let client = Client::builder().build()?;
    let (start, cpu) = (Instant::now(), cpu_seconds());
    for _ in 0..n {
        let body = if reader {
            Body::sized_reader(Xs { left: len }, len)
        } else {
            Body::from(payload.clone())
        };
        let response = client.execute(Request::put(url.as_str()).body(body)?)?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()).into());
        }
        response.into_body().into_vec()?;
    }
    let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let total = f64::from(n) * mib as f64;
    println!(
        "{{\"mib_per_s\": {:.1}, \"cpu_ms_per_mib\": {:.3}}}",
        total / secs,
        cpu * 1e3 / total
    );
    Ok(())
}
