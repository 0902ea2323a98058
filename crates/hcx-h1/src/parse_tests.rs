use super::*;

fn parse(bytes: &[u8]) -> Result<Option<(ResponseHead, usize)>, Error> {
    parse_response_head(bytes, &Limits::default())
}

fn kind_of(bytes: &[u8], limits: &Limits) -> ErrorKind {
    match parse_response_head(bytes, limits) {
        Err(e) => e.kind(),
        Ok(other) => panic!("expected an error for {bytes:?}, got {other:?}"),
    }
}

#[test]
fn complete_head_reports_status_version_reason_fields_and_length() {
    let bytes = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nabc";
    let (head, len) = parse(bytes).unwrap().unwrap();
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.reason(), "Not Found");
    assert_eq!(head.headers["content-length"], "3");
    let xa: Vec<_> = head.headers.get_all("x-a").iter().collect();
    assert_eq!(xa, ["1", "2"]);
    assert_eq!(&bytes[len..], b"abc");
}

#[test]
fn every_prefix_of_a_valid_head_is_partial() {
    let bytes = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n";
    for end in 0..bytes.len() {
        assert_eq!(parse(&bytes[..end]).unwrap(), None, "prefix of {end} bytes");
    }
    let (head, len) = parse(bytes).unwrap().unwrap();
    assert_eq!(head.version, Version::HTTP_10);
    assert_eq!(len, bytes.len());
}

#[test]
fn non_http_start_is_an_error_after_one_byte() {
    for bytes in [
        &b"X"[..],
        b"H2",
        b"HTTX",
        b"\r\nSSH-2.0",
        b"<html>",
        b"\x16\x03\x01",
    ] {
        assert_eq!(
            kind_of(bytes, &Limits::default()),
            ErrorKind::NotHttp,
            "{bytes:?}"
        );
    }
    let e = parse(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "response does not start with HTTP/ (got \"SSH-2.0-OpenSSH_9.6\"): the server does not speak HTTP/1.x"
    );
}

#[test]
fn leading_empty_lines_are_skipped() {
    let (head, len) = parse(b"\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    assert_eq!(len, 31);
}

#[test]
fn other_versions_are_unsupported() {
    for bytes in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.2 200 OK\r\n\r\n",
        b"HTTP/0.9 200\r\n\r\n",
    ] {
        assert_eq!(
            kind_of(bytes, &Limits::default()),
            ErrorKind::UnsupportedVersion,
            "{bytes:?}"
        );
    }
}

#[test]
fn malformed_heads_are_invalid() {
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 099 Odd\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo Colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
    ];
    for bytes in cases {
        assert_eq!(
            kind_of(bytes, &Limits::default()),
            ErrorKind::InvalidHead,
            "{bytes:?}"
        );
    }
}

#[test]
fn missing_reason_and_bare_lf_are_accepted() {
    let (head, _) = parse(b"HTTP/1.1 200\r\n\r\n").unwrap().unwrap();
    assert_eq!(head.reason(), "");
    let (head, len) = parse(b"HTTP/1.1 200 OK\nA: b\n\n").unwrap().unwrap();
    assert_eq!(head.headers["a"], "b");
    assert_eq!(len, 22);
}

#[test]
fn obs_fold_becomes_spaces() {
    let (head, _) = parse(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nY: c\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.headers["x"], "a   b");
    assert_eq!(head.headers["y"], "c");
    // Empty lines before the status line add line ends too: with or without a fold
    // after them, the values come out right.
    let (head, _) = parse(b"\r\n\nHTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.headers["x"], "a   b");
    let (head, _) = parse(b"\r\nHTTP/1.1 200 OK\r\nX: a\r\nY: c\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.headers["x"], "a");
    assert_eq!(head.headers["y"], "c");
}

#[test]
fn a_bare_lf_fold_becomes_spaces_and_a_lone_cr_in_a_value_is_refused() {
    let (head, _) = parse(b"HTTP/1.1 200 OK\nX: a\n b\nY: c\n\n")
        .unwrap()
        .unwrap();
    assert_eq!(head.headers["x"], "a  b");
    // Folds are found by their LF: a CR reaches a value only inside one.
    assert!(parse(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n").is_err());
}

#[test]
fn take_response_head_unfolds_every_folded_value_and_takes_the_rest_as_sent() {
    // Values are first taken as sent and only a refused one is searched for a fold:
    // every kind of fold (CRLF, bare LF, a tab, one right after the colon) must still
    // come out unfolded, and values around them (obs-text included) unchanged.
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nY: c\nZ: d\n\te\r\nW:\r\n f\r\nV: \xe9t\xe9\r\n\r\nbody"[..],
    );
    let fields = take_response_head(&mut buf, &Limits::default()).map(|head| {
        head.map(|head| {
            head.headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        })
    });
    let expected: Vec<(String, Vec<u8>)> = [
        ("x", &b"a   b"[..]),
        ("y", b"c"),
        ("z", b"d \te"),
        ("w", b"f"),
        ("v", b"\xe9t\xe9"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_vec()))
    .collect();
    assert_eq!(fields.ok().flatten(), Some(expected));
    assert_eq!(&buf[..], b"body");
}

#[test]
fn head_over_the_byte_limit_is_an_error_even_when_partial() {
    let mut limits = Limits::default().with_max_head_bytes(32);
    let long = b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaa";
    assert_eq!(kind_of(long, &limits), ErrorKind::HeadTooLarge);
    assert_eq!(
        parse_response_head(long, &limits).unwrap_err().to_string(),
        "response head larger than the limit of 32 bytes (status line \"HTTP/1.1 200 OK\")"
    );
    // Complete, but one byte over.
    let head = b"HTTP/1.1 200 OK\r\nX-Long: aaaa\r\n\r\n";
    assert_eq!(head.len(), 33);
    assert_eq!(kind_of(head, &limits), ErrorKind::HeadTooLarge);
    // Exactly at the limit.
    limits = limits.with_max_head_bytes(33);
    assert!(parse_response_head(head, &limits).unwrap().is_some());
    // Partial below the limit waits.
    assert!(parse_response_head(&head[..20], &limits).unwrap().is_none());
}

#[test]
fn header_count_limit_is_enforced_below_and_above_the_stack_size() {
    for max in [0, 3, STACK_HEADERS, STACK_HEADERS + 20] {
        let limits = Limits::default().with_max_headers(max);
        let mut ok = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..max {
            ok.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        let mut over = ok.clone();
        ok.extend_from_slice(b"\r\n");
        over.extend_from_slice(b"extra: 1\r\n\r\n");
        let (head, _) = parse_response_head(&ok, &limits).unwrap().unwrap();
        assert_eq!(head.headers.len(), max);
        assert_eq!(
            kind_of(&over, &limits),
            ErrorKind::TooManyHeaders,
            "max {max}"
        );
    }
}

#[test]
fn take_consumes_exactly_the_head_and_shares_values() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nETag: \"x\"\r\n\r\nbody"[..]);
    let head = take_response_head(&mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(head.headers["etag"], "\"x\"");
    assert_eq!(head.reason(), "OK");
    assert_eq!(&buf[..], b"body");

    let mut partial = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
    assert!(
        take_response_head(&mut partial, &Limits::default())
            .unwrap()
            .is_none()
    );
    assert_eq!(partial.len(), 17, "a partial head is left in place");
}

#[test]
fn common_values_and_the_usual_reason_hold_no_share_of_the_read_buffer() {
    let input = b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Type: text/plain\r\n\
        Transfer-Encoding: chunked\r\nVary: accept-encoding\r\nServer: x/1\r\n\r\n";
    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(input);
    let taken = take_response_head(&mut buf, &Limits::default());
    assert!(matches!(taken, Ok(Some(_))), "{taken:?}");
    let Ok(Some(mut head)) = taken else { return };
    // Every value as sent, byte for byte, whether it is a common one or not (the
    // lowercase `Vary` is not).
    for (name, value) in [
        ("connection", "Keep-Alive"),
        ("content-type", "text/plain"),
        ("transfer-encoding", "chunked"),
        ("vary", "accept-encoding"),
        ("server", "x/1"),
    ] {
        assert_eq!(head.headers[name], value, "{name}");
    }
    assert_eq!(head.reason(), "OK");
    assert!(buf.is_empty());
    // The values that are not common ones share the read buffer: while they live, the
    // buffer cannot be reused in place.
    assert!(!buf.try_reclaim(4096));
    head.headers.remove("vary");
    head.headers.remove("server");
    // The rest (the common values, the usual reason) hold none of it.
    assert!(buf.try_reclaim(4096));
    assert_eq!(head.headers["connection"], "Keep-Alive");
    assert_eq!(head.reason(), "OK");
}

#[test]
fn an_unusual_reason_is_kept_as_sent() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 Fine\r\n\r\n"[..]);
    let taken = take_response_head(&mut buf, &Limits::default());
    assert_eq!(
        taken.ok().flatten().map(|head| head.reason().to_string()),
        Some("Fine".into())
    );
}

#[test]
fn informational_heads_are_reported_then_the_final_one() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
    );
    let mut reader = HeadReader::new(Limits::default());
    let mut statuses = Vec::new();
    loop {
        match reader.read(&mut buf).unwrap() {
            Some(HeadEvent::Informational(h)) => statuses.push(h.status.as_u16()),
            Some(HeadEvent::Final(h)) => {
                statuses.push(h.status.as_u16());
                break;
            }
            None => panic!("ran out of bytes"),
        }
    }
    assert_eq!(statuses, [100, 103, 200]);
    assert_eq!(reader.informational_count(), 2);
    assert!(buf.is_empty());
}

#[test]
fn switching_protocols_is_final() {
    let mut buf = BytesMut::from(&b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"[..]);
    let event = HeadReader::new(Limits::default()).read(&mut buf).unwrap();
    assert!(matches!(event, Some(HeadEvent::Final(h)) if h.status == 101));
}

#[test]
fn endless_informational_heads_are_cut_off() {
    let limits = Limits::default().with_max_informational(2);
    let mut buf = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\n".repeat(3)[..]);
    let mut reader = HeadReader::new(limits);
    assert!(matches!(
        reader.read(&mut buf),
        Ok(Some(HeadEvent::Informational(_)))
    ));
    assert!(matches!(
        reader.read(&mut buf),
        Ok(Some(HeadEvent::Informational(_)))
    ));
    let e = reader.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyInformational);
}

#[test]
fn head_converts_into_an_http_response() {
    let (head, _) = parse(b"HTTP/1.0 301 Moved\r\nLocation: /x\r\n\r\n")
        .unwrap()
        .unwrap();
    let response = head.into_response(());
    assert_eq!(response.status(), 301);
    assert_eq!(response.version(), Version::HTTP_10);
    assert_eq!(response.headers()["location"], "/x");
}

#[test]
fn empty_reason_and_empty_values_never_index_outside_the_head() {
    // httparse gives a missing reason as a static "" outside the buffer.
    let input = b"HTTP/1.1 200\r\nX-Empty:\r\nY:   \r\n\r\nbody after the head";
    let (copied, len) = parse(input).unwrap().unwrap();
    let mut buf = BytesMut::from(&input[..]);
    let shared = take_response_head(&mut buf, &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(copied, shared);
    assert_eq!(shared.reason(), "");
    assert_eq!(shared.headers["x-empty"], "");
    assert_eq!(shared.headers["y"], "");
    assert_eq!(&buf[..], &input[len..]);
}

#[test]
fn offset_range_maps_empty_and_foreign_parts_safely() {
    let buf = b"HTTP/1.1 200 OK\r\n\r\nrest";
    assert_eq!(offset_range(buf, 19, &buf[9..12]), 9..12);
    assert_eq!(offset_range(buf, 19, b""), 0..0);
    let foreign = [1u8, 2, 3];
    let r = offset_range(buf, 19, &foreign);
    assert!(r.start <= r.end && r.end <= 19, "{r:?}");
}

#[test]
fn more_fields_than_a_header_map_holds_is_an_error_not_a_panic() {
    // With limits raised far above the defaults, `http`'s own cap (24,576 fields) is
    // what gives: found in review, it used to panic inside HeaderMap.
    let limits = Limits::default()
        .with_max_headers(30_000)
        .with_max_head_bytes(1 << 20);
    let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
    for _ in 0..25_000 {
        bytes.extend_from_slice(b"a:\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    assert_eq!(kind_of(&bytes, &limits), ErrorKind::TooManyHeaders);
}

#[test]
fn head_reader_fed_a_byte_at_a_time_reads_what_a_whole_parse_reads() {
    let bytes: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nA: 1\r\n folded\r\nB: 2\n\nbody";
    let mut reader = HeadReader::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut fed = 0;
    'feed: for &b in bytes {
        buf.extend_from_slice(&[b]);
        fed += 1;
        while let Some(event) = reader.read(&mut buf).unwrap() {
            let last = matches!(event, HeadEvent::Final(_));
            events.push(event);
            if last {
                break 'feed; // the rest is body: not the head reader's
            }
        }
    }
    buf.extend_from_slice(&bytes[fed..]);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(&events[0], HeadEvent::Informational(h) if h.status == 100));
    let HeadEvent::Final(head) = &events[1] else {
        panic!("{events:?}")
    };
    let mut whole = BytesMut::from(bytes);
    let mut once = HeadReader::new(Limits::default());
    assert!(matches!(
        once.read(&mut whole).unwrap(),
        Some(HeadEvent::Informational(_))
    ));
    let Some(HeadEvent::Final(expected)) = once.read(&mut whole).unwrap() else {
        panic!()
    };
    assert_eq!(head, &expected);
    assert_eq!(head.headers["b"], "2");
    assert_eq!(&buf[..], b"body");
    assert_eq!(buf, whole);
}

#[test]
fn head_reader_still_refuses_a_non_http_start_at_once() {
    let mut reader = HeadReader::new(Limits::default());
    let mut buf = BytesMut::from(&b"SSH-2"[..]);
    assert_eq!(
        reader.read(&mut buf).unwrap_err().kind(),
        ErrorKind::NotHttp
    );
}

#[test]
fn head_reader_reports_an_oversized_head_without_a_blank_line() {
    let limits = Limits::default().with_max_head_bytes(64);
    let mut reader = HeadReader::new(limits);
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\n"[..]);
    assert!(reader.read(&mut buf).unwrap().is_none());
    buf.extend_from_slice(&[b'x'; 64]);
    assert_eq!(
        reader.read(&mut buf).unwrap_err().kind(),
        ErrorKind::HeadTooLarge
    );
}

#[test]
fn blank_lines_before_a_trickled_head_are_scanned_once() {
    let mut reader = HeadReader::new(Limits::default());
    let mut buf = BytesMut::from(&b"\r\n\r\nHTTP/1.1 200 OK\r\n"[..]);
    assert!(reader.read(&mut buf).unwrap().is_none());
    assert_eq!(
        reader.scanned,
        buf.len(),
        "a partial head is not parsed again"
    );
    buf.extend_from_slice(b"A: b\r\n");
    assert!(reader.read(&mut buf).unwrap().is_none());
    assert_eq!(reader.scanned, buf.len());
    buf.extend_from_slice(b"\r\n");
    let Some(HeadEvent::Final(head)) = reader.read(&mut buf).unwrap() else {
        panic!("the head is complete");
    };
    assert_eq!(head.status, 200);
    assert!(buf.is_empty());
}

#[test]
fn field_names_spelt_as_servers_send_them_are_the_names_from_bytes_gives() {
    let names: &[&[u8]] = &[
        b"Date",
        b"ETag",
        b"Vary",
        b"Server",
        b"Expires",
        b"Location",
        b"Connection",
        b"Set-Cookie",
        b"Content-Type",
        b"Cache-Control",
        b"Last-Modified",
        b"Content-Length",
        b"Content-Encoding",
        b"Transfer-Encoding",
    ];
    let name_of = |bytes: &[u8]| field_name(bytes).ok().map(|(name, _)| name);
    for &name in names {
        let expected = HeaderName::from_bytes(name).ok();
        assert!(expected.is_some());
        assert_eq!(name_of(name), expected);
        // The other spellings take the general way to the same name.
        assert_eq!(name_of(&name.to_ascii_lowercase()), expected);
        assert_eq!(name_of(&name.to_ascii_uppercase()), expected);
    }
    // Names of those lengths that are not in the list, and ones that are not names.
    assert_eq!(
        name_of(b"X-Ab").as_ref().map(HeaderName::as_str),
        Some("x-ab")
    );
    assert_eq!(
        name_of(b"Content-Typo").as_ref().map(HeaderName::as_str),
        Some("content-typo")
    );
    assert!(field_name(b"Date ").is_err());
    assert!(field_name(b"").is_err());
    assert!(field_name(b"Con\x00nection").is_err());
}

/// A CR followed by anything but LF can never be part of a head, so the reader fails
/// as soon as it sees one, whole or fed a byte at a time, instead of waiting for a
/// blank line that may never come (the server keeping the connection open).
#[test]
fn head_reader_fails_at_a_bare_cr_without_waiting_for_a_blank_line() {
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\r\nabc",
        b"HTTP/1.1 200 OK\r\nX: a\rb",
        b"HTTP/1.1 200 O\rK",
    ];
    for &bytes in cases {
        let whole = HeadReader::new(Limits::default()).read(&mut BytesMut::from(bytes));
        assert!(whole.is_err(), "{}: {whole:?}", ShowBytes(bytes));
        let mut reader = HeadReader::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut failed_at = None;
        for (i, &b) in bytes.iter().enumerate() {
            buf.extend_from_slice(&[b]);
            if reader.read(&mut buf).is_err() {
                failed_at = Some(i);
                break;
            }
        }
        // At the byte after the CR at the latest: that byte shows the CR is bare.
        let cr = bytes
            .windows(2)
            .position(|w| w[0] == b'\r' && w[1] != b'\n');
        assert_eq!(failed_at, cr.map(|i| i + 1), "{}", ShowBytes(bytes));
    }
    // A CR at the end of what has come so far may still be followed by its LF.
    let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r"[..]);
    let mut reader = HeadReader::new(Limits::default());
    assert!(matches!(reader.read(&mut buf), Ok(None)));
    buf.extend_from_slice(b"\nA: 1\r\n\r\n");
    assert!(matches!(
        reader.read(&mut buf),
        Ok(Some(HeadEvent::Final(_)))
    ));
}

#[test]
fn a_huge_max_headers_costs_no_more_than_the_head_needs() {
    // "No limit", as Apache's maxHeaderCount = -1 would be ported: no panic, no
    // allocation of usize::MAX slots.
    let limits = Limits::default().with_max_headers(usize::MAX);
    let head = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &limits);
    assert_eq!(
        head.ok().flatten().map(|(h, _)| h.status),
        Some(http::StatusCode::OK)
    );
    // A head of many fields still parses up to what a HeaderMap holds.
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..1000 {
        many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let limits = limits.with_max_head_bytes(many.len());
    let head = parse_response_head(&many, &limits);
    assert_eq!(
        head.ok().flatten().map(|(h, _)| h.headers.len()),
        Some(1000)
    );
}

#[test]
fn a_refused_field_is_named_with_its_line_and_its_value_never_shown() {
    let cases: [(&[u8], &str); 4] = [
        (
            b"HTTP/1.1 200 OK\r\nServer: x\r\nX-Token: se\x01cret\r\n\r\n",
            "the value of field \"X-Token\" on line 3",
        ),
        (
            b"HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n",
            "\"Bad Name\" on line 2",
        ),
        (
            b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n(x): y\r\n\r\n",
            "\"(x)\" on line 4",
        ),
        (
            b"HTTP/1.1 200 OK\r\nAuthorization Basic c2VjcmV0\r\n\r\n",
            "line 2 has no colon",
        ),
    ];
    for (bytes, expected) in cases {
        let text = match parse(bytes) {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidHead, "{e}");
                e.to_string()
            }
            Ok(other) => format!("no error: {other:?}"),
        };
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("cret") && !text.contains("c2Vj"), "{text}");
    }
}

#[test]
fn heads_of_every_field_count_around_the_first_table_keep_all_fields_in_order() {
    // Up to FIRST_TABLE_FIELDS fields the map is made empty and grows on its first
    // insert; above, it is sized up front: both must hold every field, in order,
    // repeated names included.
    for count in 0..=super::FIRST_TABLE_FIELDS * 3 {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        let mut sent = Vec::new();
        for i in 0..count {
            let name = format!("x-field-{}", i % 4);
            let value = format!("value {i}");
            head.push_str(&format!("{name}: {value}\r\n"));
            sent.push((name, value));
        }
        head.push_str("\r\n");
        let mut buf = BytesMut::from(head.as_bytes());
        let got = take_response_head(&mut buf, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(got.headers.len(), count);
        for name in ["x-field-0", "x-field-1", "x-field-2", "x-field-3"] {
            let want: Vec<&str> = sent
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            let have: Vec<&str> = got
                .headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect();
            assert_eq!(have, want, "{name} of {count} fields");
        }
    }
}

/// The reader is moved with the exchange's state at each step of a response: its
/// flags for a trickling head must not make it larger than the six words it was.
#[cfg(target_pointer_width = "64")]
#[test]
fn the_head_reader_stays_six_words() {
    assert_eq!(std::mem::size_of::<HeadReader>(), 48);
}

#[test]
fn blank_lines_trickling_before_the_status_line_are_each_looked_at_once() {
    // A server that sends empty lines a byte at a time before its status line (which
    // the parser skips) costs the client each byte once, not the whole run again on
    // every read: 256 Ki bytes here are a quarter million reads, and looking at the
    // run from its start on each was 34 billion steps.
    let blank = 1 << 18;
    let limits = Limits::default().with_max_head_bytes(2 * blank);
    let mut reader = HeadReader::new(limits);
    let mut buf = BytesMut::new();
    for &b in b"\r\n".iter().cycle().take(blank) {
        buf.extend_from_slice(&[b]);
        assert!(matches!(reader.read(&mut buf), Ok(None)));
    }
    buf.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert!(matches!(
        reader.read(&mut buf),
        Ok(Some(HeadEvent::Final(head))) if head.status == 204
    ));
    assert!(buf.is_empty());
}

#[test]
fn a_reader_given_a_shorter_buffer_after_an_error_starts_over_without_a_panic() {
    // The first head fails before the scan has recorded its bytes (its empty lines
    // were counted, the scanned mark was not): a buffer shorter than those empty
    // lines, read next, is a new head, not a slice out of range.
    let broken: [&[u8]; 2] = [
        b"\r\n\r\nHTTP/1.1 200 OK\r\nA\rB",
        b"\r\n\r\nHTTP/1.1 200 OK\r\nA b\r\n",
    ];
    for bytes in broken {
        let mut reader = HeadReader::new(Limits::default());
        let mut buf = BytesMut::from(bytes);
        assert!(matches!(
            reader.read(&mut buf).map_err(|e| e.kind()),
            Err(ErrorKind::InvalidHead)
        ));
        let mut buf = BytesMut::from(&b"HT"[..]);
        assert!(matches!(reader.read(&mut buf), Ok(None)));
        buf.extend_from_slice(b"TP/1.1 204 No Content\r\n\r\n");
        assert!(matches!(
            reader.read(&mut buf),
            Ok(Some(HeadEvent::Final(head))) if head.status == 204
        ));
    }
}
