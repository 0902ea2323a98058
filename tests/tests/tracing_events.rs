//! The `tracing` events (feature `tracing`, default on): the targets a porting user
//! knows from Apache's log categories, each with its level, and nothing emitted for a
//! target the subscriber does not want.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use common::{SAFETY, TestResult};
use hcx_testserver::{Method, Reply, TestServer};
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keeps `target LEVEL: message | fields` of every event at or above its level for the
/// targets it is given.
struct Capture {
    wants: Vec<(&'static str, Level)>,
    lines: Arc<Mutex<Vec<String>>>,
}

/// An event's message and its other fields, apart.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.wants
            .iter()
            .any(|(target, level)| metadata.target() == *target && metadata.level() <= level)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut line = Line::default();
        event.record(&mut line);
        self.lines.lock().push(format!(
            "{} {}: {} |{}",
            meta.target(),
            meta.level(),
            line.message,
            line.fields
        ));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn capture(
    wants: Vec<(&'static str, Level)>,
    run: impl FnOnce() -> TestResult,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let subscriber = Capture {
        wants,
        lines: Arc::clone(&lines),
    };
    tracing::subscriber::with_default(subscriber, run)?;
    let lines = lines.lock().clone();
    Ok(lines)
}

fn one_exchange(server: &TestServer) -> TestResult {
    let client = hcx::Client::builder()
        .response_timeout(Some(SAFETY))
        .build()?;
    client.get(server.url("/"))?.into_body().into_string()?;
    client.get(server.url("/bye"))?.into_body().into_string()?;
    Ok(())
}

fn server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello"))
        .route(
            Method::GET,
            "/bye",
            Reply::ok().body("bye").connection_close(),
        )
        .start()
}

#[test]
fn connection_management_is_logged_under_hcx_conn() -> TestResult {
    let server = server()?;
    let lines = capture(vec![("hcx::conn", Level::DEBUG)], || one_exchange(&server))?;
    assert!(
        lines.iter().all(|l| l.starts_with("hcx::conn DEBUG:")),
        "{lines:#?}"
    );
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("hcx::conn DEBUG: ")?.split(" |").next())
        .collect();
    assert_eq!(
        messages,
        [
            "leased",
            "connecting",
            "connected",
            "reuse decided",
            "released",
            "leased",
            "reuse decided",
            "released",
            "closed: response had Connection: close",
        ],
        "{lines:#?}"
    );
    assert!(
        lines[lines.len() - 1].contains("reason=\"response_connection_close\""),
        "{lines:#?}"
    );
    Ok(())
}

#[test]
fn heads_go_to_hcx_headers_and_bytes_to_hcx_wire() -> TestResult {
    let server = server()?;
    let lines = capture(
        vec![("hcx::headers", Level::DEBUG), ("hcx::wire", Level::TRACE)],
        || one_exchange(&server),
    )?;
    let heads: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("hcx::headers"))
        .collect();
    assert_eq!(heads.len(), 4, "two requests, two responses: {lines:#?}");
    assert!(heads[0].contains("GET / HTTP/1.1"), "{}", heads[0]);
    assert!(heads[1].contains("status=200"), "{}", heads[1]);
    let wire: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("hcx::wire TRACE"))
        .collect();
    assert!(
        wire.iter()
            .any(|l| l.contains(">> GET /bye HTTP/1.1\\r\\n")),
        "the request bytes, escaped: {wire:#?}"
    );
    assert!(
        wire.iter().any(|l| l.contains("<< HTTP/1.1 200 OK")),
        "{wire:#?}"
    );
    assert!(!lines.iter().any(|l| l.starts_with("hcx::conn")));
    Ok(())
}

#[test]
fn nothing_is_emitted_for_targets_nobody_wants() -> TestResult {
    let server = server()?;
    let lines = capture(vec![("hcx::conn", Level::INFO)], || one_exchange(&server))?;
    assert_eq!(lines, Vec::<String>::new());
    Ok(())
}
