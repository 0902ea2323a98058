//! What goes on the wire for a request, checked byte by byte against servers that
//! record it: the request-target of CONNECT, proxy credentials through a tunnel and
//! from URLs, fields hcx adds to a full header map, `Expect` without content, and
//! IPv6 zone identifiers.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

/// Where a recording server hands over the request heads it read.
type Heads = mpsc::Receiver<Vec<u8>>;

/// Accepts up to `connections` connections and hands back the request head each
/// carried, answering `200` (no body) with `Connection: close`; a connection that
/// sent nothing hands back an empty head and ends the server.
fn recording_server(connections: usize) -> std::io::Result<(u16, Heads, thread::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(common::SAFETY));
            let head = common::read_head(&mut stream);
            let sent_nothing = head.is_empty();
            if !sent_nothing {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
            let _ = tx.send(head);
            if sent_nothing {
                return;
            }
        }
    });
    Ok((port, rx, server))
}

/// Wakes the recording server on `port` if the client never connected, and waits for
/// it to end.
fn stop(port: u16, server: thread::JoinHandle<()>) -> common::TestResult {
    drop(TcpStream::connect(("127.0.0.1", port)));
    server.join().map_err(|_| "server thread panicked")?;
    Ok(())
}

mod connect {
    // A `CONNECT` request given to the client must go out in authority-form
    // (RFC 9110 §9.3.6, RFC 9112 §3.2.3) or be refused before anything is sent.

    use super::common;

    use super::{recording_server, stop};

    use hcx::{Body, ErrorKind};
    use http::{Method, Request};

    #[test]
    fn a_connect_request_is_sent_in_authority_form_or_refused() -> common::TestResult {
        let (port, rx, server) = recording_server(1)?;
        let client = common::client()?;
        let request = Request::builder()
            .method(Method::CONNECT)
            .uri(format!("http://127.0.0.1:{port}/"))
            .body(Body::empty())?;
        let result = client.execute(request);
        // Wakes the server when the client never connected.
        stop(port, server)?;
        let wire = String::from_utf8(rx.recv_timeout(common::SAFETY)?)?;
        let request_line = wire.split("\r\n").next().unwrap_or("");
        match result {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
                assert!(wire.is_empty(), "refused, yet sent: {wire:?}");
            }
            Ok(_) => assert_eq!(
                request_line,
                format!("CONNECT 127.0.0.1:{port} HTTP/1.1"),
                "CONNECT needs the authority-form request-target (RFC 9112 §3.2.3)"
            ),
        }
        Ok(())
    }
}

mod tunnel_credentials {
    // A request's own `Proxy-Authorization` is the proxy's (docs/https-and-proxies.md:
    // "with `Proxy-Authorization` when the proxy has credentials (and the request has
    // none of its own)"; RFC 9110 §11.7.2: it applies only to the next inbound proxy).
    // For an `https` target the request travels through a `CONNECT` tunnel to the
    // origin: the header must not go with it to the origin server.

    use super::common;

    use std::sync::Arc;

    use common::{SAFETY, TestResult};
    use hcx::rustls::ClientConfig;
    use hcx::{Body, Client, Proxy, crypto_provider};
    use hcx_testserver::{Method, Reply, TestCa, TestProxy, TestServer};
    use http::Request;

    #[test]
    fn a_requests_proxy_authorization_never_reaches_the_origin_through_a_tunnel() -> TestResult {
        let ca = TestCa::new()?;
        let origin = TestServer::builder()
            .tls(ca.server_config(&["127.0.0.1"]))
            .route(Method::GET, "/", Reply::ok().body("secure"))
            .start()?;
        let proxy = TestProxy::builder().start()?;
        let tls = Arc::new(
            ClientConfig::builder_with_provider(crypto_provider())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(ca.root_store())
                .with_no_client_auth(),
        );
        let client = Client::builder()
            .proxy(Proxy::from_url(&proxy.url())?)
            .tls_config(tls)
            .response_timeout(Some(SAFETY))
            .build()?;
        let request = Request::get(origin.url("/"))
            .header("proxy-authorization", "Basic cHJveHl1c2VyOnByb3h5cGFzcw==")
            .body(Body::empty())?;
        let body = client.execute(request)?.into_body().into_string()?;
        assert_eq!(body, "secure");
        assert_eq!(proxy.tunnels().len(), 1, "went through the tunnel");
        let leaked: Vec<_> = origin
            .requests()
            .iter()
            .filter_map(|r| r.header("proxy-authorization").map(str::to_owned))
            .collect();
        assert!(
            leaked.is_empty(),
            "the proxy's credentials went to the origin server: {leaked:?}"
        );
        Ok(())
    }
}

mod full_header_map {
    // A request whose header map is full gets a typed error, never a panic, when hcx
    // itself adds a field (the client builder already promises this for default
    // headers: `more_default_headers_than_a_header_map_holds_is_an_error_not_a_panic`).

    use super::common;

    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::thread;

    use hcx::{Body, Client, CookieStore, ErrorKind, Proxy};
    use http::{HeaderName, HeaderValue, Request};

    /// A GET whose header map cannot take one more field, already carrying the fields
    /// PROTOCOL would add (`Accept-Encoding`, `User-Agent`), so it adds none.
    fn full_request(url: &str) -> Result<Request<Body>, Box<dyn std::error::Error>> {
        let mut request = Request::get(url).body(Body::empty())?;
        let headers = request.headers_mut();
        headers.try_insert("accept-encoding", HeaderValue::from_static("identity"))?;
        headers.try_insert("user-agent", HeaderValue::from_static("t"))?;
        for i in 0.. {
            let name = HeaderName::try_from(format!("x-h{i}"))?;
            if headers
                .try_insert(name, HeaderValue::from_static("v"))
                .is_err()
            {
                break;
            }
        }
        Ok(request)
    }

    fn outcome(client: &Client, request: Request<Body>) -> Result<Result<(), hcx::Error>, String> {
        catch_unwind(AssertUnwindSafe(|| client.execute(request).map(drop))).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default()
        })
    }

    #[test]
    fn proxy_credentials_on_a_full_header_map_are_an_error_not_a_panic() -> common::TestResult {
        // Nothing is accepted: a fixed hcx fails before it connects (and the response
        // timeout bounds the test if it did send).
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let proxy =
            Proxy::new("127.0.0.1", listener.local_addr()?.port()).with_basic_auth("u", "p");
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .proxy(proxy)
            .build()?;
        match outcome(&client, full_request("http://origin.example/")?) {
            Err(panic) => panic!("MainExec panicked adding Proxy-Authorization: {panic}"),
            Ok(result) => {
                let e = result
                    .err()
                    .ok_or("a full header map cannot take Proxy-Authorization")?;
                assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
            }
        }
        Ok(())
    }

    #[test]
    fn stored_cookies_on_a_full_header_map_are_an_error_not_a_panic() -> common::TestResult {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://127.0.0.1:{}/", listener.local_addr()?.port());
        // One exchange that sets a cookie; the second request must fail before it connects.
        let server = thread::spawn(move || -> std::io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(common::SAFETY))?;
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk)? {
                    0 => break,
                    n => head.extend_from_slice(&chunk[..n]),
                }
            }
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nset-cookie: a=b\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
        });
        let store = Arc::new(CookieStore::new());
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .cookie_store(Arc::clone(&store))
            .build()?;
        client.get(&url)?;
        server.join().map_err(|_| "server thread panicked")??;
        assert_eq!(store.cookies_for(&url.parse()?).len(), 1);

        match outcome(&client, full_request(&url)?) {
            Err(panic) => panic!("PROTOCOL panicked adding the Cookie field: {panic}"),
            Ok(result) => {
                let e = result.err().ok_or("a full header map cannot take Cookie")?;
                assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{e}");
            }
        }
        Ok(())
    }
}

mod proxy_basic {
    // RFC 7617 §2: a Basic user-id containing ':' is invalid — the receiver splits at the
    // first colon, so `a:b` / `p` is read as user `a`, password `b:p`. hcx's own
    // `Credentials::basic` refuses such a user-id (ErrorKind::Config); the proxy's
    // credentials must not silently send it either.

    use super::common;

    use super::{recording_server, stop};

    use hcx::{Client, Proxy};

    #[test]
    fn a_proxy_url_with_a_colon_in_the_user_id_is_refused() {
        // Documented: "Credentials … in the URL (`http://user:pa%3Ass@proxy:3128`,
        // percent-decoded)". A decoded ':' in the user is ambiguous on the wire.
        let parsed = Proxy::from_url("http://a%3Ab:p@proxy.example:3128");
        assert!(
            parsed.is_err(),
            "user-id \"a:b\" accepted: Proxy-Authorization would be Basic base64(\"a:b:p\")"
        );
    }

    #[test]
    fn proxy_basic_credentials_with_a_colon_in_the_user_id_are_not_sent() -> common::TestResult {
        let (port, rx, server) = recording_server(1)?;
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .proxy(Proxy::new("127.0.0.1", port).with_basic_auth("a:b", "p"))
            .build();
        let result = client.map(|c| c.get("http://origin.example/").map(drop));
        stop(port, server)?;
        let wire = String::from_utf8_lossy(&rx.recv_timeout(common::SAFETY)?).into_owned();
        // base64("a:b:p")
        assert!(
            !wire.contains("Basic YTpiOnA="),
            "ambiguous Basic credentials went to the proxy (result {:?}):\n{wire}",
            result.map_err(|e| e.to_string())
        );
        Ok(())
    }

    #[test]
    fn a_proxy_url_whose_credentials_are_not_utf8_is_refused() {
        // Percent-decoded then turned into text with from_utf8_lossy (route.rs:464): the
        // proxy gets base64("\u{FFFD}:p"), credentials the caller never gave.
        let parsed = Proxy::from_url("http://%FF:p@proxy.example:3128");
        assert!(
            parsed.is_err(),
            "non-UTF-8 user silently replaced by U+FFFD"
        );
    }
}

mod expect {
    // RFC 9110 §10.1.1: "A client MUST NOT generate a 100-continue expectation in a
    // request that does not include content." hcx's codec knows the rule (it does not
    // wait on such a request: `Call::new`'s docs) but still writes the field.

    use super::common;

    use super::{recording_server, stop};

    use hcx::Body;
    use http::Request;

    #[test]
    fn no_100_continue_expectation_on_a_request_without_content() -> common::TestResult {
        let (port, rx, server) = recording_server(2)?;
        let client = common::client()?;
        let url = format!("http://127.0.0.1:{port}/");
        // A GET without a body, and a POST with an empty one (Content-Length: 0).
        let get = Request::get(&url)
            .header("expect", "100-continue")
            .body(Body::empty())?;
        let post = Request::post(&url)
            .header("expect", "100-continue")
            .body(Body::empty())?;
        let results = [
            client.execute(get).map(drop),
            client.execute(post).map(drop),
        ];
        stop(port, server)?;
        for result in results {
            result?;
        }
        for _ in 0..2 {
            let head =
                String::from_utf8_lossy(&rx.recv_timeout(common::SAFETY)?).to_ascii_lowercase();
            assert!(
                !head.contains("expect: 100-continue"),
                "a 100-continue expectation on a request without content:\n{head}"
            );
        }
        Ok(())
    }
}

mod zone_id {
    // RFC 6874 §4: "An HTTP client, proxy, or other intermediary MUST remove any ZoneID
    // attached to an outgoing URI, as it has only local significance at the sending
    // host." The `http` crate accepts `http://[fe80::1%25eth0]:8080/`; through a forward
    // proxy hcx writes the zone into both the absolute-form target and `Host`.

    use super::common;

    use super::{recording_server, stop};

    use hcx::{Body, Client, Proxy};
    use http::Request;

    #[test]
    fn no_ipv6_zone_id_goes_to_a_proxy() -> common::TestResult {
        let (port, rx, server) = recording_server(1)?;
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .proxy(Proxy::new("127.0.0.1", port))
            .build()?;
        let request = Request::get("http://[fe80::1%25eth0]:8080/z").body(Body::empty())?;
        let result = client.execute(request).map(drop);
        stop(port, server)?;
        let wire = String::from_utf8_lossy(&rx.recv_timeout(common::SAFETY)?).into_owned();
        assert!(
            !wire.contains("%25"),
            "a zone identifier went out (result {:?}):\n{wire}",
            result.map_err(|e| e.to_string())
        );
        Ok(())
    }
}

mod default_fields {
    // PROTOCOL leaves the client's `User-Agent` and COMPRESS's `Accept-Encoding` for
    // the codec to write (no map to allocate per request) when nothing after it can
    // look: the head on the wire, and what a handler or a user token handler after
    // PROTOCOL sees, must be the same as when they are added to the request's map.

    use super::common;

    use std::sync::{Arc, Mutex};

    use super::{recording_server, stop};
    use hcx::chain::{Chain, ChainElement, Scope};
    use hcx::{Body, Client, ClientBuilder, Context, Error, ErrorKind, ResponseBody};
    use http::header::{ACCEPT_ENCODING, USER_AGENT};
    use http::{HeaderMap, Request, Response};

    /// The head `builder`'s client sends for a GET carrying `x-a: 1` (and the caller's
    /// `User-Agent` when `own_agent`), its `Host` written `-`.
    fn head_sent(
        builder: ClientBuilder,
        own_agent: bool,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let (port, heads, server) = recording_server(1)?;
        let client = builder.response_timeout(Some(common::SAFETY)).build()?;
        let mut request = Request::get(format!("http://127.0.0.1:{port}/p")).header("x-a", "1");
        if own_agent {
            request = request.header("user-agent", "mine");
        }
        client.execute(request.body(Body::empty())?)?;
        let head = String::from_utf8(heads.recv_timeout(common::SAFETY)?)?;
        stop(port, server)?;
        // Without the port, which differs from one server to the next.
        Ok(head.replace(&format!("host: 127.0.0.1:{port}\r\n"), "host: -\r\n"))
    }

    /// The fields a handler or interceptor saw, shared with the test.
    type Seen = Arc<Mutex<Vec<HeaderMap>>>;

    fn fields(head: &str) -> Vec<&str> {
        head.split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// A request without any field of its own is not looked up for `Accept-Encoding`
    /// and `User-Agent` (PROTOCOL's fast path): it gets each once, as one with fields
    /// does.
    #[test]
    fn a_request_without_fields_gets_the_defaults_once() -> common::TestResult {
        let (port, heads, server) = recording_server(1)?;
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .build()?;
        client.get(format!("http://127.0.0.1:{port}/p"))?;
        let head = String::from_utf8(heads.recv_timeout(common::SAFETY)?)?;
        stop(port, server)?;
        let lines = fields(&head);
        let agent = format!("user-agent: {}", hcx::DEFAULT_USER_AGENT);
        let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(count("user-agent:"), 1, "{head}");
        assert_eq!(count("accept-encoding:"), 1, "{head}");
        assert!(lines.contains(&agent.as_str()), "{head}");
        Ok(())
    }

    #[test]
    fn the_defaults_go_out_the_same_whether_added_to_the_map_or_written_by_the_codec()
    -> common::TestResult {
        for own_agent in [false, true] {
            let owed = head_sent(Client::builder(), own_agent)?;
            // A request interceptor added last must see the defaults: PROTOCOL adds
            // them to the request's map first.
            let seen: Seen = Arc::default();
            let record = Arc::clone(&seen);
            let added = head_sent(
                Client::builder().add_request_interceptor_last(
                    move |request: &mut Request<Body>, _: &mut Context| -> Result<(), Error> {
                        record
                            .lock()
                            .map_err(|_| Error::new(ErrorKind::Config, "poisoned"))?
                            .push(request.headers().clone());
                        Ok(())
                    },
                ),
                own_agent,
            )?;
            assert_eq!(owed, added, "the same head either way");
            let agent = if own_agent {
                "user-agent: mine".to_string()
            } else {
                format!("user-agent: {}", hcx::DEFAULT_USER_AGENT)
            };
            let lines = fields(&owed);
            assert_eq!(
                lines
                    .iter()
                    .filter(|l| l.starts_with("user-agent:"))
                    .count(),
                1,
                "{owed}"
            );
            assert!(lines.contains(&agent.as_str()), "{owed}");
            let accept = lines
                .iter()
                .position(|l| l.starts_with("accept-encoding: "))
                .ok_or("no accept-encoding")?;
            let caller = lines.iter().position(|l| *l == "x-a: 1").ok_or("no x-a")?;
            assert!(caller < accept, "the caller's fields first: {owed}");
            let seen = seen.lock().map_err(|_| "poisoned")?;
            assert_eq!(seen.len(), 1);
            assert!(seen[0].contains_key(ACCEPT_ENCODING) && seen[0].contains_key(USER_AGENT));
        }
        Ok(())
    }

    /// The head a client sends for `request`, the client built by `builder` for the
    /// recording server's port (an origin, or a forward proxy).
    fn head_via(
        builder: impl FnOnce(u16) -> ClientBuilder,
        request: impl FnOnce(u16) -> Result<Request<Body>, http::Error>,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let (port, heads, server) = recording_server(1)?;
        let client = builder(port)
            .response_timeout(Some(common::SAFETY))
            .build()?;
        let result = client.execute(request(port)?);
        stop(port, server)?;
        result?;
        let head = String::from_utf8(heads.recv_timeout(common::SAFETY)?)?;
        // Without the port, which differs from one server to the next.
        Ok(head.replace(&format!("host: 127.0.0.1:{port}\r\n"), "host: -\r\n"))
    }

    /// `builder` with a request interceptor added last, which makes PROTOCOL add the
    /// defaults to the request's map.
    fn adding(builder: ClientBuilder) -> ClientBuilder {
        builder.add_request_interceptor_last(
            |_: &mut Request<Body>, _: &mut Context| -> Result<(), Error> { Ok(()) },
        )
    }

    /// PROTOCOL adds `Connection: keep-alive` to an HTTP/1.0 request after the
    /// defaults: where the defaults are added to the map, it is written after them, and
    /// it must stay there when the codec writes the defaults.
    #[test]
    fn an_http_1_0_keep_alive_stays_after_the_defaults() -> common::TestResult {
        let http_10 = |port: u16| {
            Request::get(format!("http://127.0.0.1:{port}/p"))
                .version(http::Version::HTTP_10)
                .header("x-a", "1")
                .body(Body::empty())
        };
        let owed = head_via(|_| Client::builder(), http_10)?;
        let added = head_via(|_| adding(Client::builder()), http_10)?;
        assert!(fields(&owed).contains(&"connection: keep-alive"), "{owed}");
        assert_eq!(owed, added, "the same head either way");
        Ok(())
    }

    /// The engine adds `Proxy-Authorization` for a forward proxy to the map after
    /// PROTOCOL's defaults: it must stay after them when the codec writes the defaults.
    #[test]
    fn forward_proxy_credentials_stay_after_the_defaults() -> common::TestResult {
        let proxied = |port: u16| {
            Client::builder().proxy(hcx::Proxy::new("127.0.0.1", port).with_basic_auth("u", "p"))
        };
        let to_origin = |_: u16| {
            Request::get("http://origin.example/p")
                .header("x-a", "1")
                .body(Body::empty())
        };
        let owed = head_via(proxied, to_origin)?;
        let added = head_via(|port| adding(proxied(port)), to_origin)?;
        assert!(
            fields(&owed)
                .iter()
                .any(|l| l.starts_with("proxy-authorization: Basic ")),
            "{owed}"
        );
        assert_eq!(owed, added, "the same head either way");
        Ok(())
    }

    /// A reuse strategy (Apache's `ConnectionReuseStrategy.keepAlive(request, …)`) or
    /// keep-alive strategy of your own reads the request's fields: it sees the
    /// defaults there, as when PROTOCOL adds them to the map.
    #[test]
    fn a_reuse_or_keep_alive_strategy_of_your_own_sees_the_defaults() -> common::TestResult {
        let seen: Seen = Arc::default();
        let reuse = Arc::clone(&seen);
        let keep = Arc::clone(&seen);
        let record = |seen: &Seen, exchange: &hcx::Exchange<'_>| {
            if let Ok(mut seen) = seen.lock() {
                seen.push(exchange.request_headers().clone());
            }
        };
        let reusing = move |exchange: &hcx::Exchange<'_>| -> Result<(), hcx::CloseReason> {
            record(&reuse, exchange);
            Ok(())
        };
        let keeping = move |exchange: &hcx::Exchange<'_>| -> hcx::KeepAlive {
            record(&keep, exchange);
            hcx::KeepAlive::Unlimited
        };
        let get =
            |port: u16| Request::get(format!("http://127.0.0.1:{port}/p")).body(Body::empty());
        head_via(|_| Client::builder().reuse_strategy(reusing), get)?;
        // The keep-alive strategy is asked only where the reuse strategy lets the
        // connection be kept: a server that does not close.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = std::thread::spawn(move || -> std::io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(common::SAFETY))?;
            common::read_head(&mut stream);
            std::io::Write::write_all(&mut stream, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        });
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .keep_alive_strategy(keeping)
            .build()?;
        drop(client.get(format!("http://127.0.0.1:{port}/p"))?);
        server.join().map_err(|_| "server thread panicked")??;
        let seen = seen.lock().map_err(|_| "poisoned")?;
        assert_eq!(seen.len(), 2, "each strategy asked once");
        for headers in seen.iter() {
            assert!(
                headers.contains_key(USER_AGENT) && headers.contains_key(ACCEPT_ENCODING),
                "{headers:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_handler_after_protocol_sees_the_defaults_in_the_request() -> common::TestResult {
        let seen: Seen = Arc::default();
        let record = Arc::clone(&seen);
        let owed = head_sent(Client::builder(), false)?;
        let handled = head_sent(
            Client::builder().add_handler_after(
                ChainElement::Protocol,
                "recorder",
                move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                    if let Ok(mut seen) = record.lock() {
                        seen.push(request.headers().clone());
                    }
                    chain.proceed(request, scope)
                },
            ),
            false,
        )?;
        assert_eq!(owed, handled);
        let seen = seen.lock().map_err(|_| "poisoned")?;
        assert_eq!(seen.len(), 1);
        assert_eq!(
            seen[0].get(USER_AGENT).map(|v| v.as_bytes()),
            Some(hcx::DEFAULT_USER_AGENT.as_bytes())
        );
        assert!(seen[0].contains_key(ACCEPT_ENCODING));
        Ok(())
    }

    #[test]
    fn a_handler_replacing_main_transport_and_a_user_token_handler_see_the_defaults()
    -> common::TestResult {
        let seen: Seen = Arc::default();
        let record = Arc::clone(&seen);
        let client = Client::builder()
            .replace_handler(
                ChainElement::MainTransport,
                move |request: Request<Body>,
                      _: &mut Scope<'_>,
                      _: Chain<'_>|
                      -> Result<Response<ResponseBody>, Error> {
                    if let Ok(mut seen) = record.lock() {
                        seen.push(request.headers().clone());
                    }
                    Err(Error::new(ErrorKind::Config, "not sent"))
                },
            )
            .build()?;
        let error = client
            .get("http://127.0.0.1:9/")
            .err()
            .ok_or("nothing is sent")?;
        assert_eq!(error.kind(), ErrorKind::Config);

        let record = Arc::clone(&seen);
        let (port, heads, server) = recording_server(1)?;
        let client = Client::builder()
            .response_timeout(Some(common::SAFETY))
            .user_token_handler(
                move |_: &hcx::Route, request: &Request<Body>, _: &Context| {
                    if let Ok(mut seen) = record.lock() {
                        seen.push(request.headers().clone());
                    }
                    None
                },
            )
            .build()?;
        client.get(format!("http://127.0.0.1:{port}/"))?;
        let head = String::from_utf8(heads.recv_timeout(common::SAFETY)?)?;
        stop(port, server)?;
        assert_eq!(
            fields(&head)
                .iter()
                .filter(|l| l.starts_with("user-agent:"))
                .count(),
            1
        );

        let seen = seen.lock().map_err(|_| "poisoned")?;
        assert_eq!(seen.len(), 2);
        for headers in seen.iter() {
            assert!(headers.contains_key(USER_AGENT) && headers.contains_key(ACCEPT_ENCODING));
        }
        Ok(())
    }
}
