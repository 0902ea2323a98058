//! The client side of TLS, on rustls directly: configurations trusting a test CA, and
//! connections whose handshake is driven explicitly so a test can see it fail.

use super::{RawClient, SAFETY};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// The ring provider, as hcx uses it (deprecated in rustls 0.23.48 for lacking
/// post-quantum key exchange, which loopback tests do not need).
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What a test client offers.
pub struct ClientOptions {
    pub root: CertificateDer<'static>,
    pub alpn: bool,
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    pub tls12_only: bool,
}

impl ClientOptions {
    pub fn trusting(root: CertificateDer<'static>) -> Self {
        ClientOptions {
            root,
            alpn: true,
            identity: None,
            tls12_only: false,
        }
    }

    pub fn build(self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.root).expect("root accepted");
        let builder = ClientConfig::builder_with_provider(provider());
        let builder = if self.tls12_only {
            builder.with_protocol_versions(&[&rustls::version::TLS12])
        } else {
            builder.with_safe_default_protocol_versions()
        }
        .expect("protocol versions")
        .with_root_certificates(roots);
        let mut config = match self.identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .expect("client identity"),
            None => builder.with_no_client_auth(),
        };
        if self.alpn {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
        }
        Arc::new(config)
    }
}

/// Connects to `addr`, sending `name` as the server name, and completes the handshake
/// (as far as the client is concerned: in TLS 1.3 the server may still reject it).
pub fn handshake(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    name: &str,
) -> io::Result<TlsStream> {
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    let mut conn = ClientConnection::new(Arc::clone(config), name).expect("client connection");
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(SAFETY))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// A raw HTTP client over a completed handshake.
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>, name: &str) -> RawClient<TlsStream> {
    RawClient::over(handshake(addr, config, name).expect("TLS handshake"))
}
