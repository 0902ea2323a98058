//! Settings at their edges: a value the system or the parser cannot take is a
//! `Config` error at build, or is applied as near as it can be, never a panic or a
//! request that fails as if the network or the server were at fault.

mod common;

mod linger {
    // `SocketConfig::linger` documents `Some(Duration::ZERO)` as "reset at once"; any
    // other value must close gracefully (FIN), waiting up to that long for unsent data.

    use super::common;

    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    use common::{SAFETY, TestResult};
    use hcx::{Client, SocketConfig};

    /// What the server's read sees after the client closes: `Ok(0)` (FIN) or an error
    /// (`ConnectionReset`: the client sent a RST).
    fn how_the_client_closes(
        linger: Duration,
    ) -> Result<std::io::Result<usize>, Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = thread::spawn(move || -> std::io::Result<std::io::Result<usize>> {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(SAFETY))?;
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk)? {
                    0 => break,
                    n => head.extend_from_slice(&chunk[..n]),
                }
            }
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            )?;
            Ok(stream.read(&mut chunk))
        });
        let client = Client::builder()
            .socket_config(SocketConfig::default().with_linger(Some(linger)))
            .response_timeout(Some(SAFETY))
            .build()?;
        let body = client
            .get(format!("http://127.0.0.1:{port}/"))?
            .into_body()
            .into_string()?;
        assert_eq!(body, "ok");
        Ok(server.join().map_err(|_| "server thread panicked")??)
    }

    #[test]
    fn a_sub_second_linger_closes_with_a_fin_not_a_reset() -> TestResult {
        let seen = how_the_client_closes(Duration::from_millis(500))?;
        // Today: Err(ConnectionReset) — 500 ms is truncated to 0 s, SO_LINGER {on, 0}.
        assert!(matches!(seen, Ok(0)), "linger 500ms closed with {seen:?}");
        Ok(())
    }

    #[test]
    fn a_linger_of_2_pow_16_seconds_closes_with_a_fin_not_a_reset() -> TestResult {
        let seen = how_the_client_closes(Duration::from_secs(1 << 16))?;
        // Windows: `l_linger` is a u_short, which 2^16 s would wrap to 0.
        assert!(matches!(seen, Ok(0)), "linger 2^16 s closed with {seen:?}");
        Ok(())
    }

    #[test]
    fn a_linger_of_2_pow_32_seconds_closes_with_a_fin_not_a_reset() -> TestResult {
        let seen = how_the_client_closes(Duration::from_secs(1 << 32))?;
        // Today: Err(ConnectionReset) — the seconds wrap to 0 in socket2's `as c_int`.
        assert!(matches!(seen, Ok(0)), "linger 2^32 s closed with {seen:?}");
        Ok(())
    }
}

mod tcp_keepalive {
    // A `TcpKeepalive` the system cannot apply must be a `Config` error from `build`
    // (or be clamped/rounded), not a `Connect` failure on every request.

    use super::common;

    use std::time::Duration;

    use common::{SAFETY, TestResult};
    use hcx::{Client, ErrorKind, TcpKeepalive};
    use hcx_testserver::{Method, Reply, TestServer};

    fn check(keepalive: TcpKeepalive) -> TestResult {
        let server = TestServer::builder()
            .route(Method::GET, "/", Reply::ok().body("hi"))
            .start()?;
        let built = Client::builder()
            .tcp_keepalive(Some(keepalive))
            .response_timeout(Some(SAFETY))
            .build();
        match built {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Config, "{keepalive:?}: {e}"),
            Ok(client) => match client.get(server.url("/")) {
                Ok(response) => assert_eq!(response.status(), 200),
                // Today: ErrorKind::Connect, "connect to 127.0.0.1:… failed …: Invalid
                // argument (os error 22)", with nothing sent and no hint at the setting.
                Err(e) => panic!(
                    "{keepalive:?}: every request fails with {:?}: {e:#}",
                    e.kind()
                ),
            },
        }
        Ok(())
    }

    #[test]
    fn a_sub_second_keepalive_idle_is_refused_or_rounded_up() -> TestResult {
        check(TcpKeepalive::new(
            Duration::from_millis(500),
            Duration::from_secs(5),
            3,
        ))
    }

    #[test]
    fn a_keepalive_idle_above_the_system_maximum_is_refused_or_clamped() -> TestResult {
        // 12 h: Linux caps TCP_KEEPIDLE at 32767 s.
        check(TcpKeepalive::new(
            Duration::from_secs(12 * 3600),
            Duration::from_secs(60),
            5,
        ))
    }

    #[test]
    fn too_many_keepalive_retries_are_refused_or_clamped() -> TestResult {
        // Linux caps TCP_KEEPCNT at 127.
        check(TcpKeepalive::new(
            Duration::from_secs(60),
            Duration::from_secs(10),
            200,
        ))
    }
}

mod head_limit {
    // hcx refuses at `build` the settings that would fail every request (zero pool
    // limits, zero connect/response timeouts, `max_ratio` 0). `max_head_bytes: 0` is one:
    // no response head fits, and each failure is blamed on the server.

    use super::common;

    use common::{SAFETY, TestResult};
    use hcx::{Client, ErrorKind, Limits};
    use hcx_testserver::{Method, Reply, TestServer};

    #[test]
    fn a_zero_head_limit_is_a_config_error_not_a_protocol_error_per_response() -> TestResult {
        let server = TestServer::builder()
            .route(Method::GET, "/", Reply::ok().body("hi"))
            .start()?;
        let built = Client::builder()
            .limits(Limits::default().with_max_head_bytes(0))
            .response_timeout(Some(SAFETY))
            .build();
        match built {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Config, "{e}"),
            Ok(client) => {
                let result = client.get(server.url("/")).map(|r| r.status());
                // Today: Err(Protocol) "invalid response: response head too large: response
                // head larger than the limit of 0 bytes (status line "HTTP/1.1 200 OK")".
                panic!("max_head_bytes 0 accepted; a healthy server's answer gives {result:?}");
            }
        }
        Ok(())
    }
}

mod max_headers {
    // `Limits::max_headers` is a public field with a public setter: a huge value ("no
    // limit", as Apache's `maxHeaderCount = -1` would be ported) must not panic.

    use super::common;

    use common::{SAFETY, TestResult};
    use hcx::{Client, Limits};
    use hcx_testserver::{Method, Reply, TestServer};

    #[test]
    fn a_huge_max_headers_does_not_panic_on_a_response() -> TestResult {
        let server = TestServer::builder()
            .route(Method::GET, "/", Reply::ok().body("hi"))
            .start()?;
        let client = Client::builder()
            .limits(Limits::default().with_max_headers(usize::MAX))
            .response_timeout(Some(SAFETY))
            .build()?;
        let url = server.url("/");
        // Today: panics with "capacity overflow" in hcx-h1's parse_raw.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            client.get(url).map(|r| r.status())
        }));
        let result =
            outcome.map_err(|_| "client.get panicked with Limits::max_headers = usize::MAX")?;
        assert_eq!(result?, 200);
        Ok(())
    }

    /// Apache's `maxHeaderCount` of 0 (or below) means "no limit"; ported as
    /// `with_max_headers(0)` it refused every response carrying a field at all — after
    /// the request was sent (a POST applied, then reported as the server's protocol
    /// error). Refused at build, as a head limit too small for any response is.
    #[test]
    fn a_zero_max_headers_is_a_config_error_not_a_protocol_error_after_sending() -> TestResult {
        let server = TestServer::builder()
            .route(Method::POST, "/", Reply::ok().body("hi"))
            .start()?;
        let built = Client::builder()
            .limits(Limits::default().with_max_headers(0))
            .response_timeout(Some(SAFETY))
            .build();
        match built {
            Err(e) => {
                assert_eq!(e.kind(), hcx::ErrorKind::Config, "{e}");
                assert!(e.to_string().contains("max_headers"), "{e}");
            }
            Ok(client) => {
                let result = client.post(server.url("/"), "order=1").map(|r| r.status());
                let sent = server.requests().len();
                // Today: Err(Protocol) "invalid response: too many header fields", with
                // the POST already received by the server.
                panic!("max_headers 0 accepted; the POST ({sent} received) gives {result:?}");
            }
        }
        // The connection manager's builder refuses it for a proxy's answer too.
        let manager = hcx::PoolingConnectionManager::builder()
            .tunnel_limits(Limits::default().with_max_headers(0))
            .build();
        let error = manager.err().ok_or("tunnel max_headers 0 accepted")?;
        assert_eq!(error.kind(), hcx::ErrorKind::Config, "{error}");
        assert!(error.to_string().contains("max_headers"), "{error}");
        Ok(())
    }

    /// RFC 9110 §15.2: a client must parse one or more 1xx responses before the final
    /// one. With `max_informational(0)` an `Expect: 100-continue` POST failed on the
    /// server's `100 Continue`, after its head was sent, as the server's protocol error.
    #[test]
    fn a_zero_max_informational_is_a_config_error_not_a_failed_expect_continue() -> TestResult {
        let server = TestServer::builder()
            .route(Method::POST, "/", Reply::ok().body("hi"))
            .start()?;
        let built = Client::builder()
            .limits(Limits::default().with_max_informational(0))
            .response_timeout(Some(SAFETY))
            .build();
        match built {
            Err(e) => {
                assert_eq!(e.kind(), hcx::ErrorKind::Config, "{e}");
                assert!(e.to_string().contains("max_informational"), "{e}");
            }
            Ok(client) => {
                let request = hcx::http::Request::post(server.url("/"))
                    .header("expect", "100-continue")
                    .body(hcx::Body::from("order=1"))?;
                let result = client.execute(request).map(|r| r.status());
                // Today: Err(Protocol) "invalid response: too many informational (1xx)
                // responses", the head already sent.
                panic!("max_informational 0 accepted; an expect-continue POST gives {result:?}");
            }
        }
        Ok(())
    }
}

mod chain_names {
    // `ChainElement::from(&'static str)` maps "RETRY" to the built-in RETRY element;
    // `ChainElement::from(String)` (a name read from configuration) makes a handler
    // name "RETRY" instead, which displays the same and matches nothing.

    use super::common::TestResult;
    use hcx::chain::{Chain, ChainElement, Scope};
    use hcx::{Body, Client, Error, ResponseBody};
    use http::{Request, Response};

    fn pass(
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        chain.proceed(request, scope)
    }

    #[test]
    fn a_built_in_name_given_as_a_string_names_the_built_in_element() {
        // Today: Named("RETRY") != Retry, though both print "RETRY".
        assert_eq!(
            ChainElement::from(String::from("RETRY")),
            ChainElement::Retry
        );
    }

    #[test]
    fn replacing_retry_by_a_string_name_works() -> TestResult {
        let name: String = "RETRY".to_owned(); // e.g. read from a config file
        // Today: Err(Config) "no element RETRY in the exec chain (REDIRECT, COMPRESS,
        // RETRY, AUTH, PROTOCOL, MAIN_TRANSPORT); was it disabled?"
        let built = Client::builder().replace_handler(name, pass).build();
        assert!(built.is_ok(), "{:?}", built.err().map(|e| e.to_string()));
        Ok(())
    }

    #[test]
    fn a_handler_cannot_be_added_under_a_built_in_name() {
        // Today: Ok — the chain then holds two elements both shown as "RETRY".
        let built = Client::builder()
            .add_handler_first(String::from("RETRY"), pass)
            .build();
        assert!(built.is_err(), "a second element named RETRY was accepted");
    }
}

#[cfg(target_os = "linux")]
mod socket_config_order {
    // `ClientBuilder::tcp_keepalive` is "shorthand for the SocketConfig::tcp_keepalive
    // field"; a later `socket_config` (to set, say, a linger) silently drops it, while
    // the builder's other shortcuts (`response_timeout`, `connection_request_timeout`,
    // `keep_alive_margin`) hold "whatever the order of the calls".
    // Linux only: reads the socket's keep-alive timer from /proc/net/tcp.

    use std::time::Duration;

    use super::common::{SAFETY, TestResult, route};
    use hcx::{Client, Decision, SocketConfig, TcpKeepalive};
    use hcx_testserver::{Method, Reply, TestServer};

    /// Whether the pooled connection's socket (by local port) runs a keep-alive timer
    /// (`tr` = 2 in /proc/net/tcp).
    fn keepalive_timer_on(client: &Client, url: &str) -> Result<bool, Box<dyn std::error::Error>> {
        let mut lease = client
            .connection_manager()
            .pool()
            .lease(&route(url)?, None)
            .get(SAFETY)?;
        let port = lease
            .connection_mut()
            .and_then(|c| c.local_addr())
            .ok_or("no pooled connection")?
            .port();
        lease.release(Decision::keep(None));
        let table = std::fs::read_to_string("/proc/net/tcp")?;
        let wanted = format!(":{port:04X}");
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(1).is_some_and(|local| local.ends_with(&wanted))
                && cols.get(3) == Some(&"01")
            {
                return Ok(cols.get(5).is_some_and(|t| t.starts_with("02:")));
            }
        }
        Err("socket not found in /proc/net/tcp".into())
    }

    fn check(client: Client) -> Result<bool, Box<dyn std::error::Error>> {
        let server = TestServer::builder()
            .route(Method::GET, "/", Reply::ok().body("hi"))
            .start()?;
        let url = server.url("/");
        assert_eq!(client.get(&url)?.into_body().into_string()?, "hi");
        keepalive_timer_on(&client, &url)
    }

    #[test]
    fn tcp_keepalive_survives_a_later_socket_config() -> TestResult {
        let keepalive = Some(TcpKeepalive::new(
            Duration::from_secs(60),
            Duration::from_secs(10),
            3,
        ));
        let linger = SocketConfig::default().with_linger(Some(Duration::from_secs(1)));
        // Control: the other order keeps it.
        let before = Client::builder()
            .socket_config(linger.clone())
            .tcp_keepalive(keepalive)
            .response_timeout(Some(SAFETY))
            .build()?;
        assert!(
            check(before)?,
            "control: keep-alive set after socket_config"
        );
        let after = Client::builder()
            .tcp_keepalive(keepalive)
            .socket_config(linger)
            .response_timeout(Some(SAFETY))
            .build()?;
        // Today: false — the keep-alive was dropped without a word.
        assert!(
            check(after)?,
            "tcp_keepalive was dropped by a later socket_config"
        );
        Ok(())
    }
}

mod proxy_host {
    // `Proxy::new` and `Route::http` take a host as text and accept any string; a host
    // that can never be connected to must be refused where the setting is made (as
    // `Proxy::from_url` and `ClientBuilder::max_per_route_for` do), not fail every
    // request with a DNS lookup of a string that is not a name.

    use std::time::Duration;

    use super::common::{SAFETY, TestResult};
    use hcx::{Client, ErrorKind, Proxy};
    use hcx_testserver::{Method, Reply, TestServer};

    #[test]
    fn a_proxy_host_that_is_not_a_host_is_refused_by_build() -> TestResult {
        let server = TestServer::builder()
            .route(Method::GET, "/", Reply::ok().body("hi"))
            .start()?;
        // The usual slip (host:port in the host), and strings that are no host at all.
        for host in ["127.0.0.1:3128", "", "a b", "[::1", "http://127.0.0.1"] {
            let built = Client::builder()
                .proxy(Proxy::new(host, 3128))
                .connect_timeout(Duration::from_secs(2))
                .response_timeout(Some(SAFETY))
                .build();
            match built {
                Err(e) => assert!(
                    matches!(e.kind(), ErrorKind::Config | ErrorKind::InvalidUrl),
                    "{host:?}: {e}"
                ),
                // Today: built, and every request fails with
                // UnknownHost "cannot resolve 127.0.0.1:3128: failed to lookup address
                // information" (or "cannot resolve : …"), after a resolver call.
                Ok(client) => {
                    let error = client.get(server.url("/")).err();
                    panic!(
                        "Proxy::new({host:?}, 3128) was accepted; each request then fails with {:?}",
                        error.map(|e| (e.kind(), e.to_string()))
                    );
                }
            }
        }
        Ok(())
    }
}

/// A zero idle eviction time would close every connection as it is released (no
/// pooling): refused, as the zero timeouts and time to live are.
#[test]
fn evict_idle_zero_is_refused() {
    let built = hcx::Client::builder()
        .evict_idle_connections(std::time::Duration::ZERO)
        .build();
    assert_eq!(built.err().map(|e| e.kind()), Some(hcx::ErrorKind::Config));
}

/// A pool limit that cannot be used names the setting in the error's own message, not
/// only in its `source()` (a log line printing `{error}` shows it).
#[test]
fn pool_config_error_names_the_setting() {
    let error = hcx::Client::builder()
        .time_to_live(Some(std::time::Duration::ZERO))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("time_to_live"), "{error}");
    let error = hcx::Client::builder().max_per_route(0).build().unwrap_err();
    assert!(error.to_string().contains("max_per_route must"), "{error}");
    // The builders' names, not the pool's own (`default_max_per_route`).
    assert!(!error.to_string().contains("default_"), "{error}");
}
