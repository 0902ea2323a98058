use super::*;

/// Decodes `input` fed in pieces of `piece` bytes; returns the body, the bytes
/// consumed, and the decoder.
fn run(
    input: &[u8],
    piece: usize,
    limits: &Limits,
) -> Result<(Vec<u8>, usize, ChunkedDecoder), Error> {
    let mut d = ChunkedDecoder::new(limits);
    let mut body = Vec::new();
    let mut at = 0;
    let mut end = 0;
    while !d.is_done() && at < input.len() {
        end = (end + piece).min(input.len()).max(at);
        let step = d.decode(&input[at..end])?;
        body.extend_from_slice(&input[at..end][step.data]);
        at += step.consumed;
        assert!(step.consumed > 0 || d.is_done(), "no progress at {at}");
    }
    Ok((body, at, d))
}

fn decode_all(input: &[u8]) -> Result<(Vec<u8>, usize, ChunkedDecoder), Error> {
    run(input, input.len().max(1), &Limits::default())
}

fn kind_of(input: &[u8]) -> ErrorKind {
    match decode_all(input) {
        Err(e) => e.kind(),
        Ok((body, _, d)) => panic!(
            "expected an error for {input:?}, got {body:?} done={}",
            d.is_done()
        ),
    }
}

#[test]
fn decodes_chunks_and_stops_after_the_final_crlf() {
    let input = b"5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";
    let (body, consumed, d) = decode_all(input).unwrap();
    assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
    assert_eq!(&input[consumed..], b"NEXT");
    assert!(d.is_done());
    assert_eq!(d.trailers(), None);
}

#[test]
fn any_split_of_the_input_gives_the_same_body() {
    let input = b"3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n000;last\r\nX-T: 1\r\nY-T: 2\r\n\r\n";
    let (whole, consumed, _) = decode_all(input).unwrap();
    assert_eq!(consumed, input.len());
    for piece in 1..input.len() {
        let (body, consumed, d) = run(input, piece, &Limits::default()).unwrap();
        assert_eq!(body, whole, "pieces of {piece}");
        assert_eq!(consumed, input.len());
        let trailers = d.trailers().unwrap();
        assert_eq!(
            (trailers["x-t"].as_bytes(), trailers["y-t"].as_bytes()),
            (&b"1"[..], &b"2"[..])
        );
    }
}

#[test]
fn extensions_of_every_form_are_accepted() {
    let lines: &[&[u8]] = &[
        b"4;name",
        b"4;name=value",
        b"4 ; name = value ; other",
        b"4\t;\tname\t=\t\"quoted value\"",
        b"4;n=\"with \\\" escaped quote and ; semicolon\"",
        b"4;n=\"\\\\\";m=\"\"",
        b"4;n=\"obs-text \xe9\"",
        b"4;a;b;c=1;d=\"2\" ",
        b"0004",
    ];
    for line in lines {
        let mut input = line.to_vec();
        input.extend_from_slice(b"\r\ndata\r\n0\r\n\r\n");
        let (body, _, d) = decode_all(&input).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(body, b"data", "{line:?}");
        assert!(d.is_done());
    }
}

#[test]
fn bad_chunk_size_lines_are_rejected() {
    let cases: &[&[u8]] = &[
        b"\r\n",
        b"g\r\n",
        b"-1\r\n",
        b"+1\r\n",
        b"0x5\r\n",
        b" 5\r\n",
        b"5 5\r\n",
        b"5\n",
        b"5\r\r\n",
        b"5;\r\n",
        b"5;=v\r\n",
        b"5;n=\r\n",
        b"5;n=\"unterminated\r\n",
        b"5;n=\"ctl \x01\"\r\n",
        b"5;n=\"bad escape \\\x01\"\r\n",
        b"5;n=a b\r\n",
        b"5;n v\r\n",
        b"5;n=v\"\r\n",
        b"5;na(me\r\n",
    ];
    for line in cases {
        assert_eq!(kind_of(line), ErrorKind::InvalidChunkSize, "{line:?}");
    }
}

#[test]
fn chunk_size_overflow_is_an_error() {
    // 16 hex digits fit; the body is then merely cut short.
    let (_, _, d) = decode_all(b"ffffffffffffffff\r\nab").unwrap();
    assert!(!d.is_done());
    let e = decode_all(b"10000000000000000\r\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ChunkSizeOverflow);
    assert_eq!(
        e.to_string(),
        "chunk size of chunk #1 does not fit in 64 bits (body offset 16)"
    );
    // Leading zeros do not overflow.
    let mut zeros = b"0".repeat(40);
    zeros.extend_from_slice(b"1\r\nx\r\n0\r\n\r\n");
    assert_eq!(decode_all(&zeros).unwrap().0, b"x");
}

#[test]
fn chunk_line_length_is_bounded_by_the_head_limit() {
    let limits = Limits::default().with_max_head_bytes(64);
    // The line is "1;e=<value>\r\n": 64 bytes in all fits, 65 does not.
    let fits = format!("1;e={}\r\nx\r\n0\r\n\r\n", "v".repeat(64 - 6));
    let (body, _, _) = run(fits.as_bytes(), 7, &limits).unwrap();
    assert_eq!(body, b"x");
    let over = format!("1;e={}\r\nx\r\n0\r\n\r\n", "v".repeat(64 - 5));
    let e = run(over.as_bytes(), 7, &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ChunkLineTooLong);
    // Each line is counted on its own.
    let many = format!("1;e={0}\r\nx\r\n1;e={0}\r\ny\r\n0\r\n\r\n", "v".repeat(50));
    assert_eq!(run(many.as_bytes(), 3, &limits).unwrap().0, b"xy");
}

#[test]
fn missing_crlf_after_data_is_an_error_with_its_position() {
    let e = decode_all(b"5\r\nhelloX\r\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidChunkDelimiter);
    assert_eq!(
        e.to_string(),
        "byte 0x58 ('X') where CRLF was expected after the data of chunk #1 (body offset 8)"
    );
    assert_eq!(kind_of(b"5\r\nhello\rX"), ErrorKind::InvalidChunkDelimiter);
    assert_eq!(
        kind_of(b"5\r\nhello\n0\r\n\r\n"),
        ErrorKind::InvalidChunkDelimiter
    );
    assert_eq!(kind_of(b"0\r\n\n"), ErrorKind::InvalidChunkDelimiter);
    assert_eq!(kind_of(b"0\r\n\rX"), ErrorKind::InvalidChunkDelimiter);
}

#[test]
fn error_messages_name_the_chunk_and_offset() {
    let e = decode_all(b"2\r\nab\r\nzz\r\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid chunk-size line in chunk #2: byte 0x7a ('z') where a hex digit was expected (body offset 7)"
    );
}

#[test]
fn trailers_are_parsed_and_bounded() {
    let (_, _, mut d) = decode_all(b"0\r\nA: 1\r\nB: two words\r\nA: 3\r\n\r\n").unwrap();
    let trailers = d.take_trailers().unwrap();
    let a: Vec<_> = trailers.get_all("a").iter().collect();
    assert_eq!(a, ["1", "3"]);
    assert_eq!(trailers["b"], "two words");

    let mut limits = Limits::default().with_max_headers(2);
    let e = run(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 100, &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidTrailers);
    assert!(
        e.to_string()
            .starts_with("trailer section has more than 2 fields"),
        "{e}"
    );

    limits = Limits::default().with_max_head_bytes(16);
    let e = run(b"0\r\nLong: aaaaaaaaaaaaaaaa\r\n\r\n", 100, &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidTrailers);
}

#[test]
fn folded_trailer_lines_are_unfolded_as_in_the_head() {
    // RFC 9112 §5.2 (found missing in review: the head accepted obs-fold, trailers
    // refused it and lost a valid body).
    let input = b"0\r\nA: 1\r\n 2\r\nB: 3\r\n\r\n";
    let (body, consumed, mut d) = decode_all(input).unwrap();
    assert!(body.is_empty() && consumed == input.len() && d.is_done());
    let trailers = d.take_trailers().unwrap();
    assert_eq!(trailers["a"], "1   2");
    assert_eq!(trailers["b"], "3");
}

#[test]
fn malformed_trailers_are_rejected() {
    for input in [
        &b"0\r\nNo colon\r\n\r\n"[..],
        b"0\r\nA: 1\n\r\n",
        b"0\r\n folded: x\r\n\r\n",
        b"0\r\nA: \x01\r\n\r\n",
        b"0\r\nA: 1\rB: 2\r\n\r\n",
    ] {
        assert_eq!(kind_of(input), ErrorKind::InvalidTrailers, "{input:?}");
    }
}

#[test]
fn eof_anywhere_before_the_end_is_an_incomplete_body() {
    let input = b"5;x=\"y\"\r\nhello\r\n0\r\nT: 1\r\n\r\n";
    for end in 0..input.len() {
        let (_, consumed, d) = decode_all(&input[..end]).unwrap();
        assert_eq!(consumed, end);
        let e = d.eof_error().unwrap_or_else(|| panic!("no error at {end}"));
        assert!(e.is_incomplete_body(), "{end}: {e}");
    }
    let (_, _, d) = decode_all(input).unwrap();
    assert_eq!(d.eof_error(), None);

    let (_, _, d) = decode_all(b"a\r\nabc").unwrap();
    assert_eq!(
        d.eof_error().unwrap().to_string(),
        "connection closed in the data of chunk #1 (7 of 10 bytes missing) of a chunked body, after 6 bytes"
    );
}
