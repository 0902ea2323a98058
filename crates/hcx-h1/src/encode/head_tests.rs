use super::*;
use http::Request;

fn encode(
    request: &Request<()>,
    form: TargetForm,
    framing: RequestFraming,
) -> Result<String, EncodeError> {
    let mut out = b"previous".to_vec();
    let result = encode_request_head(request, form, framing, &mut out);
    match result {
        Ok(_) => Ok(String::from_utf8(out[8..].to_vec()).unwrap()),
        Err(e) => {
            assert_eq!(out, b"previous", "nothing is written on error");
            Err(e)
        }
    }
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

#[test]
fn origin_form_targets_and_derived_host() {
    let cases = [
        (
            "http://example.com",
            "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n",
        ),
        (
            "http://example.com/a/b?c=d&e",
            "GET /a/b?c=d&e HTTP/1.1\r\nhost: example.com\r\n\r\n",
        ),
        (
            "http://example.com?q=1",
            "GET /?q=1 HTTP/1.1\r\nhost: example.com\r\n\r\n",
        ),
        (
            "http://example.com:80/",
            "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n",
        ),
        (
            "http://example.com:8080/",
            "GET / HTTP/1.1\r\nhost: example.com:8080\r\n\r\n",
        ),
        (
            "https://example.com:443/",
            "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n",
        ),
        (
            "https://example.com:80/",
            "GET / HTTP/1.1\r\nhost: example.com:80\r\n\r\n",
        ),
        (
            "http://user:pw@example.com/",
            "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n",
        ),
        (
            "http://[::1]:8080/x",
            "GET /x HTTP/1.1\r\nhost: [::1]:8080\r\n\r\n",
        ),
        (
            "http://127.0.0.1/",
            "GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
        ),
        (
            "ws://example.com:80/",
            "GET / HTTP/1.1\r\nhost: example.com:80\r\n\r\n",
        ),
        ("http://u@[::1]/x", "GET /x HTTP/1.1\r\nhost: [::1]\r\n\r\n"),
        ("http://h:/", "GET / HTTP/1.1\r\nhost: h\r\n\r\n"),
        ("http://h:0080/", "GET / HTTP/1.1\r\nhost: h\r\n\r\n"),
    ];
    for (uri, expected) in cases {
        assert_eq!(
            encode(&get(uri), TargetForm::Origin, RequestFraming::None).unwrap(),
            expected,
            "{uri}"
        );
    }
}

#[test]
fn a_derived_host_with_its_port_is_the_authority_s_tail() -> Result<(), Box<dyn std::error::Error>>
{
    // `host:port` is written as one slice of the authority: the userinfo must stay
    // out of it, the digits stay as written, and only a scheme's default is dropped.
    let cases = [
        ("http://u:p@Example.COM:8080/", "Example.COM:8080"),
        ("http://u:p@h:80/", "h"),
        ("http://a:b@c@d:82/", "d:82"),
        ("http://u@[::1]:8080/x", "[::1]:8080"),
        ("http://[::1]:80/", "[::1]"),
        ("https://h:0443/", "h"),
        ("HTTPS://h:443/", "h"),
        ("https://h:8443/", "h:8443"),
        ("http://h:443/", "h:443"),
        ("http://h:00081/", "h:00081"),
        ("http://127.0.0.1:18091/small", "127.0.0.1:18091"),
        (
            "http://a.long-host-name.example.org:9/",
            "a.long-host-name.example.org:9",
        ),
        ("ftp://h:443/", "h:443"),
    ];
    for (uri, host) in cases {
        let request = Request::get(uri).body(())?;
        let written = encode(&request, TargetForm::Origin, RequestFraming::None)?;
        let path = request.uri().path();
        assert_eq!(
            written,
            format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n"),
            "{uri}"
        );
    }
    // A scheme built apart is kept as spelled (`HTTP` is no standard scheme then) and
    // still compared without regard to case.
    let uri = Uri::builder()
        .scheme("HTTP")
        .authority("h:80")
        .path_and_query("/")
        .build()?;
    assert_eq!(uri.scheme_str(), Some("HTTP"));
    let request = Request::get(uri).body(())?;
    assert_eq!(
        encode(&request, TargetForm::Origin, RequestFraming::None)?,
        "GET / HTTP/1.1\r\nhost: h\r\n\r\n"
    );
    Ok(())
}

#[test]
fn caller_host_comes_first_and_wins() {
    let request = Request::get("http://example.com/")
        .header("accept", "*/*")
        .header("host", "other.example:81")
        .body(())
        .unwrap();
    assert_eq!(
        encode(&request, TargetForm::Origin, RequestFraming::None).unwrap(),
        "GET / HTTP/1.1\r\nhost: other.example:81\r\naccept: */*\r\n\r\n"
    );
    let relative = Request::get("/only/path")
        .header("host", "h")
        .body(())
        .unwrap();
    assert_eq!(
        encode(&relative, TargetForm::Origin, RequestFraming::None).unwrap(),
        "GET /only/path HTTP/1.1\r\nhost: h\r\n\r\n"
    );
}

#[test]
fn a_port_beyond_65535_is_an_invalid_target_not_a_host_without_port() {
    let error = encode(
        &get("http://h:65536/"),
        TargetForm::Origin,
        RequestFraming::None,
    );
    assert!(
        matches!(error, Err(EncodeError::InvalidTarget { reason, .. }) if reason.contains("port")),
        "{error:?}"
    );
}

#[test]
fn a_port_beyond_65535_is_refused_in_every_target_form_even_with_the_callers_host() {
    // `Uri::port_u16` reads `h:99999` as "no port": the absolute- and authority-forms
    // must not write the target without it (port 80) or with the scheme's default
    // (443) because the caller's own `Host` skipped the check the derived one makes.
    let cases = [
        ("GET", "http://h:99999/x", TargetForm::Absolute),
        ("CONNECT", "https://h:99999", TargetForm::Authority),
    ];
    for (method, uri, form) in cases {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "h")
            .body(())
            .unwrap();
        let result = encode(&request, form, RequestFraming::None);
        assert!(
            matches!(&result, Err(EncodeError::InvalidTarget { reason, .. }) if reason.contains("port")),
            "{method} {uri}: {result:?}"
        );
    }
}

#[test]
fn missing_or_duplicate_host_is_an_error() {
    assert_eq!(
        encode(&get("/path"), TargetForm::Origin, RequestFraming::None),
        Err(EncodeError::MissingHost)
    );
    let two = Request::get("http://a/")
        .header("host", "a")
        .header("host", "b")
        .body(())
        .unwrap();
    assert_eq!(
        encode(&two, TargetForm::Origin, RequestFraming::None),
        Err(EncodeError::DuplicateHost(2))
    );
    // HTTP/1.0 has no Host requirement.
    let old = Request::get("/path")
        .version(Version::HTTP_10)
        .body(())
        .unwrap();
    assert_eq!(
        encode(&old, TargetForm::Origin, RequestFraming::None).unwrap(),
        "GET /path HTTP/1.0\r\n\r\n"
    );
}

#[test]
fn proxy_authorization_is_written_only_to_a_proxy() -> Result<(), Box<dyn std::error::Error>> {
    let request = Request::get("http://example.com/")
        .header("proxy-authorization", "Basic cDpz")
        .header("accept", "*/*")
        .body(())?;
    assert_eq!(
        encode(&request, TargetForm::Origin, RequestFraming::None)?,
        "GET / HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\n\r\n"
    );
    assert_eq!(
        encode(&request, TargetForm::Absolute, RequestFraming::None)?,
        "GET http://example.com/ HTTP/1.1\r\nhost: example.com\r\n\
         proxy-authorization: Basic cDpz\r\naccept: */*\r\n\r\n"
    );
    let connect = Request::connect("example.com:443")
        .header("proxy-authorization", "Basic cDpz")
        .body(())?;
    assert!(
        encode(&connect, TargetForm::Authority, RequestFraming::None)?
            .contains("\r\nproxy-authorization: Basic cDpz\r\n")
    );
    Ok(())
}

#[test]
fn other_forms_of_target() {
    let request = get("http://user@example.com:8080/a?b");
    assert_eq!(
        encode(&request, TargetForm::Absolute, RequestFraming::None).unwrap(),
        "GET http://example.com:8080/a?b HTTP/1.1\r\nhost: example.com:8080\r\n\r\n"
    );
    let connect = Request::connect("example.com:443").body(()).unwrap();
    assert_eq!(
        encode(&connect, TargetForm::Authority, RequestFraming::None).unwrap(),
        "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n"
    );
    let connect = Request::connect("https://example.com").body(()).unwrap();
    assert!(
        encode(&connect, TargetForm::Authority, RequestFraming::None)
            .unwrap()
            .starts_with("CONNECT example.com:443 ")
    );
    let options = Request::options("*").header("host", "h").body(()).unwrap();
    assert_eq!(
        encode(&options, TargetForm::Origin, RequestFraming::None).unwrap(),
        "OPTIONS * HTTP/1.1\r\nhost: h\r\n\r\n"
    );
}

/// RFC 9112 §3.2.4: `OPTIONS *` through a forward proxy is the absolute-form without
/// a path.
#[test]
fn options_asterisk_to_a_proxy_is_the_absolute_form_without_a_path()
-> Result<(), Box<dyn std::error::Error>> {
    let uri = http::Uri::builder()
        .scheme("http")
        .authority("h:8001")
        .path_and_query("*")
        .build()?;
    let options = Request::options(uri).body(())?;
    assert_eq!(
        encode(&options, TargetForm::Absolute, RequestFraming::None)?,
        "OPTIONS http://h:8001 HTTP/1.1\r\nhost: h:8001\r\n\r\n"
    );
    assert_eq!(
        request_target(&Method::OPTIONS, options.uri(), TargetForm::Absolute)?,
        "http://h:8001"
    );
    // An empty path that is not the asterisk is still "/".
    let options = Request::options("http://h:8001").body(())?;
    assert!(
        encode(&options, TargetForm::Absolute, RequestFraming::None)?
            .starts_with("OPTIONS http://h:8001/ HTTP/1.1\r\n")
    );
    Ok(())
}

#[test]
fn invalid_targets_are_refused() {
    let star = Request::get("*").header("host", "h").body(()).unwrap();
    let cases = [
        (
            star,
            TargetForm::Origin,
            "the asterisk-form \"*\" is only for OPTIONS",
        ),
        (
            get("/relative"),
            TargetForm::Absolute,
            "the absolute-form needs a scheme and a host",
        ),
        (
            get("/relative"),
            TargetForm::Authority,
            "the authority-form needs a host",
        ),
        (
            get("http://h/path"),
            TargetForm::Authority,
            "the authority-form has no path or query",
        ),
        (
            Request::connect("h").body(()).unwrap(),
            TargetForm::Authority,
            "the authority-form needs a port",
        ),
    ];
    for (request, form, expected) in cases {
        match encode(&request, form, RequestFraming::None) {
            Err(EncodeError::InvalidTarget { reason, .. }) => assert_eq!(reason, expected),
            other => panic!("{} {form:?}: {other:?}", request.uri()),
        }
    }
}

#[test]
fn framing_fields_follow_the_framing() {
    let post = Request::post("http://h/")
        .header("x-a", "1")
        .body(())
        .unwrap();
    assert_eq!(
        encode(&post, TargetForm::Origin, RequestFraming::Length(12)).unwrap(),
        "POST / HTTP/1.1\r\nhost: h\r\nx-a: 1\r\ncontent-length: 12\r\n\r\n"
    );
    assert_eq!(
        encode(&post, TargetForm::Origin, RequestFraming::Chunked).unwrap(),
        "POST / HTTP/1.1\r\nhost: h\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n"
    );
}

#[test]
fn caller_framing_fields_must_agree() {
    let with = |name: &str, value: &str| {
        Request::post("http://h/")
            .header(name, value)
            .body(())
            .unwrap()
    };
    // Agreeing fields are accepted and written once.
    assert_eq!(
        encode(
            &with("content-length", "5"),
            TargetForm::Origin,
            RequestFraming::Length(5)
        )
        .unwrap(),
        "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\n"
    );
    assert_eq!(
        encode(
            &with("transfer-encoding", "gzip, chunked"),
            TargetForm::Origin,
            RequestFraming::Chunked
        )
        .unwrap(),
        "POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: gzip, chunked\r\n\r\n"
    );
    assert_eq!(
        encode(
            &with("content-length", "0"),
            TargetForm::Origin,
            RequestFraming::None
        )
        .unwrap(),
        "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n"
    );
    // Disagreeing ones are refused.
    let conflicts = [
        ("content-length", "6", RequestFraming::Length(5)),
        ("content-length", "5", RequestFraming::Chunked),
        ("content-length", "5", RequestFraming::None),
        ("content-length", "x", RequestFraming::Length(5)),
        ("transfer-encoding", "chunked", RequestFraming::Length(5)),
        ("transfer-encoding", "chunked", RequestFraming::None),
        ("transfer-encoding", "gzip", RequestFraming::Chunked),
    ];
    for (name, value, framing) in conflicts {
        match encode(&with(name, value), TargetForm::Origin, framing) {
            Err(EncodeError::FramingConflict {
                name: n,
                value: v,
                framing: f,
            }) => {
                assert_eq!((n.as_str(), v.as_str(), f), (name, value, framing));
            }
            other => panic!("{name}: {value} with {framing:?}: {other:?}"),
        }
    }
    let e = encode(
        &with("content-length", "6"),
        TargetForm::Origin,
        RequestFraming::Length(5),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "request field content-length: 6 conflicts with how its body is sent: a body of 5 bytes \
         (Content-Length)"
    );
}

#[test]
fn request_framings_read_as_words_in_messages() {
    let shown = [
        RequestFraming::None,
        RequestFraming::Length(1),
        RequestFraming::Length(0),
        RequestFraming::Chunked,
    ]
    .map(|framing| framing.to_string());
    assert_eq!(
        shown,
        [
            "no body",
            "a body of 1 byte (Content-Length)",
            "a body of 0 bytes (Content-Length)",
            "a chunked body",
        ]
    );
}

#[test]
fn versions_other_than_1x_and_chunked_in_1_0_are_refused() {
    let h2 = Request::get("http://h/")
        .version(Version::HTTP_2)
        .body(())
        .unwrap();
    assert_eq!(
        encode(&h2, TargetForm::Origin, RequestFraming::None),
        Err(EncodeError::UnsupportedVersion(Version::HTTP_2))
    );
    let old = Request::post("http://h/")
        .version(Version::HTTP_10)
        .body(())
        .unwrap();
    assert_eq!(
        encode(&old, TargetForm::Origin, RequestFraming::Chunked),
        Err(EncodeError::ChunkedInHttp10)
    );
}

#[test]
fn a_trace_request_carries_no_content() {
    let trace = Request::builder()
        .method(Method::TRACE)
        .uri("http://h/")
        .body(())
        .unwrap();
    for framing in [RequestFraming::Length(6), RequestFraming::Chunked] {
        assert_eq!(
            encode(&trace, TargetForm::Origin, framing),
            Err(EncodeError::ContentInTrace)
        );
    }
    for framing in [RequestFraming::None, RequestFraming::Length(0)] {
        assert!(
            encode(&trace, TargetForm::Origin, framing).is_ok(),
            "{framing:?}"
        );
    }
}

#[test]
fn head_from_parts_and_into_bytes_mut() {
    let (parts, ()) = Request::delete("http://h/x").body(()).unwrap().into_parts();
    let mut out = bytes::BytesMut::new();
    let body =
        encode_request_head(&parts, TargetForm::Origin, RequestFraming::None, &mut out).unwrap();
    assert_eq!(&out[..], b"DELETE /x HTTP/1.1\r\nhost: h\r\n\r\n");
    assert_eq!(body.framing(), RequestFraming::None);
}

#[test]
fn returned_encoder_matches_the_written_framing() {
    let mut out = Vec::new();
    let request = Request::post("http://h/")
        .header("content-length", "0")
        .body(())
        .unwrap();
    let body =
        encode_request_head(&request, TargetForm::Origin, RequestFraming::None, &mut out).unwrap();
    assert_eq!(body.framing(), RequestFraming::Length(0));
}

#[test]
fn ports_are_written_in_decimal() {
    for (port, text) in [
        (0u16, "0"),
        (7, "7"),
        (80, "80"),
        (8080, "8080"),
        (65535, "65535"),
    ] {
        let mut out = Vec::new();
        put_decimal(&mut out, port);
        assert_eq!(out, text.as_bytes());
    }
}

#[test]
fn a_hand_set_transfer_encoding_goes_as_one_canonical_field_or_is_refused()
-> Result<(), Box<dyn std::error::Error>> {
    // Found in review: the caller's lines went as written (`""` then `chunked`: a
    // front end reading the first saw no body, and the chunks as the next request).
    let written = |values: &[&str]| -> Result<Result<String, EncodeError>, http::Error> {
        let mut builder = Request::post("http://h/");
        for value in values {
            builder = builder.header("transfer-encoding", *value);
        }
        Ok(encode(
            &builder.body(())?,
            TargetForm::Origin,
            RequestFraming::Chunked,
        ))
    };
    for values in [
        &[""][..],
        &["identity", "chunked"],
        &["chunked", "chunked"],
        &["chunked", "gzip"],
        &["gz ip, chunked"],
        &["chunked;x=1"],
        &["gzip;, chunked"],
    ] {
        assert!(
            matches!(written(values)?, Err(EncodeError::FramingConflict { .. })),
            "{values:?}"
        );
    }
    for (values, line) in [
        (&["", "chunked"][..], "transfer-encoding: chunked\r\n"),
        (&["chunked,"], "transfer-encoding: chunked\r\n"),
        (&[", chunked"], "transfer-encoding: chunked\r\n"),
        (
            &["x-ext ; Level=1, chunked"],
            "transfer-encoding: x-ext;level=1, chunked\r\n",
        ),
        (&["\tChunked"][..], "transfer-encoding: chunked\r\n"),
        (&["gzip", "chunked"], "transfer-encoding: gzip, chunked\r\n"),
        (&["GZIP ,chunked"], "transfer-encoding: gzip, chunked\r\n"),
    ] {
        let head = written(values)??;
        assert_eq!(head.matches("transfer-encoding").count(), 1, "{head}");
        assert!(head.contains(line), "{values:?}: {head}");
    }
    Ok(())
}

#[test]
fn a_connection_option_naming_a_framing_field_or_host_is_refused()
-> Result<(), Box<dyn std::error::Error>> {
    // RFC 9110 §7.6.1: a proxy would drop the field named, and the body's framing.
    for option in [
        "content-length",
        "close, Content-Length",
        "transfer-encoding",
        "host",
    ] {
        let request = Request::post("http://h/")
            .header("connection", option)
            .body(())?;
        let result = encode(&request, TargetForm::Absolute, RequestFraming::Length(5));
        assert!(
            matches!(result, Err(EncodeError::FramingConflict { .. })),
            "{option}: {result:?}"
        );
    }
    let request = Request::post("http://h/")
        .header("connection", "close, x-trace")
        .body(())?;
    assert!(encode(&request, TargetForm::Absolute, RequestFraming::Length(5)).is_ok());
    Ok(())
}

#[test]
fn a_request_target_carries_only_what_rfc_3986_allows() -> Result<(), Box<dyn std::error::Error>> {
    // Found in review: `http::Uri` lets non-ASCII, `\`, `"`, `{`, `}`, `^`, `|` and a
    // stray `%` through, and they went into the request line raw.
    for (uri, target) in [
        ("http://h/caf\u{e9}?q=\u{e9}", "/caf%C3%A9?q=%C3%A9"),
        ("http://h/a\\..\\admin", "/a%5C..%5Cadmin"),
        ("http://h/{\"a\"}^|", "/%7B%22a%22%7D%5E%7C"),
        ("http://h/100%?x=%zz&y=%2F", "/100%25?x=%25zz&y=%2F"),
        (
            "http://h/plain/a-b_c.d~e?k=v&l=(1)",
            "/plain/a-b_c.d~e?k=v&l=(1)",
        ),
    ] {
        let request = Request::get(uri).body(())?;
        let origin = encode(&request, TargetForm::Origin, RequestFraming::None)?;
        assert!(
            origin.starts_with(&format!("GET {target} HTTP/1.1\r\n")),
            "{origin}"
        );
        let absolute = encode(&request, TargetForm::Absolute, RequestFraming::None)?;
        assert!(
            absolute.starts_with(&format!("GET http://h{target} HTTP/1.1\r\n")),
            "{absolute}"
        );
        assert_eq!(
            request_target(request.method(), request.uri(), TargetForm::Origin)?,
            target
        );
    }
    Ok(())
}

/// Encodes `request` with `defaults`, origin-form, no body.
fn encode_with_defaults(
    request: &Request<()>,
    defaults: &[(HeaderName, HeaderValue)],
) -> Result<String, EncodeError> {
    let mut out = b"previous".to_vec();
    let head = RequestHead {
        defaults,
        ..RequestHead::from(request)
    };
    match encode_request_head(head, TargetForm::Origin, RequestFraming::None, &mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out[8..]).into_owned()),
        Err(e) => {
            assert_eq!(out, b"previous", "nothing is written on error");
            Err(e)
        }
    }
}

#[test]
fn defaults_follow_the_callers_fields_unless_the_caller_has_them()
-> Result<(), Box<dyn std::error::Error>> {
    let defaults = [
        (
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip"),
        ),
        (http::header::USER_AGENT, HeaderValue::from_static("hcx/1")),
    ];
    // The caller's fields, and the fields written after `host`.
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "accept-encoding: gzip\r\nuser-agent: hcx/1\r\n"),
        // The caller's own (any case) wins; the other default still goes out, after.
        (
            &[("User-Agent", "mine"), ("x-a", "1")],
            "user-agent: mine\r\nx-a: 1\r\naccept-encoding: gzip\r\n",
        ),
        // Caller fields that are no default: every default still goes out, once.
        (
            &[("x-a", "1")],
            "x-a: 1\r\naccept-encoding: gzip\r\nuser-agent: hcx/1\r\n",
        ),
        // The caller has both: no default goes out.
        (
            &[("user-agent", "mine"), ("accept-encoding", "br")],
            "user-agent: mine\r\naccept-encoding: br\r\n",
        ),
    ];
    for (fields, written) in cases {
        let mut request = Request::get("http://example.com/");
        for (name, value) in fields {
            request = request.header(*name, *value);
        }
        let request = request.body(())?;
        let head = encode_with_defaults(&request, &defaults)?;
        assert_eq!(
            head,
            format!("GET / HTTP/1.1\r\nhost: example.com\r\n{written}\r\n"),
            "{fields:?}"
        );
        // The same bytes as the defaults the caller lacks added to its map.
        let mut added = request.clone();
        for (name, value) in &defaults {
            if !added.headers().contains_key(name) {
                added.headers_mut().insert(name.clone(), value.clone());
            }
        }
        assert_eq!(
            head,
            encode(&added, TargetForm::Origin, RequestFraming::None)?
        );
    }
    Ok(())
}

#[test]
fn a_default_the_encoder_decides_is_refused() -> Result<(), Box<dyn std::error::Error>> {
    let bare = Request::get("http://example.com/").body(())?;
    for name in [
        HOST,
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
        CONNECTION,
        EXPECT,
        PROXY_AUTHORIZATION,
    ] {
        let defaults = [(name.clone(), HeaderValue::from_static("x"))];
        assert_eq!(
            encode_with_defaults(&bare, &defaults),
            Err(EncodeError::ReservedDefault(name))
        );
    }
    // Refused for its name even when the caller's own field would replace it.
    let defaults = [(CONNECTION, HeaderValue::from_static("close"))];
    let with_connection = Request::get("http://example.com/")
        .header("connection", "close")
        .body(())?;
    assert_eq!(
        encode_with_defaults(&with_connection, &defaults),
        Err(EncodeError::ReservedDefault(CONNECTION))
    );
    Ok(())
}
