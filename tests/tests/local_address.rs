//! `RequestConfig::local_address` (Apache 4.5's `localAddress`): new connections are
//! bound to it before they connect, only the target's addresses of its family are
//! tried, and it is part of the route, so a pooled connection bound elsewhere (or
//! not bound) is never reused for it.

mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::{SAFETY, TestResult, info};
use hcx::{Body, Client, ErrorKind, RequestConfig};
use hcx_testserver::TestServer;
use http::Request;

/// A client that resolves `dual.test` to `addrs`.
fn client_resolving(addrs: Vec<SocketAddr>) -> Result<Client, hcx::Error> {
    Client::builder()
        .resolver(
            move |host: &str, _port: u16| -> io::Result<Vec<SocketAddr>> {
                match host {
                    "dual.test" => Ok(addrs.clone()),
                    _ => Err(io::Error::new(io::ErrorKind::NotFound, "not dual.test")),
                }
            },
        )
        .build()
}

/// A GET of `dual.test` from `local`.
fn from(local: Option<IpAddr>) -> Result<Request<Body>, http::Error> {
    let mut request = Request::get("http://dual.test/").body(Body::empty())?;
    request.extensions_mut().insert(
        RequestConfig::default()
            .with_response_timeout(Some(SAFETY))
            .with_local_address(local),
    );
    Ok(request)
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

#[test]
fn the_local_address_picks_the_family_and_keys_the_pool() -> TestResult {
    let v4 = TestServer::builder().start()?;
    let v6 = TestServer::builder().ipv6().start()?;
    // IPv6 first, as a resolver usually answers: the race tries it first.
    let client = client_resolving(vec![v6.addr(), v4.addr()])?;

    let first = client.execute(from(Some(V4))?)?;
    assert!(!info(&first).reused);
    first.into_body().into_vec()?;
    assert_eq!(
        (
            v4.stats().connections_accepted,
            v6.stats().connections_accepted
        ),
        (1, 0)
    );

    let bound_v6 = client.execute(from(Some(V6))?)?;
    bound_v6.into_body().into_vec()?;
    assert_eq!(v6.stats().connections_accepted, 1);

    // Not bound: its own route, so neither pooled connection is taken (the race
    // connects to IPv6 first).
    let free = client.execute(from(None)?)?;
    assert!(!info(&free).reused);
    free.into_body().into_vec()?;
    assert_eq!(v6.stats().connections_accepted, 2);

    // Bound to 127.0.0.1 again: the first connection, reused.
    let again = client.execute(from(Some(V4))?)?;
    assert!(info(&again).reused);
    again.into_body().into_vec()?;
    assert_eq!(
        (
            v4.stats().connections_accepted,
            v6.stats().connections_accepted
        ),
        (1, 2)
    );
    assert_eq!(client.stats().pool.available, 3);
    Ok(())
}

/// A request from `local` to an IPv4 server that must fail to connect: its error's
/// text (a `Connect` error, and the server accepted nothing).
fn connect_error_from(local: IpAddr) -> Result<String, Box<dyn std::error::Error>> {
    let v4 = TestServer::builder().start()?;
    let client = client_resolving(vec![v4.addr()])?;
    let error = client
        .execute(from(Some(local))?)
        .err()
        .ok_or(format!("sent from {local} to an IPv4 address"))?;
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert_eq!(v4.stats().connections_accepted, 0);
    Ok(error.to_string())
}

#[test]
fn no_address_of_the_local_address_s_family_is_a_connect_error() -> TestResult {
    let error = connect_error_from(V6)?;
    assert!(
        error.contains("none of its 1 address(es) is IPv6"),
        "{error}"
    );
    Ok(())
}

#[test]
fn a_local_address_this_host_does_not_have_fails_the_connect() -> TestResult {
    // TEST-NET-1 (RFC 5737): on no interface, so the bind fails before any packet.
    let error = connect_error_from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))?;
    assert!(
        error.contains("no socket could be bound to the local address 192.0.2.1"),
        "{error}"
    );
    Ok(())
}

#[test]
fn an_ipv4_mapped_local_address_is_its_ipv4_address() -> TestResult {
    let v4 = TestServer::builder().start()?;
    let v6 = TestServer::builder().ipv6().start()?;
    let client = client_resolving(vec![v6.addr(), v4.addr()])?;
    // ::ffff:127.0.0.1 is 127.0.0.1 (as Apache's InetAddress has it): the IPv4
    // address is tried, from 127.0.0.1.
    let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
    let response = client.execute(from(Some(mapped))?)?;
    response.into_body().into_vec()?;
    assert_eq!(
        (
            v4.stats().connections_accepted,
            v6.stats().connections_accepted
        ),
        (1, 0)
    );
    Ok(())
}

#[test]
fn an_ipv4_mapped_target_is_reached_from_an_ipv4_local_address() -> TestResult {
    let v4 = TestServer::builder().start()?;
    let client = Client::builder().build()?;
    // [::ffff:127.0.0.1] is 127.0.0.1: an IPv4 local address reaches it, as an
    // unbound connection does.
    let uri = format!("http://[::ffff:127.0.0.1]:{}/", v4.addr().port());
    for local in [None, Some(V4)] {
        let mut request = Request::get(uri.as_str()).body(Body::empty())?;
        request.extensions_mut().insert(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_local_address(local),
        );
        client.execute(request)?.into_body().into_vec()?;
    }
    assert_eq!(v4.stats().connections_accepted, 2);
    Ok(())
}
