//! The sandbox over HTTPS, as OmniLab is reached in production: a certificate made at start for
//! the tenant's host name, ALPN offering `h2` and `http/1.1` (or `http/1.1` alone), and a record
//! of every handshake (the name the client asked for, the protocol agreed on).
//!
//! # Why a connection loop of our own
//! `axum::serve` hides the connection. The tests need it: to count handshakes (is the pool
//! reused?), to see SNI and ALPN, and to break a connection in the middle of an answer the two
//! ways a real one breaks: a TCP reset, and an HTTP/2 GOAWAY followed by the close. A handler
//! reaches its connection through the [`Link`] each request carries as an extension.
//!
//! # Certificates
//! [`Authority`] is a certificate authority made for one test (or one dev-server run): the
//! client is told to trust its root through the product's `test-tls` feature. What the server
//! presents is chosen with [`Presented`]: a valid certificate for the host, one for another
//! name, an expired one, or one from an authority nobody trusts.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::{Sandbox, lock};

/// A certificate authority of our own, made fresh: only a client told to trust
/// [`root_pem`](Self::root_pem) accepts what it signs.
pub struct Authority {
    issuer: Issuer<'static, KeyPair>,
    root: CertificateDer<'static>,
    root_pem: String,
}

impl Authority {
    pub fn new(name: &str) -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate()?;
        let root = params.self_signed(&key)?;
        Ok(Self {
            root_pem: root.pem(),
            root: root.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root
    }

    /// The root certificate, PEM: what a client trusts.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// A server certificate for `host`, valid from a day ago for a year unless `expired`.
    fn issue(
        &self,
        host: &str,
        expired: bool,
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), rcgen::Error> {
        let mut params = CertificateParams::new(vec![host.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = time::OffsetDateTime::now_utc();
        let day = Duration::from_secs(86_400);
        if expired {
            params.not_before = now - day * 30;
            params.not_after = now - day;
        } else {
            params.not_before = now - day;
            params.not_after = now + day * 365;
        }
        let key = KeyPair::generate()?;
        let certificate = params.signed_by(&key, &self.issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((certificate.der().clone(), key))
    }
}

/// What the sandbox presents in the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// A certificate for the host, from the trusted authority.
    Valid,
    /// A certificate for another name, from the trusted authority.
    ForAnotherHost,
    /// A certificate for the host, from the trusted authority, that expired yesterday.
    Expired,
    /// A certificate for the host from an authority the client does not trust.
    Untrusted,
}

/// The protocols the sandbox offers in ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocols {
    /// `h2`, then `http/1.1`: what OmniLab's load balancer offers.
    H2AndHttp11,
    /// `http/1.1` only: an HTTP/1.1 server behind TLS.
    Http11Only,
}

/// One connection whose handshake completed, as the sandbox saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The SNI name the client sent.
    pub server_name: Option<String>,
    /// The protocol ALPN settled on (`h2`, `http/1.1`), if any.
    pub protocol: Option<String>,
    /// Requests served on it.
    pub requests: u64,
    /// The most requests it had in flight at once (headers not yet answered).
    pub peak_in_flight: u64,
    in_flight: u64,
}

/// The sandbox serving HTTPS on loopback.
pub struct TlsSandbox {
    pub addr: SocketAddr,
    connections: Connections,
    refused: Arc<AtomicU64>,
}

type Connections = Arc<Mutex<Vec<Connection>>>;

impl TlsSandbox {
    /// Every connection whose handshake completed, oldest first: one per handshake.
    pub fn connections(&self) -> Vec<Connection> {
        lock(&self.connections).clone()
    }

    /// Handshakes that did not complete (the client refused the certificate, or hung up).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// How a handler asks its connection to break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    Nothing,
    /// Close the socket with a TCP reset (`SO_LINGER` 0).
    Reset,
    /// HTTP/2: send GOAWAY, then close with streams still open.
    GoAway,
}

/// The connection a request came in on, for handlers that break it on purpose.
#[derive(Clone)]
pub(crate) struct Link(Arc<watch::Sender<Cut>>);

impl Link {
    pub(crate) fn cut(&self, how: Cut) {
        self.0.send_replace(how);
    }
}

/// How the sandbox serves HTTPS.
#[derive(Clone, Copy)]
pub struct Tls<'a> {
    /// The authority the client trusts (see [`Presented`] for what it signs).
    pub authority: &'a Authority,
    /// The host name the client will ask for: a tenant host under OmniLab's real domain.
    pub host: &'a str,
    pub presented: Presented,
    pub protocols: Protocols,
}

impl Sandbox {
    /// Serves HTTPS on `addr` (port 0 for any free port) in a background task.
    pub async fn serve_tls(&self, addr: SocketAddr, tls: Tls<'_>) -> std::io::Result<TlsSandbox> {
        let Tls {
            authority,
            host,
            presented,
            protocols,
        } = tls;
        let invalid = |e: rcgen::Error| std::io::Error::other(e.to_string());
        let (certificate, key) = match presented {
            Presented::Valid => authority.issue(host, false),
            Presented::ForAnotherHost => authority.issue("another-tenant.example.org", false),
            Presented::Expired => authority.issue(host, true),
            Presented::Untrusted => {
                Authority::new("Nobody's root").and_then(|stranger| stranger.issue(host, false))
            }
        }
        .map_err(invalid)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .map_err(std::io::Error::other)?;
        config.alpn_protocols = match protocols {
            Protocols::H2AndHttp11 => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Protocols::Http11Only => vec![b"http/1.1".to_vec()],
        };
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let served = TlsSandbox {
            addr: listener.local_addr()?,
            connections: Arc::default(),
            refused: Arc::default(),
        };
        let (connections, refused) = (served.connections.clone(), served.refused.clone());
        let router = self.router();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    // Out of file descriptors, say: wait rather than spin, as axum::serve does.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                // As axum::serve does, and as OmniLab's load balancer surely does: with Nagle on,
                // a response's second TLS record waits for the client's delayed ACK (40 ms).
                let _ = tcp.set_nodelay(true);
                let (acceptor, router) = (acceptor.clone(), router.clone());
                let (connections, refused) = (connections.clone(), refused.clone());
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(tls) => {
                            let (_, session) = tls.get_ref();
                            let seen = Connection {
                                server_name: session.server_name().map(str::to_owned),
                                protocol: session
                                    .alpn_protocol()
                                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                                requests: 0,
                                peak_in_flight: 0,
                                in_flight: 0,
                            };
                            let index = {
                                let mut all = lock(&connections);
                                all.push(seen);
                                all.len() - 1
                            };
                            serve_connection(tls, router, Tally { connections, index }).await;
                        }
                        Err(_) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        Ok(served)
    }
}

/// Counts one connection's requests into its [`Connection`].
#[derive(Clone)]
struct Tally {
    connections: Connections,
    index: usize,
}

impl Tally {
    fn update(&self, change: impl FnOnce(&mut Connection)) {
        if let Some(connection) = lock(&self.connections).get_mut(self.index) {
            change(connection);
        }
    }
}

/// Serves one connection until it ends, or until a handler cuts it.
async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    router: Router,
    tally: Tally,
) {
    // A second handle on the socket, to set SO_LINGER for a reset after hyper owns the stream;
    // the socket closes when both are dropped, at the end of this function.
    let socket = socket2::SockRef::from(tls.get_ref().0).try_clone().ok();
    let (sender, mut cut) = watch::channel(Cut::Nothing);
    let link = Link(Arc::new(sender));
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(link.clone());
        let mut router = router.clone();
        let tally = tally.clone();
        tally.update(|c| {
            c.requests += 1;
            c.in_flight += 1;
            c.peak_in_flight = c.peak_in_flight.max(c.in_flight);
        });
        async move {
            let response = router.call(request).await.unwrap_or_else(|e| match e {});
            tally.update(|c| c.in_flight -= 1);
            Ok::<_, Infallible>(response)
        }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        changed = cut.changed() => if changed.is_err() { return; },
    }
    let how = *cut.borrow();
    match how {
        Cut::Nothing => {}
        Cut::GoAway => {
            // The GOAWAY frames go out while the connection is polled; the stream that asked
            // for this never finishes, so the connection is then closed under it.
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_millis(100), connection.as_mut()).await;
        }
        Cut::Reset => {
            if let Some(socket) = &socket {
                let _ = socket.set_linger(Some(Duration::ZERO));
            }
        }
    }
}
