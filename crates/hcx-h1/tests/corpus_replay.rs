//! Replays every file of the fuzz seed corpus (`tests/corpus/`, also the seeds of
//! `fuzz/fuzz_targets/response.rs`) through the fuzz target's code path, and pins the
//! outcome of each hand-written seed: `ok-*` files parse to the expected response,
//! `bad-*` files fail with the expected error kind.

#[path = "support/check_response.rs"]
mod check_response;

use std::collections::BTreeMap;
use std::path::Path;

use hcx_h1::{BodyFraming, CloseReason, ErrorKind};

/// What a seed must produce: status, body and framing, or an error kind.
#[derive(Debug)]
enum Expect {
    Ok {
        status: u16,
        body: &'static [u8],
        framing: BodyFraming,
        close: Option<CloseReason>,
        informational: usize,
    },
    Err(ErrorKind),
}

fn ok(status: u16, body: &'static [u8], framing: BodyFraming) -> Expect {
    Expect::Ok {
        status,
        body,
        framing,
        close: None,
        informational: 0,
    }
}

fn expectations() -> BTreeMap<&'static str, Expect> {
    use BodyFraming::*;
    use ErrorKind as K;
    BTreeMap::from([
        ("ok-length", ok(200, b"hello", Length(5))),
        ("ok-chunked-trailers", ok(200, b"hello, world", Chunked)),
        ("ok-chunked-extensions", ok(200, b"Wikipedia", Chunked)),
        (
            "ok-close-delimited-http10",
            Expect::Ok {
                status: 200,
                body: b"until the connection closes",
                framing: CloseDelimited,
                close: Some(CloseReason::CloseDelimitedBody),
                informational: 0,
            },
        ),
        (
            "ok-100-continue",
            Expect::Ok {
                status: 201,
                body: b"ok",
                framing: Length(2),
                close: Option::None,
                informational: 1,
            },
        ),
        (
            "ok-103-early-hints",
            Expect::Ok {
                status: 200,
                body: b"",
                framing: Length(0),
                close: Option::None,
                informational: 1,
            },
        ),
        (
            "ok-204-ignores-length",
            Expect::Ok {
                status: 204,
                body: b"",
                framing: BodyFraming::None,
                // The length is not read as a body, but a server that sends one may
                // send a body too: the connection is not reused after it.
                close: Some(CloseReason::InvalidBodilessResponse),
                informational: 0,
            },
        ),
        ("ok-304", ok(304, b"", BodyFraming::None)),
        (
            "ok-te-and-cl",
            Expect::Ok {
                status: 200,
                body: b"abc",
                framing: Chunked,
                close: Some(CloseReason::ContentLengthWithTransferEncoding),
                informational: 0,
            },
        ),
        ("ok-obs-fold", ok(200, b"x", Length(1))),
        ("ok-duplicate-cl", ok(200, b"abc", Length(3))),
        ("ok-leading-crlf", ok(404, b"nope", Length(4))),
        ("ok-no-reason", ok(200, b"hi", Length(2))),
        (
            "ok-101",
            Expect::Ok {
                status: 101,
                body: b"",
                framing: BodyFraming::None,
                close: Some(CloseReason::SwitchingProtocols),
                informational: 0,
            },
        ),
        ("bad-not-http", Expect::Err(K::NotHttp)),
        ("bad-html", Expect::Err(K::NotHttp)),
        ("bad-http2", Expect::Err(K::UnsupportedVersion)),
        ("bad-status-code", Expect::Err(K::InvalidHead)),
        ("bad-nul-in-header", Expect::Err(K::InvalidHead)),
        (
            "bad-conflicting-cl",
            Expect::Err(K::ConflictingContentLength),
        ),
        ("bad-cl-negative", Expect::Err(K::InvalidContentLength)),
        ("bad-cl-hex", Expect::Err(K::InvalidContentLength)),
        ("bad-te-gzip", Expect::Err(K::InvalidTransferEncoding)),
        ("bad-te-http10", Expect::Err(K::InvalidTransferEncoding)),
        ("bad-chunk-size", Expect::Err(K::InvalidChunkSize)),
        ("bad-chunk-bare-lf", Expect::Err(K::InvalidChunkSize)),
        (
            "bad-chunk-ext-unterminated",
            Expect::Err(K::InvalidChunkSize),
        ),
        ("bad-chunk-overflow", Expect::Err(K::ChunkSizeOverflow)),
        ("bad-chunk-crlf", Expect::Err(K::InvalidChunkDelimiter)),
        ("bad-trailer", Expect::Err(K::InvalidTrailers)),
        ("bad-truncated-length", Expect::Err(K::IncompleteBody)),
        ("bad-truncated-chunked", Expect::Err(K::IncompleteBody)),
        ("bad-truncated-head", Expect::Err(K::IncompleteHead)),
        ("bad-too-many-headers", Expect::Err(K::TooManyHeaders)),
        ("bad-head-too-large", Expect::Err(K::HeadTooLarge)),
        ("bad-too-many-100", Expect::Err(K::TooManyInformational)),
        // Found by the fuzzer: a lone CR before a non-HTTP start was NotHttp whole
        // but InvalidHead when fed a byte at a time.
        ("regress-cr-before-not-http", Expect::Err(K::NotHttp)),
        // Found by the fuzzer after a change that remembered a partial parse: empty
        // lines then a truncated bad version gave UnsupportedVersion whole but
        // IncompleteHead a byte at a time. Now UnsupportedVersion both ways: the end
        // of stream names what the cut head's bytes already show.
        (
            "regress-blank-lines-before-bad-version",
            Expect::Err(K::UnsupportedVersion),
        ),
    ])
}

#[test]
fn every_corpus_file_replays_without_panic_and_seeds_give_their_outcome() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut expected = expectations();
    let mut replayed = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let input =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let result = check_response::check(&input);
        replayed += 1;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let Some(expect) = expected.remove(name) else {
            // A file the fuzzer found: it only has to go through without a panic.
            continue;
        };
        match (expect, result) {
            (
                Expect::Ok {
                    status,
                    body,
                    framing,
                    close,
                    informational,
                },
                Ok(r),
            ) => {
                assert_eq!(r.head.status, status, "{name}");
                assert_eq!(r.body, body, "{name}");
                assert_eq!(r.framing.body, framing, "{name}");
                assert_eq!(r.framing.close, close, "{name}");
                assert_eq!(r.informational.len(), informational, "{name}");
            }
            (Expect::Err(kind), Err(e)) => assert_eq!(e.kind(), kind, "{name}: {e}"),
            (expect, result) => panic!("{name}: expected {expect:?}, got {result:?}"),
        }
    }
    assert!(
        expected.is_empty(),
        "seeds missing from {}: {:?}",
        dir.display(),
        expected.keys()
    );
    assert!(replayed >= 37, "only {replayed} corpus files");
}

#[test]
fn seed_details_beyond_status_and_body() {
    let read = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name);
        check_response::check(&std::fs::read(path).expect("seed")).expect("a valid seed")
    };
    let r = read("ok-chunked-trailers.http");
    assert_eq!(r.trailers.expect("trailers")["x-checksum"], "abc123");
    let r = read("ok-obs-fold.http");
    assert_eq!(r.head.headers["x-folded"], "first   second");
    let r = read("ok-duplicate-cl.http");
    assert_eq!(r.consumed, 63, "stops before the 5 extra bytes");
    let r = read("ok-103-early-hints.http");
    assert_eq!(
        r.informational[0].headers["link"],
        "</style.css>; rel=preload; as=style"
    );
}
