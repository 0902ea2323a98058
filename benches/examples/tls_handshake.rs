//! The TLS handshake alone, against the test server's TLS mode on loopback (rustls
//! both sides): the median time from connected TCP socket to finished handshake, for
//! the key exchange groups and resumption. Shows why hcx puts X25519 first.
//!
//! `cargo run --release -p hcx-benches --example tls_handshake [-- ROUNDS]`
//!
//! Each round makes one connection with each configuration in turn (interleaved, so
//! drift on a noisy machine hits them alike):
//! - `ring default (P-384 first)`: rustls' ring provider as shipped, whose first key
//!   share is P-384;
//! - `hcx (X25519 first)`: [`hcx::crypto_provider`], full handshake (resumption off);
//! - `hcx, resumed`: the same with a session ticket from the previous round.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcx::rustls::client::Resumption;
use hcx::rustls::crypto::CryptoProvider;
use hcx::rustls::{ClientConfig, ClientConnection, StreamOwned};
use hcx_testserver::{Method, Reply, TestCa, TestServer};

fn config(ca: &TestCa, provider: Arc<CryptoProvider>, resume: bool) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(ca.root_store())
        .with_no_client_auth();
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Arc::new(config)
}

/// Connects, handshakes (timed), sends one request and reads to the end so the
/// session ticket is taken in.
fn handshake(server: &TestServer, config: &Arc<ClientConfig>) -> Duration {
    let tcp = TcpStream::connect(server.addr()).expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = "127.0.0.1".try_into().expect("an IP address");
    let conn = ClientConnection::new(Arc::clone(config), name).expect("a client connection");
    let mut tls = StreamOwned::new(conn, tcp);
    let start = Instant::now();
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).expect("handshake");
    }
    let took = start.elapsed();
    tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .expect("write");
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut tls, &mut rest);
    took
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let ca = TestCa::new().expect("a test CA");
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .close_after(1)
        .start()
        .expect("test server starts");
    #[allow(deprecated)] // the point: rustls' ring provider as shipped
    let stock = Arc::new(hcx::rustls::crypto::ring::default_provider());
    let configs = [
        ("ring default (P-384 first)", config(&ca, stock, false)),
        (
            "hcx (X25519 first)",
            config(&ca, hcx::crypto_provider(), false),
        ),
        ("hcx, resumed", config(&ca, hcx::crypto_provider(), true)),
    ];
    let mut samples = vec![Vec::with_capacity(rounds); configs.len()];
    for round in 0..=rounds {
        for (i, (_, config)) in configs.iter().enumerate() {
            let took = handshake(&server, config);
            if round > 0 {
                samples[i].push(took); // round 0 warms up (and gets the first ticket)
            }
        }
    }
    let stats = server.stats();
    println!("TLS handshakes on loopback, median of {rounds}:");
    for ((name, _), samples) in configs.iter().zip(samples) {
        println!(
            "  {name:<28} {:>8.1} µs",
            median(samples).as_secs_f64() * 1e6
        );
    }
    println!(
        "server: {} handshakes, {} resumed",
        stats.tls_handshakes, stats.tls_resumed
    );
}
