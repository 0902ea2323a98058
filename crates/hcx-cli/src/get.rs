//! `hcx get`: one request, its body to stdout or a file, its lifecycle with `-v`.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use hcx::{AbortHandle, Error, ErrorKind};

use crate::cli::GetArgs;
use crate::client::{self, RequestTemplate};
use crate::error::CliError;
use crate::verbose::VerboseListener;

/// Sends the request the flags describe and writes the body out. Any status is a
/// success (as curl without `--fail`); a request that fails is exit 1.
pub fn run(args: &GetArgs) -> Result<(), CliError> {
    let template = RequestTemplate::new(&args.url, &args.request)?;
    let mut builder = client::builder(&args.client, &template)?;
    if args.verbose {
        builder = builder.event_listener(VerboseListener::new(io::stderr()));
    }
    let client = builder.build()?;
    let mut request = template.request();
    let Some(limit) = args.max_time else {
        return fetch(&client, request, args);
    };
    let abort = AbortHandle::new();
    request.extensions_mut().insert(abort.clone());
    let timer = MaxTime::start(limit, abort);
    let result = fetch(&client, request, args);
    timer.stop();
    result.map_err(|e| match e {
        CliError::Http(e) if e.is_aborted() => CliError::MaxTime(
            Error::new(
                ErrorKind::Aborted,
                format!("--max-time {} reached", humantime::format_duration(limit)),
            )
            .with_source(e),
        ),
        other => other,
    })
}

/// Aborts a request when its time is up, on a thread of its own.
struct MaxTime {
    /// Dropped (or sent to) when the operation ends first: the thread leaves.
    done: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl MaxTime {
    fn start(limit: Duration, abort: AbortHandle) -> Self {
        let (done, ended) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = ended.recv_timeout(limit) {
                abort.abort();
            }
        });
        MaxTime { done, thread }
    }

    fn stop(self) {
        let _ = self.done.send(());
        let _ = self.thread.join();
    }
}

/// Sends `request` and writes its body where the flags say.
fn fetch(
    client: &hcx::Client,
    request: hcx::http::Request<hcx::Body>,
    args: &GetArgs,
) -> Result<(), CliError> {
    let response = client.execute(request)?;
    let mut body = response.into_body();
    // `-o -` is stdout, as curl's.
    match args
        .output
        .as_deref()
        .filter(|path| *path != Path::new("-"))
    {
        Some(path) => {
            let shown = path.display();
            let mut file = File::create(path)
                .map_err(|e| CliError::io(format!("cannot create {shown}"), e))?;
            copy(&mut body, &mut file, &format!("writing to {shown}"), false)
        }
        None => {
            let stdout = io::stdout();
            // As curl: binary bytes can garble a terminal (and a Windows console takes
            // UTF-8 only), so they go to a file or a pipe instead.
            let to_terminal = stdout.is_terminal();
            copy(
                &mut body,
                &mut stdout.lock(),
                "writing to stdout",
                to_terminal,
            )
        }
    }
}

/// Copies the body to `out`, telling a failed read (the request's) from a failed
/// write (the output's). With `refuse_binary`, each read is checked before it is
/// written, and the copy stops at the first that looks binary.
fn copy(
    body: &mut impl Read,
    out: &mut impl Write,
    writing: &str,
    refuse_binary: bool,
) -> Result<(), CliError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut text = TextCheck::default();
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(e).into()),
        };
        if refuse_binary && !text.continues(&buf[..n]) {
            return Err(CliError::Other(
                "the body looks binary and stdout is a terminal: not written from there \
                 on (save it with -o FILE, or pipe it)"
                    .into(),
            ));
        }
        out.write_all(&buf[..n])
            .map_err(|e| CliError::io(writing, e))?;
    }
    out.flush().map_err(|e| CliError::io(writing, e))
}

/// Whether a body read piece by piece is still text: no NUL byte, and UTF-8 across the
/// pieces (a character cut off at the end of one piece is taken up by the next).
#[derive(Default)]
struct TextCheck {
    /// The start of a character the last piece cut off.
    tail: Vec<u8>,
}

impl TextCheck {
    fn continues(&mut self, piece: &[u8]) -> bool {
        if piece.contains(&0) {
            return false;
        }
        // Copied only when a character was cut off (at most three bytes waiting):
        // otherwise the piece is checked where it lies.
        let joined;
        let bytes = if self.tail.is_empty() {
            piece
        } else {
            joined = [std::mem::take(&mut self.tail).as_slice(), piece].concat();
            &joined
        };
        match std::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => {
                self.tail = bytes[e.valid_up_to()..].to_vec();
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_text(pieces: &[&[u8]]) -> bool {
        let mut check = TextCheck::default();
        pieces.iter().all(|piece| check.continues(piece))
    }

    #[test]
    fn text_in_any_script_is_not_binary_and_nul_or_invalid_utf8_is() {
        assert!(is_text(&[b"{\"ok\": true}\n"]));
        assert!(is_text(&["grüße, 世界".as_bytes()]));
        // A character cut between two reads is text still.
        let world = "世界".as_bytes();
        assert!(is_text(&[&world[..1], &world[1..4], &world[4..]]));
        assert!(!is_text(&[b"PK\x03\x04\x00\x00"]));
        assert!(!is_text(&[b"\x89PNG\r\n\x1a\n"]));
        assert!(!is_text(&[b"caf\xe9 latin-1"]));
        // Text first, binary later: caught in the later read.
        assert!(!is_text(&[b"%PDF-1.7\n", b"\x00\xe9\xff"]));
    }

    #[test]
    fn a_body_that_turns_binary_stops_before_the_binary_read() {
        /// Gives its pieces one read at a time.
        struct Pieces(Vec<&'static [u8]>);
        impl Read for Pieces {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Ok(0);
                }
                let piece = self.0.remove(0);
                buf[..piece.len()].copy_from_slice(piece);
                Ok(piece.len())
            }
        }
        let mut out = Vec::new();
        let mut body = Pieces(vec![b"%PDF-1.7\n", b"\x00\xe9\xff", b"more"]);
        assert!(copy(&mut body, &mut out, "writing", true).is_err());
        assert_eq!(out, b"%PDF-1.7\n", "the text before it only");
    }

    #[test]
    fn a_binary_body_is_refused_only_when_asked_and_nothing_is_written() {
        let body = b"\x89PNG\r\n\x1a\n\x00\x00";
        let mut out = Vec::new();
        let refused = copy(&mut &body[..], &mut out, "writing", true);
        assert!(refused.is_err_and(|e| e.to_string().contains("-o FILE")));
        assert!(out.is_empty());
        copy(&mut &body[..], &mut out, "writing", false)
            .map_err(|e| e.to_string())
            .ok();
        assert_eq!(out, body);
        let mut text = Vec::new();
        assert!(copy(&mut &b"hello"[..], &mut text, "writing", true).is_ok());
        assert_eq!(text, b"hello");
    }
}
