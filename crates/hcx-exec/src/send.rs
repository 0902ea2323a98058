//! Writing the request: the head, then the body, through the codec's framing.

use std::io::{self, Read};
use std::time::Duration;

use hcx_h1::{BodyEncoder, EncodeError};

use crate::body::Source;
use crate::connection::Connection;
use crate::error::{Error, Kind};

/// Bytes bodies up to this size go out in the same write as the head.
const COALESCE_LIMIT: usize = 64 * 1024;
/// How much of a reader body is read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Writes `out` (the encoded head, or nothing when the head already went) followed by
/// the framed body.
pub(crate) fn send_body(
    conn: &mut Connection,
    mut out: Vec<u8>,
    mut encoder: BodyEncoder,
    source: Source,
) -> Result<(), Error> {
    let timeout = conn.timeout();
    let write = |conn: &mut Connection, bytes: &[u8]| {
        conn.write_all(bytes).map_err(|e| write_error(e, timeout))
    };
    match source {
        Source::Bytes(bytes) if out.len() + bytes.len() <= COALESCE_LIMIT => {
            encoder.encode(&bytes, &mut out).map_err(encode_error)?;
            encoder.finish(&mut out).map_err(encode_error)?;
            write(conn, &out)
        }
        Source::Bytes(bytes) => {
            let frame = encoder.frame(bytes.len()).map_err(encode_error)?;
            out.extend_from_slice(frame.prefix());
            write(conn, &out)?;
            write(conn, &bytes)?;
            out.clear();
            out.extend_from_slice(frame.suffix());
            encoder.finish(&mut out).map_err(encode_error)?;
            write(conn, &out)
        }
        Source::Reader(mut reader) => {
            let mut chunk = vec![0u8; READ_CHUNK];
            loop {
                // A sized body never reads past its length.
                let room = encoder
                    .remaining()
                    .map_or(READ_CHUNK, |left| left.min(READ_CHUNK as u64) as usize);
                if room == 0 {
                    break;
                }
                let n = match reader.read(&mut chunk[..room]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(Error::new(
                            Kind::Io,
                            format!("reading the request body failed: {e}"),
                        )
                        .with_source(e));
                    }
                };
                // A `Read` that breaks its contract is the caller's bug, reported, not
                // a panic.
                let Some(read) = chunk[..room].get(..n) else {
                    return Err(Error::new(
                        Kind::Io,
                        format!("the request body reader claimed {n} bytes read into {room}"),
                    ));
                };
                encoder.encode(read, &mut out).map_err(encode_error)?;
                if out.len() >= READ_CHUNK {
                    write(conn, &out)?;
                    out.clear();
                }
            }
            encoder.finish(&mut out).map_err(encode_error)?;
            write(conn, &out)
        }
    }
}

/// Writes the head alone (before waiting for `100 Continue`).
pub(crate) fn send_head(conn: &mut Connection, head: &[u8]) -> Result<(), Error> {
    let timeout = conn.timeout();
    conn.write_all(head).map_err(|e| write_error(e, timeout))
}

/// The body broke its own framing while being sent (a sized reader that ended short
/// or ran long). The head and part of the body are out, so this is an I/O failure of
/// the exchange, not an invalid request (which promises nothing was sent). The
/// connection is discarded.
fn encode_error(e: EncodeError) -> Error {
    Error::new(
        Kind::Io,
        format!("the request body did not match its framing while being sent: {e}"),
    )
    .with_source(e)
}

/// A write that fails because the server went away means no response will come:
/// the retry layer treats it like a close before any response byte.
fn write_error(e: io::Error, timeout: Option<Duration>) -> Error {
    if is_gone(&e) {
        Error::new(
            Kind::ClosedBeforeResponse,
            format!("connection closed by the server while sending the request: {e}"),
        )
        .with_source(e)
    } else {
        Error::exchange_io(e, "sending the request", timeout)
    }
}

/// The peer closed or reset the connection.
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}
