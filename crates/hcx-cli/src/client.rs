//! From the shared flags to an `hcx::Client` and to the request it sends.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use hcx::bytes::Bytes;
use hcx::exec::{authority_start, redact_userinfo};
use hcx::http::header::{ACCEPT_ENCODING, AUTHORIZATION, USER_AGENT};
use hcx::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use hcx::multipart::{Form, Part};
use hcx::rustls::RootCertStore;
use hcx::rustls::pki_types::CertificateDer;
use hcx::rustls::pki_types::pem::PemObject;
use hcx::{
    AimdBackoffManager, Body, ClientBuilder, DefaultRetryStrategy, IntoUri, RequestConfig, Route,
    TlsIdentity,
};

use crate::cli::{ClientArgs, FormField, FormValue, PoolArgs, RequestArgs, UserPassword};
use crate::error::CliError;
use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials};

/// A client builder configured by the `Client` flags (TLS roots, proxy, timeouts,
/// redirects, user agent, retries) for `template`'s requests. Every flag left out keeps
/// the library's default. Credentials come from `-u`, or else from the URL.
pub fn builder(args: &ClientArgs, template: &RequestTemplate) -> Result<ClientBuilder, CliError> {
    let mut builder = hcx::Client::builder();
    let mut provider = BasicCredentialsProvider::new();
    // `-H 'Authorization:'` leaves out the credentials of `-u` or the URL too, as
    // curl's does: no Authorization field goes out.
    let origin_user = args
        .user
        .as_ref()
        .or(template.url_user.as_ref())
        .filter(|_| !template.left_out.contains(&AUTHORIZATION));
    if let Some(user) = origin_user {
        // For the URL's scheme, host and port only, as curl does without
        // --location-trusted (never over plain http after a redirect from https).
        let scope = AuthScope::for_route(&Route::from_uri(&template.uri)?);
        provider = provider.with(scope, Credentials::basic(&user.user, &user.password));
    }
    if let Some(user) = &args.proxy_user {
        // For the proxies' hosts and ports only: the one given, or every one the
        // environment names (a redirect may lead to another scheme's). With none in
        // use for the URL (`no_proxy`) the flag changes nothing, as curl.
        let proxies = match &args.proxy {
            Some(proxy) => vec![proxy.clone()],
            None if args.proxy_from_env => hcx::EnvProxyRoutePlanner::from_env()?
                .proxies()
                .cloned()
                .collect(),
            None => {
                return Err(CliError::Other(
                    "--proxy-user needs a proxy: give --proxy, or --proxy-from-env".into(),
                ));
            }
        };
        for proxy in &proxies {
            provider = provider.with(
                AuthScope::for_proxy(proxy),
                Credentials::basic(&user.user, &user.password),
            );
        }
    }
    if origin_user.is_some() || args.proxy_user.is_some() {
        builder = builder
            .credentials_provider(provider)
            .preemptive_auth(origin_user.is_some() && !args.digest);
    }
    if let Some(path) = &args.cacert {
        builder = builder.tls_identity(trusting(path)?);
    }
    if let Some(proxy) = &args.proxy {
        builder = builder.proxy(proxy.clone());
    }
    if args.proxy_from_env {
        builder = builder.proxy_from_env();
    }
    if let Some(timeout) = args.connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = args.timeout {
        builder = builder.response_timeout(Some(timeout));
    }
    let mut config = RequestConfig::default().with_local_address(args.local_address);
    if let Some(max) = args.max_redirects {
        config = config.with_max_redirects(max);
    }
    builder = builder.request_config(config);
    if args.no_redirects {
        builder = builder.disable_redirect_handling();
    }
    if let Some(agent) = &args.user_agent {
        // An empty one sends none, as curl's `-A ""` does.
        builder = builder.user_agent(Some(agent.clone()).filter(|a| !a.is_empty()));
    }
    // `-H 'Name:'` (curl's): no such field, not even the client's own.
    if template.left_out.contains(&USER_AGENT) {
        builder = builder.user_agent(None);
    }
    if template.left_out.contains(&ACCEPT_ENCODING) {
        builder = builder.disable_content_compression();
    }
    if let Some(retries) = args.retries {
        builder = builder.retry_strategy(DefaultRetryStrategy::new().with_max_retries(retries));
    }
    Ok(builder)
}

/// `builder` with the `Pool` flags of `hcx load` applied.
pub fn with_pool(mut builder: ClientBuilder, pool: &PoolArgs) -> ClientBuilder {
    if let Some(max) = pool.max_per_route {
        builder = builder.max_per_route(to_usize(max));
    }
    if let Some(max) = pool.max_total {
        builder = builder.max_total(to_usize(max));
    }
    if let Some(default) = pool.keep_alive {
        builder = builder.default_keep_alive(default);
    }
    if let Some(after) = pool.validate_after {
        builder = builder.validate_after_inactivity(after.as_option());
    }
    if pool.backoff {
        builder = builder.backoff_manager(AimdBackoffManager::new());
    }
    builder
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// An identity that trusts the certificates of the PEM file at `path` and nothing
/// else.
fn trusting(path: &Path) -> Result<TlsIdentity, CliError> {
    let shown = path.display();
    let bad = |why: String| CliError::Other(format!("--cacert {shown}: {why}"));
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("a certificate cannot be used: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    TlsIdentity::trusting("cacert", roots).map_err(|e| bad(e.to_string()))
}

/// `url` without the userinfo of its authority (`user:password@host`), and that
/// userinfo percent-decoded (a missing password is empty). The authority starts after
/// the scheme's `://`, or after the `//` of a scheme-relative URL (refused later, so
/// its password must not be in the message). An `@` past the authority is no
/// userinfo. An empty user name, or one or a password that does not decode to UTF-8,
/// is an error that does not show them.
fn split_userinfo(url: &str) -> Result<(String, Option<UserPassword>), CliError> {
    let start = authority_start(url);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let Some(at) = url[start..end].rfind('@').map(|i| start + i) else {
        return Ok((url.to_owned(), None));
    };
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| {
                CliError::Other(
                    "the user name or password in the URL is not UTF-8 once percent-decoded".into(),
                )
            })
    };
    let (user, password) = url[start..at]
        .split_once(':')
        .unwrap_or((&url[start..at], ""));
    if user.is_empty() {
        return Err(CliError::Other(
            "the URL has credentials (@) without a user name: give user:password@host, \
             or -u USER:PASSWORD"
                .into(),
        ));
    }
    let user = UserPassword {
        user: decode(user)?,
        password: decode(password)?,
    };
    Ok((format!("{}{}", &url[..start], &url[at + 1..]), Some(user)))
}

/// The request to send, checked once and copied for each send: method, URL, header
/// fields and body (bytes, so it can be sent again by a retry or a redirect).
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// The body, built once: bytes, or a form whose files are read at each send.
    /// Replayable, so each request takes a copy (a `Mutex` only because a `Body` may
    /// hold a reader and so is not `Sync`; the copy is a reference count).
    body: Option<Arc<Mutex<Body>>>,
    /// The credentials the URL carried (taken out of `uri`).
    url_user: Option<UserPassword>,
    /// The fields given as `-H 'Name:'` (and not given again after): none is sent, not
    /// even the one the client would add.
    left_out: Vec<HeaderName>,
}

impl RequestTemplate {
    /// Checks `url` (absolute, http or https) and reads the body; the method defaults
    /// to `POST` when there is a body, as curl's does.
    pub fn new(url: &str, args: &RequestArgs) -> Result<Self, CliError> {
        // The credentials are taken out before the URL is parsed, so no message, summary
        // or request head shows the password.
        let (url, url_user) = split_userinfo(url)?;
        // An error names the URL: with an `@` still in it, the rest of a password.
        let shown = |e: hcx::Error| {
            let safe = redact_userinfo(&url).into_owned();
            if safe == url {
                return CliError::Http(e);
            }
            let text = format!("{e:#} [{}]", e.kind().as_str());
            CliError::Other(if text.contains(url.as_str()) {
                text.replace(url.as_str(), &safe)
            } else {
                format!("the URL {safe} cannot be used [{}]", e.kind().as_str())
            })
        };
        let uri = url.as_str().into_uri().map_err(shown)?;
        // The scheme and host are checked here, before any thread or connection.
        Route::from_uri(&uri).map_err(shown)?;
        let mut headers = HeaderMap::new();
        let body = match (&args.data, &args.data_file) {
            (Some(data), _) => Some(Body::from(Bytes::from(data.clone()))),
            (None, Some(path)) => Some(Body::from(Bytes::from(std::fs::read(path).map_err(
                |e| CliError::io(format!("cannot read --data-file {}", path.display()), e),
            )?))),
            (None, None) if !args.form.is_empty() => {
                let form = multipart(&args.form)?;
                let content_type = HeaderValue::try_from(form.content_type()).map_err(|_| {
                    CliError::Other("the form's boundary is not a header field value".into())
                })?;
                headers.insert(hcx::http::header::CONTENT_TYPE, content_type);
                Some(form.into_body())
            }
            (None, None) => None,
        };
        let method = args.method.clone().unwrap_or(if body.is_some() {
            Method::POST
        } else {
            Method::GET
        });
        let mut left_out = Vec::new();
        for header in &args.headers {
            if !args.form.is_empty() && header.name == hcx::http::header::CONTENT_TYPE {
                return Err(CliError::Other(
                    "-H Content-Type with -F: the form's Content-Type carries its boundary".into(),
                ));
            }
            match &header.value {
                Some(value) => {
                    left_out.retain(|name| *name != header.name);
                    headers
                        .try_append(header.name.clone(), value.clone())
                        .map_err(hcx::Error::from)?;
                }
                None => {
                    headers.remove(&header.name);
                    left_out.push(header.name.clone());
                }
            }
        }
        Ok(RequestTemplate {
            method,
            uri,
            headers,
            body: body.map(|body| Arc::new(Mutex::new(body))),
            url_user,
            left_out,
        })
    }

    /// A plain `GET url`.
    pub fn get(url: &str) -> Result<Self, CliError> {
        let args = RequestArgs {
            method: None,
            headers: Vec::new(),
            data: None,
            data_file: None,
            form: Vec::new(),
        };
        RequestTemplate::new(url, &args)
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL, without any credentials it was given with.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// A request to send.
    pub fn request(&self) -> Request<Body> {
        let body = self
            .body
            .as_ref()
            .and_then(|body| {
                body.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .try_clone()
            })
            .unwrap_or_default();
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// The `-F` fields as a form; an error names a file that cannot be read.
fn multipart(fields: &[FormField]) -> Result<Form, CliError> {
    let mut form = Form::new();
    for field in fields {
        let part = match &field.value {
            FormValue::Text(text) => Part::text(text.clone()),
            FormValue::File {
                path,
                content_type,
                file_name,
            } => {
                let mut part = Part::file(path).map_err(|e| {
                    CliError::io(
                        format!("cannot read -F {}=@{}", field.name, path.display()),
                        e,
                    )
                })?;
                if let Some(content_type) = content_type {
                    part = part.mime_str(content_type);
                }
                if let Some(file_name) = file_name {
                    part = part.file_name(file_name.clone());
                }
                part
            }
        };
        form = form.part(field.name.clone(), part);
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Header;
    use hcx::http::{HeaderName, HeaderValue};

    fn args() -> RequestArgs {
        RequestArgs {
            method: None,
            headers: Vec::new(),
            data: None,
            data_file: None,
            form: Vec::new(),
        }
    }

    #[test]
    fn credentials_in_the_url_are_taken_out_of_it_and_decoded() -> Result<(), CliError> {
        let t = RequestTemplate::new("http://bob:s%40cr%3At@example.test:81/p?q=a@b", &args())?;
        assert_eq!(t.uri().to_string(), "http://example.test:81/p?q=a@b");
        let user = t
            .url_user
            .as_ref()
            .map(|u| (u.user.as_str(), u.password.as_str()));
        assert_eq!(user, Some(("bob", "s@cr:t")));
        assert!(
            !format!("{t:?}").contains("cr"),
            "the password is not shown"
        );
        let t = RequestTemplate::new("https://bob@example.test/", &args())?;
        let user = t
            .url_user
            .as_ref()
            .map(|u| (u.user.as_str(), u.password.as_str()));
        assert_eq!(user, Some(("bob", "")));
        // An @ after the authority is no userinfo.
        let t = RequestTemplate::new("http://example.test/a@b?c=@#d@", &args())?;
        assert!(t.url_user.is_none());
        assert_eq!(t.uri().path(), "/a@b");
        // A bad URL's error does not show the password either, nor the part of one
        // that an unencoded `/`, `?` or `#` left outside the authority.
        for url in [
            "http://bob:secret@example.test:99999/",
            "http://bob:se/cret@example.test/",
            "http://bob:se?cret@example.test/",
            "http://bob:se#cret@example.test/",
        ] {
            let error = RequestTemplate::new(url, &args())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!error.is_empty(), "{url}: refused");
            assert!(
                !error.contains("cret") && !error.contains(":se"),
                "{url}: {error}"
            );
        }
        // No user name, or bytes that are not UTF-8: refused, without showing them.
        for url in [
            "http://:pw@example.test/",
            "http://@example.test/",
            "http://bob:%FF%FE@example.test/",
        ] {
            let error = RequestTemplate::new(url, &args())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                !error.is_empty() && !error.contains("pw") && !error.contains("FF"),
                "{url}: {error}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_body_makes_the_default_method_post() -> Result<(), CliError> {
        let plain = RequestTemplate::new("http://example.test/", &args())?;
        assert_eq!(plain.request().method(), Method::GET);
        let mut with_data = args();
        with_data.data = Some("a=1".into());
        with_data.headers.push(Header {
            name: HeaderName::from_static("x-a"),
            value: Some(HeaderValue::from_static("1")),
        });
        let post = RequestTemplate::new("http://example.test/", &with_data)?;
        let request = post.request();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.headers()["x-a"], "1");
        assert_eq!(request.body().content_length(), Some(3));
        Ok(())
    }

    #[test]
    fn urls_must_be_absolute_http_or_https() {
        for bad in [
            "example.test/x",
            "ftp://example.test/",
            "http://exa mple/",
            "/path",
        ] {
            match RequestTemplate::new(bad, &args()) {
                Err(CliError::Http(e)) => {
                    assert_eq!(e.kind(), hcx::ErrorKind::InvalidUrl, "{bad}: {e}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
