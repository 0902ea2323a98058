//! `hcx get`: one request, its body to stdout or a file, its lifecycle with `-v`.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use hcx::Error;

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
    let response = client.execute(template.request())?;
    let mut body = response.into_body();
    match &args.output {
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
/// write (the output's). With `refuse_binary`, a body whose first read looks binary
/// is not written.
fn copy(
    body: &mut impl Read,
    out: &mut impl Write,
    writing: &str,
    refuse_binary: bool,
) -> Result<(), CliError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut first = true;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(e).into()),
        };
        if std::mem::take(&mut first) && refuse_binary && looks_binary(&buf[..n]) {
            return Err(CliError::Other(
                "the body looks binary and stdout is a terminal: not written \
                 (save it with -o FILE, or pipe it)"
                    .into(),
            ));
        }
        out.write_all(&buf[..n])
            .map_err(|e| CliError::io(writing, e))?;
    }
    out.flush().map_err(|e| CliError::io(writing, e))
}

/// Whether the start of a body is binary rather than text: a NUL byte, or bytes that
/// are not UTF-8 (a sequence cut off at the end of the read does not count).
fn looks_binary(start: &[u8]) -> bool {
    start.contains(&0) || std::str::from_utf8(start).is_err_and(|e| e.error_len().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_any_script_is_not_binary_and_nul_or_invalid_utf8_is() {
        assert!(!looks_binary(b"{\"ok\": true}\n"));
        assert!(!looks_binary("grüße, 世界".as_bytes()));
        // A character cut off by the end of the read is text still.
        assert!(!looks_binary(&"é".as_bytes()[..1]));
        assert!(looks_binary(b"PK\x03\x04\x00\x00"));
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n"));
        assert!(looks_binary(b"caf\xe9 latin-1"));
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
