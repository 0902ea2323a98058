//! The exchange loops the `h1` and `h1s` benchmarks share: one GET read to its end,
//! and threads sharing one client.

use std::hint::black_box;
use std::time::{Duration, Instant};

use hcx::http::Response;
use hcx::{Client, ResponseBody};

/// The body every exchange benchmark's server sends.
pub const BODY: &str = "hello, world!";

/// One GET of `url`, its body read to the end and checked against [`BODY`]; returns
/// the body's length.
pub fn get(client: &Client, url: &str) -> usize {
    read_body(client.get(url).expect("response"))
}

/// Reads `response`'s body to its end and checks it against [`BODY`]'s length;
/// returns the length.
pub fn read_body(response: Response<ResponseBody>) -> usize {
    let body = response.into_body().into_vec().expect("body");
    assert_eq!(body.len(), BODY.len());
    body.len()
}

/// `per_thread` requests on each of `threads` threads sharing `client`; the wall time.
pub fn run(client: &Client, url: &str, threads: usize, per_thread: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    black_box(get(client, url));
                }
            });
        }
    });
    start.elapsed()
}
