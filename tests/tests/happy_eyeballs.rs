//! A name with several addresses, one of them dead: the client races them as RFC 8305
//! ("Happy Eyeballs v2") says, so the request goes through on the live address after
//! the 250 ms connection attempt delay, not after the dead one's connect timeout
//! (Apache HttpClient tries the addresses one after another).

mod common;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{SAFETY, TestResult};
use hcx::Client;
use hcx_testserver::TestServer;

/// A listener that never accepts, with its accept queue full: from now on every SYN
/// sent to it is dropped, so a connect to it hangs until its timeout. Keep the queue
/// (the connections that filled it) alive as long as the listener.
fn blackhole() -> io::Result<(TcpListener, Vec<TcpStream>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut queue = Vec::new();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queue.push(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok((listener, queue)),
            Err(e) => return Err(e),
        }
        if queue.len() > 8192 {
            return Err(io::Error::other(
                "the accept queue never filled (a backlog above 8192?)",
            ));
        }
    }
}

#[test]
fn a_dead_first_address_does_not_cost_the_connect_timeout() -> TestResult {
    let (hole, _queue) = blackhole()?;
    let server = TestServer::builder().start()?;
    let (dead, live) = (hole.local_addr()?, server.addr());
    let client = Client::builder()
        .resolver(
            move |host: &str, _port: u16| -> io::Result<Vec<SocketAddr>> {
                match host {
                    "dual.test" => Ok(vec![dead, live]),
                    _ => Err(io::Error::new(io::ErrorKind::NotFound, "not dual.test")),
                }
            },
        )
        .connect_timeout(Duration::from_secs(10))
        .response_timeout(Some(SAFETY))
        .build()?;
    let start = Instant::now();
    let response = client.get(format!("http://dual.test:{}/", server.port()))?;
    let took = start.elapsed();
    assert_eq!(response.status(), 200);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let host = format!("dual.test:{}", server.port());
    assert_eq!(requests[0].header("host"), Some(host.as_str()));
    assert_eq!(client.stats().connections_opened, 1);
    Ok(())
}
