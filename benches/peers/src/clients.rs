//! The clients under test, each configured as the driver's documentation says, each
//! reading every body to its end and refusing any status but 200.

use std::io::{self, Read};
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::{Client as HyperClient, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;

/// One GET: `mid` runs once the response head is in and before the body is read (the
/// idle-connection mode holds every connection busy there). Returns the body's length.
pub trait Blocking: Send + Sync {
    fn fetch(&self, buf: &mut [u8], mid: &mut dyn FnMut()) -> Result<u64, String>;
}

/// Reads `body` to its end into `buf`, returning how many bytes it had.
fn drain(body: &mut impl Read, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0;
    loop {
        match body.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The status check every client makes, after the body is read (so the connection
/// stays reusable either way).
fn check(status: u16, len: u64) -> Result<u64, String> {
    if status == 200 {
        Ok(len)
    } else {
        Err(format!("status {status}"))
    }
}

/// hcx with its defaults, the pool sized to `conns` (per route and in total).
pub struct Hcx {
    client: hcx::Client,
    uri: hcx::http::Uri,
}

impl Hcx {
    pub fn new(url: &str, conns: usize) -> Result<Self, String> {
        let client = hcx::Client::builder()
            .max_per_route(conns)
            .max_total(conns)
            .build()
            .map_err(|e| e.to_string())?;
        let uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        Ok(Hcx { client, uri })
    }
}

impl Blocking for Hcx {
    fn fetch(&self, buf: &mut [u8], mid: &mut dyn FnMut()) -> Result<u64, String> {
        let mut response = self.client.get(&self.uri).map_err(|e| e.to_string())?;
        mid();
        let len = drain(response.body_mut(), buf).map_err(|e| e.to_string())?;
        check(response.status().as_u16(), len)
    }
}

/// ureq 3, one shared `Agent`, its idle pool sized to `conns` (in total and per host),
/// no proxy from the environment, statuses not turned into errors.
pub struct Ureq {
    agent: ureq::Agent,
    uri: ureq::http::Uri,
}

impl Ureq {
    pub fn new(url: &str, conns: usize) -> Result<Self, String> {
        let config = ureq::Agent::config_builder()
            .max_idle_connections(conns)
            .max_idle_connections_per_host(conns)
            .http_status_as_error(false)
            .proxy(None)
            .build();
        let uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        Ok(Ureq {
            agent: ureq::Agent::new_with_config(config),
            uri,
        })
    }
}

impl Blocking for Ureq {
    fn fetch(&self, buf: &mut [u8], mid: &mut dyn FnMut()) -> Result<u64, String> {
        let mut response = self
            .agent
            .get(self.uri.clone())
            .call()
            .map_err(|e| e.to_string())?;
        mid();
        let len = drain(&mut response.body_mut().as_reader(), buf).map_err(|e| e.to_string())?;
        check(response.status().as_u16(), len)
    }
}

/// reqwest's blocking client (its own tokio runtime on a background thread), idle pool
/// per host sized to `conns`, no proxy from the environment.
pub struct Reqwest {
    client: reqwest::blocking::Client,
    url: reqwest::Url,
}

impl Reqwest {
    pub fn new(url: &str, conns: usize) -> Result<Self, String> {
        let client = reqwest::blocking::Client::builder()
            .pool_max_idle_per_host(conns)
            .no_proxy()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        let url = reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        Ok(Reqwest { client, url })
    }
}

impl Blocking for Reqwest {
    fn fetch(&self, buf: &mut [u8], mid: &mut dyn FnMut()) -> Result<u64, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .send()
            .map_err(|e| e.to_string())?;
        mid();
        let len = drain(&mut response, buf).map_err(|e| e.to_string())?;
        check(response.status().as_u16(), len)
    }
}

/// hyper-util's legacy pooling client over hyper 1 (HTTP/1 only), `TCP_NODELAY` on as
/// the other clients have it, idle pool per host sized to `conns`.
#[derive(Clone)]
pub struct Hyper {
    client: HyperClient<HttpConnector, Empty<Bytes>>,
    uri: hyper::Uri,
}

impl Hyper {
    /// Must be called inside the runtime (the client spawns its connections there).
    pub fn new(url: &str, conns: usize) -> Result<Self, String> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(conns)
            .build(connector);
        let uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
        Ok(Hyper { client, uri })
    }

    /// One GET; `mid` as in [`Blocking::fetch`].
    pub async fn fetch(&self, mid: Option<&tokio::sync::Barrier>) -> Result<u64, String> {
        let response = self
            .client
            .get(self.uri.clone())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(barrier) = mid {
            barrier.wait().await;
        }
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut len = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                len += data.len() as u64;
            }
        }
        check(status, len)
    }
}

/// The blocking client named `name`.
pub fn blocking(name: &str, url: &str, conns: usize) -> Result<Arc<dyn Blocking>, String> {
    Ok(match name {
        "hcx" => Arc::new(Hcx::new(url, conns)?),
        "ureq" => Arc::new(Ureq::new(url, conns)?),
        "reqwest" => Arc::new(Reqwest::new(url, conns)?),
        other => return Err(format!("unknown blocking client {other:?}")),
    })
}
