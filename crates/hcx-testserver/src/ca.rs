//! [`TestCa`]: a certificate authority made at test time (rcgen), the server and client
//! certificates it signs, and the rustls server configurations built on them.
//!
//! Everything uses the rustls `ring` provider explicitly: no process-default provider
//! is installed in hcx's tests, and installing one here would leak into every test
//! that shares the process.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The ALPN protocol the test server offers.
const HTTP_11: &[u8] = b"http/1.1";

/// How many TLS 1.2 sessions the server remembers for resumption by session id.
const SESSION_CACHE_SIZE: usize = 256;

/// A certificate authority generated at test time: a self-signed root, and the server
/// and client certificates it signs, with rustls configurations ready for
/// [`TestServerBuilder::tls`](crate::TestServerBuilder::tls).
///
/// A client trusts it by putting [`root_der`](Self::root_der) in its
/// `rustls::RootCertStore`. Keys are ECDSA P-256; certificates are valid from 1975 to
/// 4096, so no test ever meets an expiry.
///
/// ```
/// use hcx_testserver::{TestCa, TestServer};
///
/// let ca = TestCa::new()?;
/// let server = TestServer::builder()
///     .tls(ca.server_config(&["localhost", "127.0.0.1"]))
///     .start()?;
/// assert!(server.url("/").starts_with("https://127.0.0.1:"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    provider: Arc<CryptoProvider>,
}

impl TestCa {
    /// Generates a new self-signed CA (common name `hcx test CA <n>`, `n` counting CAs
    /// made by this process). Two calls give two unrelated CAs: a client trusting one
    /// rejects the other's certificates as signed by an unknown issuer.
    pub fn new() -> Result<TestCa, CaError> {
        // Distinct names, so a verifier looking for the issuer by name does not find
        // the other CA and report a bad signature instead of an unknown issuer.
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let n = CREATED.fetch_add(1, Ordering::Relaxed);
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(&format!("hcx test CA {n}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(|e| CaError::new("generate the CA key", e))?;
        let issuer = CertifiedIssuer::self_signed(params, key)
            .map_err(|e| CaError::new("self-sign the CA certificate", e))?;
        Ok(TestCa {
            issuer,
            provider: ring_provider(),
        })
    }

    /// The CA's certificate, DER-encoded: what a client adds to its `RootCertStore`.
    pub fn root_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The CA's certificate, PEM-encoded: what a tool given a CA file reads (for
    /// example `hcx get --cacert FILE`).
    pub fn root_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A `RootCertStore` holding only this CA.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        // Cannot fail: rcgen made this certificate and webpki parses it.
        let _ = roots.add(self.root_der());
        roots
    }

    /// A server configuration presenting a fresh leaf certificate for `names`, signed
    /// by this CA, with no client authentication.
    ///
    /// Each name that parses as an IP address (`127.0.0.1`, `::1`) becomes an IP
    /// subject alternative name, every other one a DNS name; the first is also the
    /// common name. [`TestServer::url`](crate::TestServer::url) uses the IP address,
    /// so include `127.0.0.1` (or `::1`) for clients that connect by URL.
    ///
    /// The configuration offers ALPN `http/1.1` and resumes sessions: TLS 1.2 by
    /// session id (an in-memory cache of 256) or ticket, TLS 1.3 by ticket (the ring
    /// ticketer). Protocol versions: rustls' safe defaults (TLS 1.2 and 1.3).
    ///
    /// # Panics
    ///
    /// If a name is neither an IP address nor an ASCII DNS name, or key generation
    /// fails: a mistake in the test, not input from a peer.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        self.build_server_config(names, None)
            .unwrap_or_else(|e| panic!("test CA: {e}: {}", source_text(&e)))
    }

    /// Like [`server_config`](Self::server_config), and the server requires a client
    /// certificate signed by this CA (see [`client_identity`](Self::client_identity)).
    /// A client without one fails the handshake; the server records the failure.
    ///
    /// # Panics
    ///
    /// As [`server_config`](Self::server_config).
    pub fn server_config_requiring_client_cert(&self, names: &[&str]) -> Arc<ServerConfig> {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.root_store()),
            Arc::clone(&self.provider),
        )
        .build()
        .map_err(|e| CaError::new("build the client certificate verifier", e));
        verifier
            .and_then(|v| self.build_server_config(names, Some(v)))
            .unwrap_or_else(|e| panic!("test CA: {e}: {}", source_text(&e)))
    }

    /// A client certificate for `common_name` (extended key usage `clientAuth`), signed
    /// by this CA, and its private key: what a rustls client passes to
    /// `with_client_auth_cert`.
    ///
    /// # Panics
    ///
    /// If `common_name` cannot be encoded or key generation fails.
    pub fn client_identity(
        &self,
        common_name_text: &str,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(common_name_text);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        self.issue(params)
            .map(|(cert, key)| (vec![cert], key))
            .unwrap_or_else(|e| panic!("test CA: {e}: {}", source_text(&e)))
    }

    fn build_server_config(
        &self,
        names: &[&str],
        client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    ) -> Result<Arc<ServerConfig>, CaError> {
        let owned: Vec<String> = names.iter().map(|&n| n.to_owned()).collect();
        let mut params = CertificateParams::new(owned)
            .map_err(|e| CaError::new("encode the server certificate's names", e))?;
        params.distinguished_name = common_name(names.first().copied().unwrap_or("localhost"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let (leaf, key) = self.issue(params)?;

        let builder = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| CaError::new("choose the protocol versions", e))?;
        let builder = match client_verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(vec![leaf], key)
            .map_err(|e| CaError::new("install the server certificate", e))?;
        config.alpn_protocols = vec![HTTP_11.to_vec()];
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
        config.ticketer = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| CaError::new("create the session ticketer", e))?;
        Ok(Arc::new(config))
    }

    /// Signs `params` with a fresh key.
    fn issue(
        &self,
        params: CertificateParams,
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), CaError> {
        let key = KeyPair::generate().map_err(|e| CaError::new("generate a key", e))?;
        let cert = params
            .signed_by(&key, &*self.issuer)
            .map_err(|e| CaError::new("sign a certificate", e))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((cert.der().clone(), key))
    }
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("root_der_len", &self.issuer.der().len())
            .finish_non_exhaustive()
    }
}

/// The rustls `ring` provider, the workspace's choice (it builds with the C compiler
/// every machine here has). rustls 0.23.48 deprecates it for lacking post-quantum key
/// exchange, which a loopback test server does not need.
#[allow(deprecated)]
fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

fn source_text(e: &CaError) -> String {
    e.source().map(ToString::to_string).unwrap_or_default()
}

/// Making a test CA or one of its certificates or configurations failed.
#[derive(Debug)]
pub struct CaError {
    what: &'static str,
    source: Box<dyn Error + Send + Sync>,
}

impl CaError {
    fn new(what: &'static str, source: impl Error + Send + Sync + 'static) -> Self {
        CaError {
            what,
            source: Box::new(source),
        }
    }
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not {}", self.what)
    }
}

impl Error for CaError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}
