//! Request bodies: empty, bytes, or a reader of known or unknown length.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use hcx_h1::RequestFraming;
use http::Method;

type BoxReader = Box<dyn Read + Send + 'static>;
type Factory = Arc<dyn Fn() -> io::Result<BoxReader> + Send + Sync + 'static>;

/// A request body. Apache HttpClient calls this an `HttpEntity`.
///
/// - empty ([`Body::empty`], the default);
/// - bytes (`Bytes`, `String`, `Vec<u8>`, `&'static str`, `&'static [u8]`), sent
///   with `Content-Length`;
/// - a reader of known length ([`Body::sized_reader`], `Content-Length`) or unknown
///   length ([`Body::reader`], chunked);
/// - a factory of readers ([`Body::from_factory`]), which can be sent again.
///
/// It is `Send`, not `Sync` (a reader body holds a `Read + Send`): a request is built
/// and sent by one thread at a time.
///
/// [`is_replayable`](Self::is_replayable) says whether it can be sent twice (the retry
/// and redirect layers need to know); [`try_clone`](Self::try_clone) makes the copy.
#[doc(alias("HttpEntity", "StringEntity", "ByteArrayEntity", "InputStreamEntity"))]
pub struct Body {
    kind: BodyKind,
}

enum BodyKind {
    Empty,
    Bytes(Bytes),
    Reader { reader: BoxReader, len: Option<u64> },
    Factory { factory: Factory, len: Option<u64> },
}

impl Body {
    /// No body.
    pub fn empty() -> Self {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A body read from `reader` to its end, sent chunked (its length is unknown).
    /// Not replayable.
    pub fn reader(reader: impl Read + Send + 'static) -> Self {
        Body {
            kind: BodyKind::Reader {
                reader: Box::new(reader),
                len: None,
            },
        }
    }

    /// A body of exactly `len` bytes read from `reader`, sent with `Content-Length`. A
    /// reader that ends early, or has more than `len` bytes, fails the request with
    /// [`ErrorKind::RequestBody`] before the body's last bytes go out (the connection
    /// is closed). To find a reader with more, it is read once past `len` before the
    /// last bytes go out: a socket or pipe relayed as the body that holds exactly `len`
    /// bytes and stays open blocks there (Apache's `InputStreamEntity` never reads
    /// past its length); give `reader.take(len)` for such a source, or to send part of
    /// a reader. Not replayable, unless `len` is 0: there is nothing to read again, and
    /// a copy is an empty body.
    ///
    /// [`ErrorKind::RequestBody`]: crate::ErrorKind::RequestBody
    pub fn sized_reader(reader: impl Read + Send + 'static, len: u64) -> Self {
        Body {
            kind: BodyKind::Reader {
                reader: Box::new(reader),
                len: Some(len),
            },
        }
    }

    /// A body made by calling `factory` each time it is sent: replayable. `len` is its
    /// length if known (`Content-Length`; each reader must give exactly that many
    /// bytes, as with [`sized_reader`](Self::sized_reader)), else it is sent chunked.
    pub fn from_factory<F, R>(len: Option<u64>, factory: F) -> Self
    where
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
        R: Read + Send + 'static,
    {
        let factory: Factory = Arc::new(move || Ok(Box::new(factory()?) as BoxReader));
        Body {
            kind: BodyKind::Factory { factory, len },
        }
    }

    /// Whether the body can be sent again: empty, bytes and factory bodies can; a
    /// plain reader cannot, unless it is declared empty.
    pub fn is_replayable(&self) -> bool {
        match self.kind {
            BodyKind::Reader { len, .. } => len == Some(0),
            _ => true,
        }
    }

    /// A copy to send again, if replayable (of a reader declared empty: an empty
    /// body).
    pub fn try_clone(&self) -> Option<Body> {
        let kind = match &self.kind {
            BodyKind::Empty | BodyKind::Reader { len: Some(0), .. } => BodyKind::Empty,
            BodyKind::Bytes(b) => BodyKind::Bytes(b.clone()),
            BodyKind::Factory { factory, len } => BodyKind::Factory {
                factory: Arc::clone(factory),
                len: *len,
            },
            BodyKind::Reader { .. } => return None,
        };
        Some(Body { kind })
    }

    /// The length, when known (`Some(0)` for an empty body).
    pub fn content_length(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Bytes(b) => Some(b.len() as u64),
            BodyKind::Reader { len, .. } | BodyKind::Factory { len, .. } => *len,
        }
    }

    /// Whether it is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.content_length() == Some(0)
    }

    /// The framing of this body in a `method` request.
    pub(crate) fn framing(&self, method: &Method) -> RequestFraming {
        match self.content_length() {
            Some(0) => RequestFraming::empty_body(method),
            Some(n) => RequestFraming::Length(n),
            None => RequestFraming::Chunked,
        }
    }

    /// The body's bytes as a reader (a factory body's reader is made now, and may fail
    /// as the factory does): for a layer or interceptor of your own that must see them,
    /// to sign or log them, say. Apache: `HttpEntity.getContent()`.
    #[doc(alias("getContent"))]
    pub fn into_reader(self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self.into_source()? {
            Source::Bytes(b) => Box::new(io::Cursor::new(b)),
            Source::Reader(reader) => reader,
        })
    }

    /// The body as what the sender writes.
    pub(crate) fn into_source(self) -> io::Result<Source> {
        Ok(match self.kind {
            BodyKind::Empty => Source::Bytes(Bytes::new()),
            BodyKind::Bytes(b) => Source::Bytes(b),
            BodyKind::Reader { reader, .. } => Source::Reader(reader),
            BodyKind::Factory { factory, .. } => Source::Reader(factory()?),
        })
    }
}

/// What MainExec writes.
pub(crate) enum Source {
    Bytes(Bytes),
    Reader(BoxReader),
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        if b.is_empty() {
            return Body::empty();
        }
        Body {
            kind: BodyKind::Bytes(b),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(s))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body::Empty"),
            BodyKind::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            BodyKind::Reader { len, .. } => write!(f, "Body::Reader(length {len:?})"),
            BodyKind::Factory { len, .. } => write!(f, "Body::Factory(length {len:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_factories_replay_readers_do_not() {
        assert!(Body::from("hello").is_replayable());
        assert!(Body::empty().is_replayable());
        assert!(!Body::reader(io::empty()).is_replayable());
        assert!(Body::reader(io::empty()).try_clone().is_none());
        assert!(!Body::sized_reader(io::empty(), 1).is_replayable());
        // Declared empty: nothing to read again.
        let empty = Body::sized_reader(io::empty(), 0);
        assert!(empty.is_replayable());
        assert_eq!(empty.try_clone().map(|b| b.is_empty()), Some(true));
        let factory = Body::from_factory(Some(3), || Ok(io::Cursor::new(b"abc".to_vec())));
        assert!(factory.is_replayable());
        assert_eq!(
            factory.try_clone().and_then(|b| b.content_length()),
            Some(3)
        );
    }

    #[test]
    fn framing_follows_the_length() {
        assert_eq!(
            Body::from(String::from("abc")).framing(&Method::PUT),
            RequestFraming::Length(3)
        );
        assert_eq!(
            Body::empty().framing(&Method::POST),
            RequestFraming::Length(0)
        );
        assert_eq!(Body::empty().framing(&Method::GET), RequestFraming::None);
        assert_eq!(
            Body::from(Vec::new()).framing(&Method::GET),
            RequestFraming::None
        );
        assert_eq!(
            Body::reader(io::empty()).framing(&Method::POST),
            RequestFraming::Chunked
        );
        assert_eq!(
            Body::sized_reader(io::empty(), 9).framing(&Method::POST),
            RequestFraming::Length(9)
        );
    }
}
