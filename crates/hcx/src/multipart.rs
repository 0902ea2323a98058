//! `multipart/form-data` bodies (RFC 7578), as an HTML form with files sends them:
//! Apache's `MultipartEntityBuilder`.
//!
//! A [`Form`] is a list of named parts, text, bytes or files, each written as
//! browsers write it (a `Content-Disposition` with the name and, for files, the file
//! name; a `Content-Type` for files and bytes), between boundaries of a random string.
//! Its length is known up front, so it goes with `Content-Length`, and it is
//! replayable. A file of more than 4 KiB is opened each time the body is sent (a
//! redirect that keeps the method, a retry), and one whose size changed since it was
//! added fails the request with [`ErrorKind::RequestBody`](crate::ErrorKind::RequestBody)
//! rather than send something else than the length said; a file of at most 4 KiB is
//! read when it is added and sent as it was then.
//!
//! ```
//! use hcx::RequestBuilderExt;
//! use hcx::multipart::{Form, Part};
//!
//! let form = Form::new()
//!     .text("title", "holiday")
//!     .part("photo", Part::bytes(vec![0xff, 0xd8]).file_name("a.jpg").mime_str("image/jpeg"));
//! let boundary = form.boundary().to_owned();
//! let request = http::Request::post("http://example.com/upload").multipart(form)?;
//! assert_eq!(
//!     request.headers()["content-type"],
//!     format!("multipart/form-data; boundary={boundary}").as_str()
//! );
//! assert!(request.body().is_replayable());
//! # Ok::<(), http::Error>(())
//! ```

use std::collections::hash_map::RandomState;
use std::fmt::Write as _;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::Body;

/// The parts of a `multipart/form-data` body. Apache: `MultipartEntityBuilder`.
#[derive(Clone)]
#[doc(alias("MultipartEntityBuilder", "HttpMultipartMode"))]
pub struct Form {
    boundary: String,
    parts: Vec<(String, Part)>,
}

/// One part of a [`Form`]: its content and how it is described. Apache:
/// `StringBody`, `ByteArrayBody`, `FileBody`.
#[derive(Clone)]
#[doc(alias("StringBody", "ByteArrayBody", "FileBody", "FormBodyPart"))]
pub struct Part {
    source: Source,
    file_name: Option<String>,
    content_type: Option<String>,
}

/// Files of at most this many bytes are read when added.
const READ_NOW: u64 = 4096;

#[derive(Clone, Debug)]
enum Source {
    Bytes(Bytes),
    File { path: PathBuf, len: u64 },
}

impl Part {
    /// A text value, written as is (UTF-8), without a `Content-Type` (a form field).
    pub fn text(value: impl Into<String>) -> Part {
        Part {
            source: Source::Bytes(Bytes::from(value.into())),
            file_name: None,
            content_type: None,
        }
    }

    /// Bytes, as `application/octet-stream` unless [`mime_str`](Self::mime_str) says
    /// otherwise.
    pub fn bytes(data: impl Into<Bytes>) -> Part {
        Part {
            source: Source::Bytes(data.into()),
            file_name: None,
            content_type: Some("application/octet-stream".to_owned()),
        }
    }

    /// The file at `path`, as `application/octet-stream` under its own file name
    /// unless told otherwise. Its length is read now; the file is opened each time
    /// the body is sent. A file of at most 4 KiB is read now instead (`/proc` and
    /// `/sys` files report sizes that are not theirs). An error if it cannot be read.
    pub fn file(path: impl AsRef<Path>) -> io::Result<Part> {
        let path = path.as_ref();
        let metadata = std::fs::metadata(path)?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a file", path.display()),
            ));
        }
        // A small file is read now: procfs and sysfs files say a size (0, 4096) that
        // is not what a read gives, and a few KiB in memory cost nothing.
        let source = if metadata.len() <= READ_NOW {
            Source::Bytes(Bytes::from(std::fs::read(path)?))
        } else {
            Source::File {
                path: path.to_owned(),
                len: metadata.len(),
            }
        };
        Ok(Part {
            source,
            file_name: path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned()),
            content_type: Some("application/octet-stream".to_owned()),
        })
    }

    /// The file name the part is sent under (`filename=` in its
    /// `Content-Disposition`).
    #[must_use]
    pub fn file_name(mut self, name: impl Into<String>) -> Part {
        self.file_name = Some(name.into());
        self
    }

    /// Its `Content-Type`, such as `image/png` or `text/plain; charset=UTF-8`. CR and
    /// LF are taken out (they would end the field).
    #[must_use]
    pub fn mime_str(mut self, content_type: &str) -> Part {
        self.content_type = Some(content_type.replace(['\r', '\n'], ""));
        self
    }

    fn len(&self) -> u64 {
        match &self.source {
            Source::Bytes(b) => b.len() as u64,
            Source::File { len, .. } => *len,
        }
    }
}

impl Default for Form {
    fn default() -> Self {
        Form::new()
    }
}

impl Form {
    /// An empty form with a boundary of its own: `hcx-` and 32 random hex digits.
    pub fn new() -> Form {
        Form {
            boundary: random_boundary(),
            parts: Vec::new(),
        }
    }

    /// Adds a text field. Apache: `addTextBody`.
    #[must_use]
    #[doc(alias("addTextBody"))]
    pub fn text(self, name: impl Into<String>, value: impl Into<String>) -> Form {
        self.part(name, Part::text(value))
    }

    /// Adds the file at `path` ([`Part::file`]). Apache: `addBinaryBody(name, file)`.
    #[doc(alias("addBinaryBody"))]
    pub fn file(self, name: impl Into<String>, path: impl AsRef<Path>) -> io::Result<Form> {
        Ok(self.part(name, Part::file(path)?))
    }

    /// Adds `part` under `name`. Apache: `addPart`.
    #[must_use]
    #[doc(alias("addPart"))]
    pub fn part(mut self, name: impl Into<String>, part: Part) -> Form {
        self.parts.push((name.into(), part));
        self
    }

    /// The boundary between the parts.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// `multipart/form-data; boundary=…`, the request's `Content-Type`.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's length in bytes (files at the length they had when added).
    pub fn content_length(&self) -> u64 {
        self.pieces().iter().map(Piece::len).sum()
    }

    /// The body: bytes when every part is in memory, else read part by part each time
    /// it is sent; sized and replayable either way.
    pub fn into_body(self) -> Body {
        let pieces = self.pieces();
        if pieces.iter().all(|p| matches!(p, Piece::Bytes(_))) {
            let mut all = Vec::with_capacity(pieces.iter().map(Piece::len).sum::<u64>() as usize);
            for piece in &pieces {
                if let Piece::Bytes(b) = piece {
                    all.extend_from_slice(b);
                }
            }
            return Body::from(all);
        }
        let len = pieces.iter().map(Piece::len).sum();
        let pieces: Arc<[Piece]> = pieces.into();
        Body::from_factory(Some(len), move || {
            Ok(PiecesReader {
                pieces: Arc::clone(&pieces),
                next: 0,
                current: None,
            })
        })
    }

    /// The body as a list of byte runs and files.
    fn pieces(&self) -> Vec<Piece> {
        let mut pieces = Vec::with_capacity(self.parts.len() * 3 + 1);
        for (name, part) in &self.parts {
            let mut head = format!(
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
                self.boundary,
                escape(name)
            );
            if let Some(file_name) = &part.file_name {
                let _ = write!(head, "; filename=\"{}\"", escape(file_name));
            }
            head.push_str("\r\n");
            if let Some(content_type) = &part.content_type {
                let _ = write!(head, "Content-Type: {content_type}\r\n");
            }
            head.push_str("\r\n");
            pieces.push(Piece::Bytes(Bytes::from(head)));
            pieces.push(match &part.source {
                Source::Bytes(b) => Piece::Bytes(b.clone()),
                Source::File { path, len } => Piece::File {
                    path: path.clone(),
                    len: *len,
                },
            });
            debug_assert_eq!(pieces.last().map(Piece::len), Some(part.len()));
            pieces.push(Piece::Bytes(Bytes::from_static(b"\r\n")));
        }
        pieces.push(Piece::Bytes(Bytes::from(format!(
            "--{}--\r\n",
            self.boundary
        ))));
        pieces
    }
}

/// Names and lengths, not contents: a field may be a password.
impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("boundary", &self.boundary)
            .field("parts", &self.parts)
            .finish()
    }
}

/// Its length and how it is described, not its content.
impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Part");
        match &self.source {
            Source::Bytes(b) => s.field("bytes", &b.len()),
            Source::File { path, len } => s.field("file", path).field("bytes", len),
        };
        s.field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// A name or file name inside quotes, as browsers write it (the HTML standard's
/// form-data encoding): `"`, CR and LF as `%22`, `%0D`, `%0A`.
fn escape(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `hcx-` and 32 hex digits from the standard library's per-process random keys (the
/// ones `HashMap` uses against flooding), mixed with a counter.
fn random_boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::from("hcx-");
    for salt in 0..2u64 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_u64(salt);
        let _ = write!(out, "{:016x}", hasher.finish());
    }
    out
}

#[derive(Debug)]
enum Piece {
    Bytes(Bytes),
    File { path: PathBuf, len: u64 },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }
}

/// Reads the pieces in turn; a file must hold exactly the length it had when added.
struct PiecesReader {
    pieces: Arc<[Piece]>,
    next: usize,
    current: Option<Current>,
}

enum Current {
    Bytes(Bytes),
    File {
        file: File,
        left: u64,
        path: PathBuf,
    },
}

impl Read for PiecesReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let current = match &mut self.current {
                Some(current) => current,
                None => {
                    let Some(piece) = self.pieces.get(self.next) else {
                        return Ok(0);
                    };
                    self.next += 1;
                    self.current.insert(match piece {
                        Piece::Bytes(b) => Current::Bytes(b.clone()),
                        Piece::File { path, len } => Current::File {
                            // The error names the file, as `changed` does.
                            file: File::open(path).map_err(|e| {
                                io::Error::new(
                                    e.kind(),
                                    format!("{} could not be opened: {e}", path.display()),
                                )
                            })?,
                            left: *len,
                            path: path.clone(),
                        },
                    })
                }
            };
            match current {
                Current::Bytes(b) => {
                    if b.is_empty() {
                        self.current = None;
                        continue;
                    }
                    let n = b.len().min(buf.len());
                    buf[..n].copy_from_slice(&b.split_to(n));
                    return Ok(n);
                }
                Current::File { file, left, path } => {
                    if *left == 0 {
                        // The file must end where its length said.
                        if file.read(&mut [0u8; 1])? != 0 {
                            return Err(changed(path));
                        }
                        self.current = None;
                        continue;
                    }
                    let want = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                    let n = file.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(changed(path));
                    }
                    *left -= n as u64;
                    return Ok(n);
                }
            }
        }
    }
}

fn changed(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} changed size since it was added to the form",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_boundary(boundary: &str) -> Form {
        Form {
            boundary: boundary.to_owned(),
            parts: Vec::new(),
        }
    }

    fn read_all(body: Body) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut reader = body.into_reader()?;
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn parts_are_written_as_browsers_write_them() -> io::Result<()> {
        let form = with_boundary("XyZ")
            .text("a \"quoted\"\r\nname", "välue")
            .part(
                "f",
                Part::bytes(&b"\x00\x01"[..])
                    .file_name("r\u{e9}sum\u{e9}.bin")
                    .mime_str("application/x-thing\r\nX-Evil: 1"),
            );
        let expected = "--XyZ\r\nContent-Disposition: form-data; name=\"a %22quoted%22%0D%0Aname\"\r\n\r\n\
                        välue\r\n\
                        --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"résumé.bin\"\r\n\
                        Content-Type: application/x-thingX-Evil: 1\r\n\r\n\x00\x01\r\n\
                        --XyZ--\r\n";
        assert_eq!(form.content_length(), expected.len() as u64);
        let body = form.into_body();
        assert_eq!(body.content_length(), Some(expected.len() as u64));
        assert_eq!(read_all(body)?, expected.as_bytes());
        Ok(())
    }

    #[test]
    fn debug_shows_names_and_lengths_not_contents() {
        let form = with_boundary("b").text("password", "hunter2");
        let shown = format!("{form:?}");
        assert!(
            shown.contains("password") && shown.contains("bytes: 7"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn an_empty_form_is_its_closing_boundary_and_boundaries_differ() -> io::Result<()> {
        assert_eq!(read_all(with_boundary("b").into_body())?, b"--b--\r\n");
        let (one, two) = (Form::new(), Form::new());
        assert_ne!(one.boundary(), two.boundary());
        assert_eq!(one.boundary().len(), 36);
        assert!(one.boundary()[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        Ok(())
    }

    #[test]
    fn a_file_is_read_each_time_and_must_keep_its_size() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("hcx-multipart-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("data.txt");
        let data = vec![b'x'; 5000];
        std::fs::write(&path, &data)?;
        let form = with_boundary("B").file("doc", &path)?;
        let body = form.into_body();
        let again = body
            .try_clone()
            .ok_or_else(|| io::Error::other("not replayable"))?;
        let mut expected =
            b"--B\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"data.txt\"\r\n\
                        Content-Type: application/octet-stream\r\n\r\n"
                .to_vec();
        expected.extend_from_slice(&data);
        expected.extend_from_slice(b"\r\n--B--\r\n");
        assert_eq!(read_all(body)?, expected);
        std::fs::write(&path, vec![b'x'; 5001])?;
        let grown = read_all(again.try_clone().ok_or_else(|| io::Error::other("clone"))?);
        assert_eq!(grown.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidData));
        std::fs::write(&path, vec![b'x'; 4999])?;
        let shrunk = read_all(again);
        assert_eq!(
            shrunk.map_err(|e| e.kind()),
            Err(io::ErrorKind::InvalidData)
        );
        // A small file is read when added: what a later send carries.
        std::fs::write(&path, b"12345")?;
        let small = with_boundary("B").file("doc", &path)?.into_body();
        std::fs::write(&path, b"changed")?;
        assert!(read_all(small)?.windows(5).any(|w| w == b"12345"));
        // A /proc file (size 0, content not) is sent as read.
        let proc_part = Part::file("/proc/self/cmdline");
        if let Ok(part) = proc_part {
            assert!(read_all(with_boundary("B").part("p", part).into_body()).is_ok());
        }
        assert!(Part::file(&dir).is_err(), "a directory is not a file");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
