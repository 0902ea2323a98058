//! Writing a request head: request line, `Host`, the caller's fields, framing fields.

use http::header::{
    CONNECTION, CONTENT_LENGTH, EXPECT, HOST, PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, Version};

use crate::encode::{
    BodyEncoder, EncodeError, OutBuf, RequestFraming, TargetForm, forbidden_value_byte,
};
use crate::fields;
use crate::syntax::{AuthorityParts, authority_parts, parse_port};

/// The parts of a request the head encoder reads; borrowed from an
/// [`http::Request`] or [`http::request::Parts`].
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URI; its authority makes the `Host` field when there is none.
    pub uri: &'a Uri,
    /// HTTP/1.1 or HTTP/1.0.
    pub version: Version,
    /// The caller's header fields.
    pub headers: &'a HeaderMap,
    /// Fields written after the caller's, each only when `headers` has no field of
    /// that name: a client's defaults (`User-Agent`, `Accept-Encoding`) sent without
    /// first adding them to the caller's map. Empty from the `From` conversions. Each
    /// is written as is, so none may be a field the encoder decides itself (`Host`,
    /// `Content-Length`, `Transfer-Encoding`, `Connection`, `Expect`,
    /// `Proxy-Authorization`): [`EncodeError::ReservedDefault`].
    pub defaults: &'a [(HeaderName, HeaderValue)],
}

impl<'a, B> From<&'a http::Request<B>> for RequestHead<'a> {
    fn from(request: &'a http::Request<B>) -> Self {
        RequestHead {
            method: request.method(),
            uri: request.uri(),
            version: request.version(),
            headers: request.headers(),
            defaults: &[],
        }
    }
}

impl<'a> From<&'a http::request::Parts> for RequestHead<'a> {
    fn from(parts: &'a http::request::Parts) -> Self {
        RequestHead {
            method: &parts.method,
            uri: &parts.uri,
            version: parts.version,
            headers: &parts.headers,
            defaults: &[],
        }
    }
}

/// Writes a request head to `out` and returns the encoder its body must go through.
///
/// - The request line uses `form` ([`TargetForm::Origin`] unless talking to a proxy).
/// - `Host` comes first: the caller's if set (more than one is an error), else made
///   from the URI's host and port, the port left out when it is the scheme's default
///   (80 for http, 443 for https). An HTTP/1.0 request without either gets none.
/// - The caller's fields follow in order, names in lower case; in origin-form (to the
///   origin server itself, directly or through a tunnel) not `Proxy-Authorization`,
///   which is a proxy's (RFC 9110 §11.7.2) and would hand its credentials to the
///   origin.
/// - `framing` decides the framing field. The caller's own `Content-Length` or
///   `Transfer-Encoding` must agree with it, else [`EncodeError::FramingConflict`]
///   (a disagreeing length would desynchronise the connection): `Length(n)` accepts a
///   `Content-Length` of `n`, written once; `Chunked` accepts a `Transfer-Encoding`
///   list of codings ending in one `chunked` (no `identity`; a coding's parameters kept,
///   empty elements dropped), written as one field in lower case (`gzip, chunked`),
///   never as the caller's lines;
///   `None` accepts `Content-Length: 0`, which is kept.
/// - A `Connection` field naming `Content-Length`, `Transfer-Encoding` or `Host` is
///   [`EncodeError::FramingConflict`]: a proxy would drop the field it names.
/// - The request-target carries only what RFC 3986 allows: any other byte
///   `http::Uri` let through (non-ASCII, `\`, `"`, `{`…) is written `%XX`, and a `%`
///   not followed by two hex digits `%25`.
///
/// Everything is checked before the first byte is written, so on error `out` is
/// unchanged.
///
/// ```
/// use hcx_h1::{RequestFraming, TargetForm, encode_request_head};
///
/// let request = http::Request::post("http://example.com:8080/upload?x=1")
///     .header("content-type", "text/plain")
///     .body(())?;
/// let mut out = Vec::new();
/// let mut body = encode_request_head(&request, TargetForm::Origin, RequestFraming::Chunked, &mut out)?;
/// body.encode(b"hello", &mut out)?;
/// body.finish(&mut out)?;
/// assert_eq!(
///     String::from_utf8(out)?,
///     "POST /upload?x=1 HTTP/1.1\r\nhost: example.com:8080\r\ncontent-type: text/plain\r\n\
///      transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_request_head<'a>(
    head: impl Into<RequestHead<'a>>,
    form: TargetForm,
    framing: RequestFraming,
    out: &mut impl OutBuf,
) -> Result<BodyEncoder, EncodeError> {
    let head = head.into();
    // With the space before it and the line's end.
    let version: &[u8] = match head.version {
        Version::HTTP_11 => b" HTTP/1.1\r\n",
        Version::HTTP_10 => b" HTTP/1.0\r\n",
        other => return Err(EncodeError::UnsupportedVersion(other)),
    };
    // The authority split once: the target's zone check and port, and `Host`.
    let authority = head.uri.authority().map_or("", |a| a.as_str());
    let parts = authority_parts(authority);
    let target = Target::new(head.method, head.uri, form, &parts)?;
    let mut scan = FieldScan::of(head.headers)?;
    scan.defaults(head.headers, head.defaults)?;
    let host = host_field(&head, form, scan.hosts, authority, &parts)?;
    let framing = check_framing(&head, framing, &scan)?;

    // Everything is valid: write.
    let estimate = 64
        + head.uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + match host {
            HostField::Derived(host) => host.len(),
            HostField::Caller | HostField::Omitted => 0,
        }
        + scan.bytes;
    out.reserve_more(estimate);
    out.put(head.method.as_str().as_bytes());
    out.put(b" ");
    target.write(out);
    out.put(version);
    match host {
        HostField::Caller | HostField::Omitted => {}
        HostField::Derived(host) => {
            out.put(b"host: ");
            out.put(host.as_bytes());
            out.put(b"\r\n");
        }
    }
    // RFC 9110 §7.2: Host should be the first field.
    if scan.hosts > 0
        && let Some(value) = head.headers.get(HOST)
    {
        write_field(out, HOST.as_str(), value);
    }
    // RFC 9110 §10.1.1: no 100-continue expectation on a request without content, nor
    // on an HTTP/1.0 one (its server must ignore it, and a client would wait for
    // nothing).
    let keep_expectation =
        crate::call::keeps_continue_expectation(head.version, framing.has_content());
    let to_origin = form == TargetForm::Origin;
    for (name, value) in head.headers {
        if name == HOST
            || name == CONTENT_LENGTH
            || name == TRANSFER_ENCODING
            || (to_origin && name == PROXY_AUTHORIZATION)
            || (name == EXPECT
                && !keep_expectation
                && value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        {
            continue;
        }
        write_field(out, name.as_str(), value);
    }
    if scan.defaults > 0 {
        // Every default when the scan found none in the caller's map (the usual
        // case): no second lookup of each name.
        let every = scan.defaults == head.defaults.len();
        for (name, value) in head.defaults {
            if every || !head.headers.contains_key(name) {
                write_field(out, name.as_str(), value);
            }
        }
    }
    match framing {
        RequestFraming::None => {}
        RequestFraming::Length(n) => {
            out.put(b"content-length: ");
            out.put(n.to_string().as_bytes());
            out.put(b"\r\n");
        }
        RequestFraming::Chunked if scan.transfer_encoding => {
            // The caller's list, checked in `check_framing`, as one field in one form.
            if let Some(codings) = canonical_transfer_encoding(head.headers) {
                out.put(b"transfer-encoding: ");
                out.put(codings.as_bytes());
                out.put(b"\r\n");
            }
        }
        RequestFraming::Chunked => out.put(b"transfer-encoding: chunked\r\n"),
    }
    out.put(b"\r\n");
    Ok(BodyEncoder::new(framing))
}

fn write_field(out: &mut impl OutBuf, name: &str, value: &HeaderValue) {
    out.put(name.as_bytes());
    out.put(b": ");
    out.put(value.as_bytes());
    out.put(b"\r\n");
}

/// The request target, checked, ready to write.
enum Target<'u> {
    Asterisk,
    Origin(&'u str),
    Absolute {
        scheme: &'u str,
        host: &'u str,
        port: Option<u16>,
        /// `None` for a server-wide `OPTIONS *`: no path at all.
        path: Option<&'u str>,
    },
    Authority {
        host: &'u str,
        port: u16,
    },
}

impl<'u> Target<'u> {
    /// `parts` is `uri`'s authority (empty without one) split by [`authority_parts`].
    fn new(
        method: &Method,
        uri: &'u Uri,
        form: TargetForm,
        parts: &AuthorityParts<'u>,
    ) -> Result<Self, EncodeError> {
        let invalid = |reason| EncodeError::InvalidTarget {
            form,
            uri: uri.to_string(),
            reason,
        };
        let path = uri.path_and_query().map_or("", |pq| pq.as_str());
        // Only an IPv6 literal (`[…]`) can carry a zone. Read from the raw authority:
        // `Uri::host` splits it, hundreds of instructions a request.
        if parts.zone {
            // RFC 6874 §4: a zone identifier only means something on this host.
            return Err(invalid("an IPv6 zone identifier is not sent (RFC 6874)"));
        }
        // `Uri::port_u16` reads a port beyond 65535 as none at all: the target would
        // name port 80 or the scheme's default instead of failing. The `Host` check
        // catches it only when the host is derived, not with the caller's own field.
        // Only the forms that write a port look (origin-form requests stay as cheap).
        let port = || match parts.port {
            None | Some("") => Ok(None),
            Some(digits) => parse_port(digits)
                .map(Some)
                .ok_or_else(|| invalid("the port is not a number from 0 to 65535")),
        };
        if *method == Method::CONNECT && form != TargetForm::Authority {
            // RFC 9112 §3.2.3: CONNECT names host:port, and only CONNECT does.
            return Err(invalid("CONNECT needs the authority-form (host:port)"));
        }
        match form {
            TargetForm::Origin if path == "*" => {
                if method == Method::OPTIONS {
                    Ok(Target::Asterisk)
                } else {
                    Err(invalid("the asterisk-form \"*\" is only for OPTIONS"))
                }
            }
            TargetForm::Origin => Ok(Target::Origin(path)),
            TargetForm::Absolute => {
                let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
                    return Err(invalid("the absolute-form needs a scheme and a host"));
                };
                let path = match path {
                    // RFC 9112 §3.2.4: a server-wide OPTIONS goes to a proxy in the
                    // absolute-form with an empty path; the last proxy sends it on
                    // as "*".
                    "*" if method == Method::OPTIONS => None,
                    "*" => return Err(invalid("the asterisk-form \"*\" is only for OPTIONS")),
                    path => Some(path),
                };
                Ok(Target::Absolute {
                    scheme,
                    host,
                    port: port()?,
                    path,
                })
            }
            TargetForm::Authority => {
                let Some(host) = uri.host() else {
                    return Err(invalid("the authority-form needs a host"));
                };
                if !(path.is_empty() || path == "/") {
                    return Err(invalid("the authority-form has no path or query"));
                }
                let port = port()?
                    .or_else(|| uri.scheme_str().and_then(default_port))
                    .ok_or_else(|| invalid("the authority-form needs a port"))?;
                Ok(Target::Authority { host, port })
            }
        }
    }

    fn write(&self, out: &mut impl OutBuf) {
        match self {
            Target::Asterisk => out.put(b"*"),
            Target::Origin(path) => put_path(out, path),
            Target::Absolute {
                scheme,
                host,
                port,
                path,
            } => {
                out.put(scheme.as_bytes());
                out.put(b"://");
                out.put(host.as_bytes());
                if let Some(port) = port {
                    out.put(b":");
                    put_decimal(out, *port);
                }
                if let Some(path) = path {
                    put_path(out, path);
                }
            }
            Target::Authority { host, port } => {
                out.put(host.as_bytes());
                out.put(b":");
                put_decimal(out, *port);
            }
        }
    }
}

/// The request-target [`encode_request_head`] writes for `uri` in `form` (an empty
/// path as `/`, the absolute-form through a forward proxy, …): what a Digest answer's
/// `uri` must repeat (RFC 7616 §3.4). Errors as the encoder's.
pub fn request_target(method: &Method, uri: &Uri, form: TargetForm) -> Result<String, EncodeError> {
    let mut out = Vec::new();
    let parts = authority_parts(uri.authority().map_or("", |a| a.as_str()));
    Target::new(method, uri, form, &parts)?.write(&mut out);
    // ASCII: what is not is written %XX (`put_path`).
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn put_path(out: &mut impl OutBuf, path: &str) {
    // RFC 9112 §3.2.1: an empty path is sent as "/" (also before a bare "?query").
    if !path.starts_with('/') {
        out.put(b"/");
    }
    let bytes = path.as_bytes();
    // `%` is not in the table: a target with one takes the careful path.
    if bytes.iter().all(|&b| TARGET_BYTE[usize::from(b)]) {
        out.put(bytes);
    } else {
        put_path_escaped(out, bytes);
    }
}

/// The bytes a request-target carries as they are (RFC 3986: unreserved, sub-delims,
/// `:`, `@`, `/`, `?`; `%` only as the start of a percent-encoded byte).
const TARGET_BYTE: [bool; 256] = crate::syntax::alphanumeric_and(b"-._~!$&'()*+,;=:@/?");

/// `bytes` with every byte RFC 3986 does not allow in a request-target written as
/// `%XX` (what `http::Uri` lets through: non-ASCII, `\`, `"`, `{`, `}`, `^`, `|`…)
/// and a `%` not followed by two hex digits as `%25`: the server reads the target the
/// client meant, whatever sits in front of it.
#[cold]
fn put_path_escaped(out: &mut impl OutBuf, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for (i, &b) in bytes.iter().enumerate() {
        let escaped_already = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if escaped_already || (b != b'%' && TARGET_BYTE[usize::from(b)]) {
            out.put(&[b]);
        } else {
            out.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

/// What one pass over the caller's fields found: the framing and `Host` fields the
/// checks need (so no field is looked up by name twice), and the bytes to write.
struct FieldScan {
    hosts: usize,
    transfer_encoding: bool,
    content_length: bool,
    connection: bool,
    /// How many of the defaults are written (the caller's map has none of the name).
    defaults: usize,
    /// The fields' length as written (`name: value\r\n`), the defaults' included.
    bytes: usize,
}

impl FieldScan {
    /// Scans `headers`, failing at the first value holding a byte a field value must
    /// not carry.
    fn of(headers: &http::HeaderMap) -> Result<FieldScan, EncodeError> {
        let mut scan = FieldScan {
            hosts: 0,
            transfer_encoding: false,
            content_length: false,
            connection: false,
            defaults: 0,
            bytes: 0,
        };
        for (name, value) in headers {
            scan.bytes += line_len(name, value)?;
            if name == HOST {
                scan.hosts += 1;
            } else if name == TRANSFER_ENCODING {
                scan.transfer_encoding = true;
            } else if name == CONTENT_LENGTH {
                scan.content_length = true;
            } else if name == CONNECTION {
                scan.connection = true;
            }
        }
        Ok(scan)
    }

    /// Counts the `defaults` the caller's `headers` leave to be written, failing at
    /// one the encoder decides itself or one whose value it could not send.
    fn defaults(
        &mut self,
        headers: &HeaderMap,
        defaults: &[(HeaderName, HeaderValue)],
    ) -> Result<(), EncodeError> {
        for (name, value) in defaults {
            if name == HOST
                || name == CONTENT_LENGTH
                || name == TRANSFER_ENCODING
                || name == CONNECTION
                || name == EXPECT
                || name == PROXY_AUTHORIZATION
            {
                return Err(EncodeError::ReservedDefault(name.clone()));
            }
            // `contains_key` is a call even on an empty map (no caller fields, the
            // usual request).
            if !headers.is_empty() && headers.contains_key(name) {
                continue;
            }
            self.bytes += line_len(name, value)?;
            self.defaults += 1;
        }
        Ok(())
    }
}

/// The length of the field line `name: value\r\n`, once its value is checked for a
/// byte a field value must not carry.
fn line_len(name: &HeaderName, value: &HeaderValue) -> Result<usize, EncodeError> {
    if let Some((index, byte)) = forbidden_value_byte(value.as_bytes()) {
        return Err(EncodeError::InvalidFieldValue {
            name: name.clone(),
            byte,
            index,
        });
    }
    Ok(name.as_str().len() + value.len() + 4)
}

enum HostField<'u> {
    /// The caller's `Host` field is written as is.
    Caller,
    /// Made from the URI: its host, with `:` and the port's digits when they are not
    /// the scheme's default.
    Derived(&'u str),
    /// HTTP/1.0 without a host: none is sent.
    Omitted,
}

fn host_field<'u>(
    head: &RequestHead<'u>,
    form: TargetForm,
    hosts: usize,
    authority: &'u str,
    parts: &AuthorityParts<'u>,
) -> Result<HostField<'u>, EncodeError> {
    match hosts {
        0 => {}
        1 => return Ok(HostField::Caller),
        n => return Err(EncodeError::DuplicateHost(n)),
    }
    let (host, port) = (parts.host, parts.port);
    if host.is_empty() {
        return if head.version == Version::HTTP_10 {
            Ok(HostField::Omitted)
        } else {
            Err(EncodeError::MissingHost)
        };
    }
    match port {
        None | Some("") => Ok(HostField::Derived(host)),
        Some(digits) => {
            let Some(number) = parse_port(digits) else {
                return Err(EncodeError::InvalidTarget {
                    form,
                    uri: head.uri.to_string(),
                    reason: "the port is not a number from 0 to 65535",
                });
            };
            // Only 80 and 443 can be a scheme's default: other ports skip the
            // scheme's case-insensitive comparison.
            if matches!(number, 80 | 443)
                && head.uri.scheme_str().and_then(default_port) == Some(number)
            {
                return Ok(HostField::Derived(host));
            }
            // The port's digits run to the authority's end, right after the host and
            // its colon: `host:port` is written as one piece of the authority.
            let with_port = authority.len() - (host.len() + 1 + digits.len());
            Ok(HostField::Derived(&authority[with_port..]))
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        s if s.eq_ignore_ascii_case("http") => Some(80),
        s if s.eq_ignore_ascii_case("https") => Some(443),
        _ => None,
    }
}

/// Checks the caller's framing fields against `framing`; returns the framing to
/// write (`None` with `Content-Length: 0` becomes `Length(0)`).
fn check_framing(
    head: &RequestHead<'_>,
    framing: RequestFraming,
    scan: &FieldScan,
) -> Result<RequestFraming, EncodeError> {
    let headers = head.headers;
    let conflict = |name: http::HeaderName| {
        let value = headers
            .get_all(&name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        EncodeError::FramingConflict {
            name,
            value,
            framing,
        }
    };
    if framing == RequestFraming::Chunked && head.version == Version::HTTP_10 {
        return Err(EncodeError::ChunkedInHttp10);
    }
    if *head.method == Method::TRACE
        && !matches!(framing, RequestFraming::None | RequestFraming::Length(0))
    {
        return Err(EncodeError::ContentInTrace);
    }
    if scan.transfer_encoding
        && (framing != RequestFraming::Chunked || canonical_transfer_encoding(headers).is_none())
    {
        return Err(conflict(TRANSFER_ENCODING));
    }
    if scan.connection && hop_by_hop_framing(headers) {
        // RFC 9110 §7.6.1: a proxy drops what `Connection` names; the framing (or the
        // host) must reach the server.
        return Err(conflict(CONNECTION));
    }
    if !scan.content_length {
        return Ok(framing);
    }
    // RFC 9112 §6.2: no Content-Length alongside Transfer-Encoding.
    match (framing, fields::content_length(headers)) {
        (RequestFraming::Length(n), Ok(Some(m))) if n == m => Ok(framing),
        (RequestFraming::None, Ok(Some(0))) => Ok(RequestFraming::Length(0)),
        _ => Err(conflict(CONTENT_LENGTH)),
    }
}

/// The caller's `Transfer-Encoding` fields as one canonical list (`gzip, chunked`),
/// or `None` when they are not a list of codings that ends in one `chunked`:
/// `identity`, a coding after `chunked`, a parameter on `chunked`, anything but tokens
/// (empty elements are dropped). What goes on
/// the wire is then this one field, never the caller's lines as written (a front end
/// reading only the first of two fields, or comparing the value with `chunked`, would
/// frame the body otherwise: request smuggling).
fn canonical_transfer_encoding(headers: &http::HeaderMap) -> Option<String> {
    const OWS: [char; 2] = [' ', '\t'];
    let token = |text: &str| crate::syntax::is_token(text.as_bytes());
    let mut codings = String::new();
    let mut chunked = false;
    for value in headers.get_all(TRANSFER_ENCODING) {
        for element in value.to_str().ok()?.split(',') {
            let element = element.trim_matches(OWS);
            // RFC 9110 §5.6.1: empty elements are ignored (none is written).
            if element.is_empty() {
                continue;
            }
            // RFC 9112 §7: token *( OWS ";" OWS token "=" token ).
            let mut parts = element.split(';');
            let coding = parts.next()?.trim_matches(OWS);
            if chunked || !token(coding) || coding.eq_ignore_ascii_case("identity") {
                return None;
            }
            chunked = coding.eq_ignore_ascii_case("chunked");
            if !codings.is_empty() {
                codings.push_str(", ");
            }
            codings.push_str(&coding.to_ascii_lowercase());
            for parameter in parts {
                let (name, value) = parameter.trim_matches(OWS).split_once('=')?;
                if chunked || !token(name) || !token(value) {
                    return None;
                }
                codings.push(';');
                codings.push_str(&name.to_ascii_lowercase());
                codings.push('=');
                codings.push_str(value);
            }
        }
    }
    chunked.then_some(codings)
}

/// Whether a `Connection` field names `Content-Length`, `Transfer-Encoding` or `Host`
/// as a hop-by-hop option.
fn hop_by_hop_framing(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(|option| option.trim_ascii())
        .any(|option| {
            [&b"content-length"[..], b"transfer-encoding", b"host"]
                .iter()
                .any(|name| option.eq_ignore_ascii_case(name))
        })
}

/// Writes `n` in decimal without allocating.
fn put_decimal(out: &mut impl OutBuf, n: u16) {
    let mut digits = [0u8; 5];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.put(&digits[at..]);
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
