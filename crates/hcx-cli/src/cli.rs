//! The command line: clap's derive structures, the value parsers, and how a usage
//! error is reported (one line, exit 2).

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind as ClapErrorKind};
use clap::{Args, Parser, Subcommand};
use hcx::Proxy;
use hcx::http::{HeaderName, HeaderValue, Method};

/// hcx: a blocking HTTP/1.1 client that says what its connections did.
#[derive(Debug, Parser)]
#[command(name = "hcx", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one request and print the response body; with -v, the exchange and the
    /// connection's lifecycle on stderr.
    Get(GetArgs),
    /// Send many requests over threads sharing one client, then summarise latency,
    /// errors, connection reuse, closes by reason and pool waits.
    Load(LoadArgs),
    /// Run the client against its embedded test server and explain what the pool and
    /// the reuse decisions did.
    Demo,
}

/// `hcx get URL …`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The URL: http://host:port/path or https://… (the port is optional).
    pub url: String,

    /// Write the body to FILE instead of stdout (`-o -`: stdout, as curl's; to a
    /// terminal, a body stops at the first read that looks binary: give FILE, or pipe
    /// it).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the exchange and the connection's lifecycle to stderr as it happens.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Abort the whole operation (name lookups, connects, redirects and retries, the
    /// body to its end) if it takes longer than this: seconds as curl's --max-time
    /// takes them (2, 0.5) or a duration (500ms, 1m). Exit 28 when it runs out, as
    /// curl's [default: no limit].
    #[arg(short = 'm', long, value_name = "SECS|DUR", value_parser = parse_max_time)]
    pub max_time: Option<Duration>,

    /// What to send.
    #[command(flatten)]
    pub request: RequestArgs,

    /// How the client connects.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `hcx load URL …`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The URL: http://host:port/path or https://… (the port is optional).
    pub url: String,

    /// How many requests to send [default: 100, or no limit with --duration].
    #[arg(
        short = 'n',
        long = "requests",
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub requests: Option<u64>,

    /// How many threads send them, sharing one client.
    #[arg(
        short = 'c',
        long = "concurrency",
        value_name = "C",
        default_value_t = 1,
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    pub concurrency: u32,

    /// Send for this long (500ms, 30s, 2m) instead of a number of requests; with -n
    /// too, whichever ends first. A request may wait as long as the duration for a
    /// connection from the pool (at most 3m, the default) and, without --timeout, as
    /// long again for its response (at most the 3m socket timeout), so a server that
    /// stalls cannot keep the run going.
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// At most R requests per second, over all threads together, on a schedule: a
    /// request that falls behind it (a server slower than the rate) goes as soon as a
    /// thread is free, its latency counted from when it was due (as wrk2), and none
    /// starts after --duration has ended; a run by --duration lasts it, as wrk2's, and
    /// one by -n lasts N/R, so requests/s is never above R.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    /// What to send.
    #[command(flatten)]
    pub request: RequestArgs,

    /// The connection pool.
    #[command(flatten)]
    pub pool: PoolArgs,

    /// How the client connects.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The request: method, header fields, body.
#[derive(Debug, Args)]
#[command(next_help_heading = "Request")]
pub struct RequestArgs {
    /// The method [default: GET, or POST with -d / --data-file / -F].
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_parser = parse_method)]
    pub method: Option<Method>,

    /// A header field to send, 'Name: value' (repeat for more). 'Name:' with nothing
    /// after the colon sends no such field, as curl's: not the User-Agent or
    /// Accept-Encoding hcx would add, nor the Authorization of -u or the URL (nor any
    /// -H Name given before it); Host, Content-Length and Transfer-Encoding, which
    /// HTTP/1.1 framing needs, are refused. A Proxy-Authorization is sent only to a
    /// forward proxy (a plain http:// request through --proxy), never to the origin.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,

    /// The request body, sent as given with Content-Length (no Content-Type is added:
    /// set one with -H). No file is read: a DATA that starts with '@' (curl's -d @FILE)
    /// is refused; give --data-file FILE.
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        value_parser = parse_data,
        conflicts_with = "data_file"
    )]
    pub data: Option<String>,

    /// The request body, read from FILE (into memory, so it can be sent again).
    #[arg(long = "data-file", value_name = "FILE")]
    pub data_file: Option<PathBuf>,

    /// A multipart/form-data field, as curl's -F: 'name=value', or 'name=@FILE' to
    /// upload a file (over 4 KiB: read each time it is sent; smaller: read once, at the
    /// start), with ';type=MIME' and ';filename=NAME' after it (repeat for more
    /// fields). A -H Content-Type with -F is refused: the form sets its own, with its
    /// boundary.
    #[arg(
        short = 'F',
        long = "form",
        value_name = "NAME=VALUE|NAME=@FILE",
        value_parser = parse_form_field,
        conflicts_with_all = ["data", "data_file"]
    )]
    pub form: Vec<FormField>,
}

/// One `-F` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The field's name.
    pub name: String,
    /// Its value, or the file to upload.
    pub value: FormValue,
}

/// What a `-F` field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormValue {
    /// Text, sent as given.
    Text(String),
    /// A file, with the `;type=` and `;filename=` given after it.
    File {
        /// The file to read.
        path: PathBuf,
        /// Its Content-Type (`application/octet-stream` when not given).
        content_type: Option<String>,
        /// The file name sent (the file's own when not given).
        file_name: Option<String>,
    },
}

/// One `-H 'Name: value'`.
#[derive(Debug, Clone)]
pub struct Header {
    /// The field name.
    pub name: HeaderName,
    /// The field value; `None` for `-H 'Name:'`: send no such field (curl's).
    pub value: Option<HeaderValue>,
}

/// How the client connects, times out, follows redirects and retries.
#[derive(Debug, Args)]
#[command(next_help_heading = "Client")]
pub struct ClientArgs {
    /// Trust the CA certificates in this PEM file instead of the bundled Mozilla roots.
    /// (There is no switch that turns certificate verification off.)
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Credentials for the URL's host and port, sent as Basic with the first request
    /// (as curl's -u does; with --digest, only in answer to a challenge) and never to another host a redirect leads to. Credentials
    /// in the URL (user:password@host) are used the same way when -u is not given.
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD", value_parser = parse_user)]
    pub user: Option<UserPassword>,

    /// Send the credentials of -u (or of the URL) only in answer to the server's
    /// challenge, with the strongest scheme it offers (Digest before Basic), never up
    /// front: with Digest the password itself never crosses the wire (curl's
    /// --digest).
    #[arg(long)]
    pub digest: bool,

    /// Send requests through this HTTP proxy: http://user:password@host:port (credentials
    /// and port optional).
    #[arg(long, value_name = "URL", value_parser = parse_proxy, conflicts_with = "proxy_from_env")]
    pub proxy: Option<Proxy>,

    /// Take the proxy from http_proxy, https_proxy, all_proxy and no_proxy.
    #[arg(long)]
    pub proxy_from_env: bool,

    /// Credentials for the proxy, first sent in answer to its challenge (407), with
    /// the strongest scheme it offers (Digest before Basic; a Basic answer then goes
    /// up front on later requests through it): curl's --proxy-user with
    /// --proxy-anyauth. Credentials in the --proxy URL go up front as Basic instead.
    /// Needs --proxy or --proxy-from-env (then for every proxy the environment
    /// names); nothing is sent when the environment sends a URL direct (no_proxy).
    #[arg(short = 'U', long = "proxy-user", value_name = "USER:PASSWORD", value_parser = parse_user)]
    pub proxy_user: Option<UserPassword>,

    /// How long a connect may take, all addresses together [default: 3m].
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub connect_timeout: Option<Duration>,

    /// Bind connections to this local IP address before they connect (curl's
    /// --interface, given an address): only the target's addresses of its family
    /// are tried.
    #[arg(long, value_name = "ADDR")]
    pub local_address: Option<IpAddr>,

    /// How long to wait for the response head and for each read of the body
    /// (the response timeout) [default: 3m, the socket timeout].
    #[arg(long, value_name = "DUR", value_parser = parse_positive_duration)]
    pub timeout: Option<Duration>,

    /// Follow at most N redirects; one more is an error [default: 50].
    #[arg(long, value_name = "N", conflicts_with = "no_redirects")]
    pub max_redirects: Option<u32>,

    /// Do not follow redirects: a 3xx is the answer.
    #[arg(long)]
    pub no_redirects: bool,

    /// The User-Agent header [default: hcx/VERSION]; empty: none is sent (as curl's
    /// -A "").
    #[arg(long, value_name = "TEXT", value_parser = parse_header_value)]
    pub user_agent: Option<HeaderValue>,

    /// At most N retries of a request lost in flight, when replaying it is safe, or
    /// answered 429 or 503: after its Retry-After (one over 30s is not waited for:
    /// that answer is the result), or 1s without one (0: never) [default: 1].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

/// The connection pool of `hcx load`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Pool")]
pub struct PoolArgs {
    /// Most connections per route [default: 5].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_per_route: Option<u32>,

    /// Most connections in all [default: 25].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_total: Option<u32>,

    /// How long a connection may stay idle when the server sends no Keep-Alive
    /// timeout [default: 30s].
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub keep_alive: Option<Duration>,

    /// Probe a pooled connection before reuse only when it has been idle this long;
    /// `never` turns the stale probe off [default: 0s, every reuse].
    #[arg(long, value_name = "DUR|never", value_parser = parse_validate_after)]
    pub validate_after: Option<ValidateAfter>,

    /// Shrink a route's connection limit when its server answers 429 or 503 or a
    /// connect fails, and grow it back on success (the BACK_OFF element with
    /// Apache's AIMD backoff: halved, then one more per 5s of success, at most once
    /// per 5s); the summary's per-route limit shows where it ended.
    #[arg(long)]
    pub backoff: bool,
}

/// The value of `--validate-after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidateAfter {
    /// Probe connections idle at least this long.
    After(Duration),
    /// Never probe.
    Never,
}

impl ValidateAfter {
    /// What `validate_after_inactivity` takes.
    pub fn as_option(self) -> Option<Duration> {
        match self {
            ValidateAfter::After(d) => Some(d),
            ValidateAfter::Never => None,
        }
    }
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.as_bytes()).map_err(|_| format!("{text:?} is not an HTTP method"))
}

fn parse_header(text: &str) -> Result<Header, String> {
    // Not shown: a header may hold a credential.
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| "give a header field as 'Name: value'".to_string())?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a header field name", name.trim()))?;
    if value.trim().is_empty() {
        // curl's `-H 'Name:'`: leave the field out, where HTTP/1.1 lets a request go
        // without it.
        return match left_out_refused(&name) {
            Some(why) => Err(why.to_owned()),
            None => Ok(Header { name, value: None }),
        };
    }
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!(
            "the value of {name} is not a header field value (control characters are not allowed)"
        )
    })?;
    Ok(Header {
        name,
        value: Some(value),
    })
}

/// Why a request cannot go without `name`, for the fields the codec writes itself.
fn left_out_refused(name: &HeaderName) -> Option<&'static str> {
    use hcx::http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
    if name == HOST {
        Some(
            "'Host:' cannot leave Host out: an HTTP/1.1 request must carry it \
             (RFC 9112 §3.2); give 'Host: NAME' to set it",
        )
    } else if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
        Some(
            "'Content-Length:' and 'Transfer-Encoding:' cannot leave them out: hcx \
             writes the body's framing itself (RFC 9112 §6)",
        )
    } else {
        None
    }
}

/// `-d`: refuses curl's `-d @FILE`, which would otherwise send the text `@FILE`.
fn parse_data(text: &str) -> Result<String, String> {
    if text.starts_with('@') {
        return Err(
            "hcx -d sends its text as given and reads no file (curl's -d @FILE \
                    would send '@…' here): give --data-file FILE; a body that starts \
                    with '@' goes the same way, from a file"
                .into(),
        );
    }
    Ok(text.to_owned())
}

fn parse_form_field(text: &str) -> Result<FormField, String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| "give a form field as 'name=value' or 'name=@file'".to_string())?;
    if name.is_empty() {
        return Err("a form field needs a name before its '='".into());
    }
    let value = match value.strip_prefix('@') {
        None => FormValue::Text(value.to_owned()),
        Some(rest) => {
            let mut parts = rest.split(';');
            let path = parts.next().unwrap_or_default();
            if path.is_empty() {
                return Err(format!("{name}=@ needs a file name after the '@'"));
            }
            let (mut content_type, mut file_name) = (None, None);
            for part in parts {
                match part.split_once('=') {
                    Some(("type", v)) if !v.is_empty() => content_type = Some(v.to_owned()),
                    Some(("filename", v)) if !v.is_empty() => file_name = Some(v.to_owned()),
                    _ => {
                        return Err(format!(
                            "{part:?} after {name}=@{path}: only ';type=MIME' and ';filename=NAME'"
                        ));
                    }
                }
            }
            FormValue::File {
                path: PathBuf::from(path),
                content_type,
                file_name,
            }
        }
    };
    Ok(FormField {
        name: name.to_owned(),
        value,
    })
}

fn parse_header_value(text: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(text).map_err(|_| {
        format!("{text:?} is not a header field value (control characters are not allowed)")
    })
}

/// The value of `-u`: a user name and a password.
#[derive(Clone)]
pub struct UserPassword {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

/// The password is not shown.
impl std::fmt::Debug for UserPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPassword")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn parse_user(text: &str) -> Result<UserPassword, String> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(UserPassword {
            user: user.to_string(),
            password: password.to_string(),
        }),
        _ => Err("give the user and the password as USER:PASSWORD".into()),
    }
}

fn parse_proxy(text: &str) -> Result<Proxy, String> {
    Proxy::from_url(text).map_err(|e| format!("{e:#}"))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("a duration of zero is not allowed here".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (try 500ms, 30s, 2m)")),
    }
}

/// curl's `--max-time`: plain (fractional) seconds, or a duration with its unit.
fn parse_max_time(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => match Duration::try_from_secs_f64(secs) {
            Ok(d) if d.is_zero() => {
                Err(format!("{text} seconds rounds to zero: give at least 1ns"))
            }
            Ok(d) => Ok(d),
            Err(_) => Err(format!("{text} seconds is too long")),
        },
        Ok(_) => Err("a positive number of seconds (or a duration: 500ms, 30s)".into()),
        Err(_) => parse_positive_duration(text),
    }
}

fn parse_validate_after(text: &str) -> Result<ValidateAfter, String> {
    if text.eq_ignore_ascii_case("never") {
        return Ok(ValidateAfter::Never);
    }
    humantime::parse_duration(text)
        .map(ValidateAfter::After)
        .map_err(|e| format!("{e} (try 0s, 2s, never)"))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{text:?} is not a positive number of requests per second"
        )),
    }
}

/// Reports a command line clap refused: help and version go to stdout with exit 0;
/// anything else is one line on stderr, `hcx: error: …`, and exit 2.
pub fn report(error: &clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ClapErrorKind::DisplayHelp
            | ClapErrorKind::DisplayVersion
            | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Nothing useful to do if stdout is gone.
        let _ = error.print();
        return if error.use_stderr() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let line = one_line(error);
    let _ = writeln!(std::io::stderr(), "hcx: error: {line}");
    ExitCode::from(2)
}

/// `text` with each CR and LF inside single quotes (where clap quotes a value) shown
/// as `\r` and `\n`.
fn escape_quoted_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '\n' if quoted => out.push_str("\\n"),
            '\r' if quoted => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

/// clap's message as one line: its first line without the `error: ` prefix (with the
/// list it introduces, when it ends in a colon), and a word on where help is.
fn one_line(error: &clap::Error) -> String {
    // A value with a line break in it (`-H $'X: a\nb'`) would cut the message at the
    // break: the breaks inside quoted values are shown escaped first.
    let rendered = escape_quoted_breaks(&error.to_string());
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid command line");
    let first = first.strip_prefix("error: ").unwrap_or(first).trim();
    // "the following required arguments were not provided:" names them on the
    // indented lines after it: without them the line does not say what is missing.
    let listed: Vec<&str> = if first.ends_with(':') {
        lines
            .take_while(|l| l.starts_with(' '))
            .map(str::trim)
            .collect()
    } else {
        Vec::new()
    };
    let first = if listed.is_empty() {
        first.to_owned()
    } else {
        format!("{first} {}", listed.join(", "))
    };
    let invalid_arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.as_str(),
        _ => "",
    };
    // The values of these may hold a password or a token: clap's message quotes the
    // value, so only the validator's reason (which does not) is shown.
    if error.kind() == ClapErrorKind::ValueValidation
        && [
            "--user",
            "-u",
            "--proxy-user",
            "-U",
            "--proxy",
            "--header",
            "-H",
            "--form",
            "-F",
            "--data",
            "-d",
        ]
        .iter()
        .any(|secret| invalid_arg.split(' ').next() == Some(*secret))
    {
        let reason = std::error::Error::source(error)
            .map(|e| e.to_string())
            .unwrap_or_default();
        return format!("invalid value for '{invalid_arg}': {reason}; see 'hcx --help'");
    }
    if error.kind() == ClapErrorKind::InvalidSubcommand {
        // `hcx URL` (curl's habit): the URL may carry a password.
        return "unknown command (not shown: it may hold a password); did you mean \
                'hcx get URL'? see 'hcx --help'"
            .to_owned();
    }
    if error.kind() == ClapErrorKind::UnknownArgument
        && !invalid_arg.is_empty()
        && !invalid_arg.starts_with('-')
    {
        // A stray value (`-u alice hunter2`, a second URL with credentials): not
        // quoted, it may be a password.
        return "an unexpected argument was given (not shown: it may hold a password; \
                give -u USER:PASSWORD as one value, and one URL); see 'hcx --help'"
            .to_owned();
    }
    if error.kind() == ClapErrorKind::UnknownArgument
        && matches!(invalid_arg, "--insecure" | "-k" | "--no-verify")
    {
        return format!(
            "{first}: hcx never turns certificate verification off; \
             trust a private CA with --cacert FILE"
        );
    }
    let suggestion = match error.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(arg)) => format!(" (did you mean {arg}?)"),
        _ => String::new(),
    };
    format!("{first}{suggestion}; see 'hcx --help'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn max_time_takes_curl_s_seconds_or_a_duration() -> Result<(), String> {
        assert_eq!(parse_max_time("2")?, Duration::from_secs(2));
        assert_eq!(parse_max_time("0.5")?, Duration::from_millis(500));
        assert_eq!(parse_max_time("250ms")?, Duration::from_millis(250));
        for bad in ["0", "-1", "inf", "NaN", "1e300", "soon"] {
            assert!(parse_max_time(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn headers_split_at_the_first_colon() -> Result<(), String> {
        let h = parse_header("X-Thing:  a:b ")?;
        assert_eq!(h.name.as_str(), "x-thing");
        assert_eq!(h.value.as_ref().and_then(|v| v.to_str().ok()), Some("a:b"));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
        assert!(parse_header("x: line\nbreak").is_err());
        Ok(())
    }

    #[test]
    fn durations_are_humantime() {
        assert_eq!(
            parse_positive_duration("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse_positive_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_positive_duration("soon").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(parse_validate_after("never"), Ok(ValidateAfter::Never));
        assert_eq!(
            parse_validate_after("0s"),
            Ok(ValidateAfter::After(Duration::ZERO))
        );
    }

    #[test]
    fn rates_are_positive_and_finite() {
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        for bad in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_value_with_a_line_break_keeps_its_reason() {
        let error = Cli::try_parse_from(["hcx", "get", "-H", "X: a\nb", "http://x/"]).err();
        let line = error.as_ref().map(one_line).unwrap_or_default();
        // A header's value may be a credential: the field is named, the value not shown.
        assert!(line.contains("the value of x"), "{line}");
        assert!(!line.contains("a\\nb") && !line.contains("a\nb"), "{line}");
        assert!(
            line.contains("header field value"),
            "the reason is kept: {line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn usage_errors_are_one_line() {
        let error = Cli::try_parse_from(["hcx", "get", "http://x/", "--insecure"]).err();
        let line = error.as_ref().map(one_line).unwrap_or_default();
        assert!(line.contains("--insecure"), "{line}");
        assert!(line.contains("--cacert"), "{line}");
        assert!(!line.contains('\n'), "{line}");
        let error = Cli::try_parse_from(["hcx", "get", "http://x/", "--timeout", "soon"]).err();
        let line = error.as_ref().map(one_line).unwrap_or_default();
        assert!(line.contains("soon"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
