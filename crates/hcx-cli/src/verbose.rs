//! `hcx get -v`: an `EventListener` that prints the exchange and the connection's
//! lifecycle as it happens, curl-style: `*` for what the client did, `>` for the
//! request head as sent, `<` for the response head as read.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hcx::exec::{is_secret_field, redact_userinfo};
use hcx::http::header::LOCATION;
use hcx::http::{HeaderMap, StatusCode, Version};
use hcx::{
    CloseReason, Connected, ConnectionInfo, ConnectionRef, Decision, Error, EventListener,
    IdleLimitChange, RedirectEvent, ResponseHeadRef, RetryCause, RetryEvent, Route,
};

use crate::units;

/// Prints every event to `out` (stderr for `hcx get -v`), each line after `prefix`.
///
/// Credentials are not printed: the values of `Authorization`, `Proxy-Authorization`,
/// `Cookie` and `Set-Cookie` show as `<redacted>`, and a `Location`'s userinfo as `***`.
pub struct VerboseListener<W> {
    out: Mutex<W>,
    prefix: &'static str,
    muted: AtomicBool,
    /// The `Keep-Alive: timeout` of the last response head read on each connection,
    /// to say where a keep-alive decision's duration came from.
    server_timeouts: Mutex<HashMap<u64, Option<Duration>>>,
}

impl<W: Write + Send> VerboseListener<W> {
    /// A listener that writes to `out`.
    pub fn new(out: W) -> Self {
        VerboseListener {
            out: Mutex::new(out),
            prefix: "",
            muted: AtomicBool::new(false),
            server_timeouts: Mutex::new(HashMap::new()),
        }
    }

    /// Starts every line with `prefix` (the demo indents them).
    pub fn with_prefix(mut self, prefix: &'static str) -> Self {
        self.prefix = prefix;
        self
    }

    /// Stops (`true`) or resumes (`false`) printing.
    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::Relaxed);
    }

    /// Writes `lines`, each after the prefix and `mark`, under one lock so the lines
    /// of an event stay together. A failed write is ignored: the request goes on.
    fn print<I, S>(&self, mark: &str, lines: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if self.muted.load(Ordering::Relaxed) {
            return;
        }
        let mut out = lock(&self.out);
        for line in lines {
            let line = line.as_ref();
            let sep = if line.is_empty() { "" } else { " " };
            let _ = writeln!(out, "{}{mark}{sep}{line}", self.prefix);
        }
        let _ = out.flush();
    }

    fn info(&self, line: String) {
        self.print("*", [line]);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<W: Write + Send> EventListener for VerboseListener<W> {
    fn lease_requested(&self, route: &Route) {
        self.info(format!("asking the pool for a connection to {route}"));
    }

    fn leased(&self, _route: &Route, info: &ConnectionInfo) {
        let mut line = if info.reused {
            let probe = if info.probed {
                "stale probe ran"
            } else {
                "stale probe skipped (idle less than --validate-after)"
            };
            // The pool's clock ticks every millisecond or so: zero is "just now".
            let idle = match info.idle_for {
                Some(d) if !d.is_zero() => format!("after {} idle", units::duration(d)),
                _ => String::from("at once (idle under the pool clock's tick)"),
            };
            format!(
                "leased connection #{}: reused {idle}, {probe}",
                info.connection_id
            )
        } else {
            format!("leased a slot for new connection #{}", info.connection_id)
        };
        if info.stale_discarded > 0 {
            let n = info.stale_discarded;
            let s = if n == 1 { "" } else { "s" };
            line.push_str(&format!(
                "; first closed {n} stale pooled connection{s} (the server had closed it)"
            ));
        }
        if let Some(waited) = info.lease_waited {
            line.push_str(&format!(
                "; waited {} for a free slot",
                units::duration(waited)
            ));
        }
        self.info(line);
    }

    fn lease_failed(&self, route: &Route, error: &Error) {
        self.info(format!("no connection to {route}: {error:#}"));
    }

    fn connect_start(&self, route: &Route) {
        self.info(format!("connecting to {route}"));
    }

    fn connect_end(&self, route: &Route, result: Result<&Connected, &Error>) {
        match result {
            Ok(c) => {
                let peer = c
                    .peer
                    .map_or_else(|| route.to_string(), |peer| peer.to_string());
                let mut steps = format!("tcp {}", units::duration(c.timings.tcp));
                if let Some(tunnel) = c.timings.tunnel {
                    steps.push_str(&format!(", CONNECT tunnel {}", units::duration(tunnel)));
                }
                if let Some(tls) = c.timings.tls {
                    steps.push_str(&format!(", TLS handshake {}", units::duration(tls)));
                }
                let mut lines = vec![format!(
                    "connected #{} to {peer} in {} ({steps})",
                    c.connection_id,
                    units::duration(c.timings.total()),
                )];
                if let Some(tls) = &c.tls {
                    lines.push(format!(
                        "TLS {}, {}, resumed: {}, ALPN: {}",
                        tls.version,
                        tls.cipher_suite,
                        if tls.resumed { "yes" } else { "no" },
                        tls.alpn.as_deref().unwrap_or("none"),
                    ));
                }
                self.print("*", lines);
            }
            Err(e) => self.info(format!("connect to {route} failed: {e:#}")),
        }
    }

    fn request_head_written(&self, conn: &ConnectionRef<'_>, head: &[u8]) {
        self.info(format!("#{} request head sent:", conn.id));
        let text = String::from_utf8_lossy(head);
        let lines = text
            .split("\r\n")
            .take_while(|line| !line.is_empty())
            .map(redact);
        self.print(">", lines.chain([String::new()]));
    }

    fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {
        lock(&self.server_timeouts).insert(conn.id, hcx::keep_alive_timeout(head.headers));
        self.print(
            "<",
            response_head_lines(head.version, head.status, head.headers),
        );
    }

    fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        let server = lock(&self.server_timeouts).get(&conn.id).copied().flatten();
        let why = match decision {
            Decision::Keep { valid_for: None } => String::from(" (no keep-alive limit)"),
            Decision::Keep { .. } => match server {
                Some(t) => format!(
                    " (the server's Keep-Alive: timeout={} less the safety margin)",
                    t.as_secs()
                ),
                None => {
                    String::from(" (no Keep-Alive timeout from the server: the client's default)")
                }
            },
            Decision::Close(reason) => format!(" [{}]", reason.name()),
        };
        self.info(format!("#{} keep-alive decision: {decision}{why}", conn.id));
    }

    fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {
        self.info(format!(
            "#{} body done: {bytes} bytes read from the connection",
            conn.id
        ));
    }

    fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        match decision {
            Decision::Keep { .. } => self.info(format!(
                "#{} released to the pool, idle: {decision}",
                conn.id
            )),
            Decision::Close(_) => self.info(format!("#{} released: {decision}", conn.id)),
        }
    }

    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        lock(&self.server_timeouts).remove(&conn.id);
        self.info(format!(
            "#{} closed: {} [{}]",
            conn.id,
            reason.explain(),
            reason.name()
        ));
    }

    fn retry(&self, event: &RetryEvent<'_>) {
        let cause = match event.cause {
            RetryCause::Error(e) => format!("{e:#} [{}]", e.kind().as_str()),
            RetryCause::Status(status) => format!("status {status}"),
            _ => String::from("a retriable outcome"),
        };
        let when = if event.delay.is_zero() {
            String::from("at once")
        } else {
            format!("in {}", units::duration(event.delay))
        };
        self.info(format!(
            "retrying {} {}: attempt {} failed: {cause}; next attempt {when}",
            event.method, event.uri, event.attempt,
        ));
    }

    fn redirect(&self, event: &RedirectEvent<'_>) {
        self.info(format!(
            "following a {} redirect from {} to {} ({})",
            event.status, event.from, event.to, event.method
        ));
    }

    fn idle_limit_changed(&self, change: &IdleLimitChange) {
        self.info(format!("learned idle limit changed: {change}"));
    }
}

/// The status line and the header fields of a response head, then an empty line.
fn response_head_lines(version: Version, status: StatusCode, headers: &HeaderMap) -> Vec<String> {
    let mut lines = vec![format!(
        "{version:?} {} {}",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    )];
    for (name, value) in headers {
        lines.push(redact(&format!(
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        )));
    }
    lines.push(String::new());
    lines
}

/// A head line with credentials and cookies hidden, and the userinfo of a `Location`.
fn redact(line: &str) -> String {
    if let Some((name, value)) = line.split_once(':') {
        let name = name.trim();
        if is_secret_field(name.as_bytes()) {
            return format!("{name}: <redacted>");
        }
        if name.eq_ignore_ascii_case(LOCATION.as_str()) {
            return format!("{name}: {}", redact_userinfo(value.trim()));
        }
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcx::http::HeaderValue;

    fn text(listener: VerboseListener<Vec<u8>>) -> String {
        let out = listener
            .out
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn heads_are_printed_curl_style_with_credentials_hidden() {
        let listener = VerboseListener::new(Vec::new());
        let route = Route::http("example.test", 80);
        let conn = ConnectionRef::new(7, &route);
        listener.request_head_written(
            &conn,
            b"GET / HTTP/1.1\r\nhost: example.test\r\nauthorization: Basic c2VjcmV0\r\n\r\n",
        );
        let mut headers = HeaderMap::new();
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        // ResponseHeadRef cannot be built here (non_exhaustive, no constructor): the
        // head's lines and the remembered timeout are fed as response_head_read would.
        listener.print(
            "<",
            response_head_lines(Version::HTTP_11, StatusCode::OK, &headers),
        );
        lock(&listener.server_timeouts).insert(conn.id, hcx::keep_alive_timeout(&headers));
        listener.reuse_decided(&conn, Decision::keep(Some(Duration::from_secs(4))));
        listener.closed(&conn, CloseReason::Stale);
        let out = text(listener);
        assert!(out.contains("> GET / HTTP/1.1\n"), "{out}");
        assert!(out.contains("> authorization: <redacted>\n"), "{out}");
        assert!(!out.contains("c2VjcmV0"), "{out}");
        assert!(out.contains("< HTTP/1.1 200 OK\n"), "{out}");
        assert!(out.contains("< keep-alive: timeout=5\n"), "{out}");
        assert!(
            out.contains(
                "* #7 keep-alive decision: keep alive for 4s (the server's Keep-Alive: timeout=5"
            ),
            "{out}"
        );
        assert!(out.contains("* #7 closed: stale"), "{out}");
    }

    #[test]
    fn a_muted_listener_prints_nothing() {
        let listener = VerboseListener::new(Vec::new()).with_prefix("   ");
        listener.set_muted(true);
        listener.connect_start(&Route::http("example.test", 80));
        listener.set_muted(false);
        listener.connect_start(&Route::http("example.test", 81));
        assert_eq!(
            text(listener),
            "   * connecting to http://example.test:81\n"
        );
    }
}
