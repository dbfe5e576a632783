//! Serving an axum router over HTTP/1.1, plain or TLS, with the limits a public service
//! needs against slow, idle and hoarding clients, in one place for the portal and the hub's
//! runner API:
//!
//! - a connection must send a request's headers within [`Limits::header_read_timeout`] of
//!   opening or of its previous response (the same clock closes idle keep-alive
//!   connections);
//! - a request's body must arrive whole within [`Limits::body_read_timeout`] of its
//!   headers, or the request is answered `408 request_timeout` and the connection closed;
//! - a TLS handshake must finish within [`Limits::handshake_timeout`];
//! - one source address (an IPv6 /64) holds at most [`Limits::max_connections_per_address`]
//!   connections: its next one is accepted and closed at once, never queued;
//! - at most [`Limits::max_connections`] connections are open at once; when all are taken, a
//!   connection from an address under its cap gets in by closing the oldest connection that
//!   is not inside a request (see `connections` in the source for the whole rule);
//! - the unread rest of a refused request is read out before the answer goes
//!   ([`drain`]), so the client sees the answer rather than a reset connection.
//!
//! Shutdown is graceful: no new connections, in-flight requests finish (up to 30 s).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod connections;
pub mod drain;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// What a client gets before its connection is closed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a request's headers, from the connection's start or its previous
    /// response: closes half-sent requests and idle keep-alive connections alike.
    pub header_read_timeout: Duration,
    /// Time to send a request's whole body, from the end of its headers.
    pub body_read_timeout: Duration,
    /// Time to finish a TLS handshake.
    pub handshake_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one source address (IPv4 address, IPv6 /64); at most
    /// `max_connections`.
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_address: 64,
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read or holds no usable certificate.
    #[error("TLS certificate {path}: {message}")]
    Certificate {
        /// The certificate file.
        path: String,
        /// What was wrong with it.
        message: String,
    },
    /// The private key file could not be read or holds no usable key.
    #[error("TLS key {path}: {message}")]
    Key {
        /// The key file.
        path: String,
        /// What was wrong with it.
        message: String,
    },
    /// rustls refused the certificate and key together.
    #[error("TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS server configuration from a PEM certificate chain and a PEM private key (rustls
/// with the ring provider: no C toolchain).
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).and_then(|certs| certs.collect()).map_err(|e| {
            TlsError::Certificate { path: cert.display().to_string(), message: e.to_string() }
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.display().to_string(),
            message: "no certificate in the file".into(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key { path: key.display().to_string(), message: e.to_string() })?;
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, private)?;
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` until `shutdown` completes; with `tls`, over TLS.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let router = router.layer(axum::middleware::from_fn(drain::drain_unread));
    let registry =
        connections::Registry::new(limits.max_connections_per_address, limits.max_connections);
    let graceful = GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Over its address's cap (or nothing to make room): closed at once, not queued, so
        // that a hoarding address never delays another's connections.
        let Some(ticket) = registry.admit(peer.ip(), std::time::Instant::now()) else {
            drop(stream);
            continue;
        };
        // No Nagle delay: a response is one write, and the client waits for it.
        let _ = stream.set_nodelay(true);
        let service = timed_service(router.clone(), ticket.handle(), limits.body_read_timeout);
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let handshake_timeout = limits.handshake_timeout;
        tokio::spawn(async move {
            let served = async move {
                match acceptor {
                    None => {
                        let connection = builder.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(connection).await
                    }
                    Some(acceptor) => {
                        let Ok(Ok(stream)) =
                            tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        else {
                            return Ok(());
                        };
                        let connection = builder.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(connection).await
                    }
                }
            };
            // Closed for a newcomer when the server is full: dropping the connection closes
            // its socket.
            let result = tokio::select! {
                result = served => result,
                () = ticket.evicted() => Ok(()),
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(ticket);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open 30 s after shutdown began: closing them");
    }
    Ok(())
}

/// `router` as one connection's service: each request marks the connection busy until its
/// answer is sent, and its body must arrive within `body_timeout`.
fn timed_service(
    router: axum::Router,
    connection: connections::Handle,
    body_timeout: Duration,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>>
             + Send
             + 'static,
> + Clone
+ Send
+ 'static {
    let inner = TowerToHyperService::new(router);
    hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let busy = connection.busy();
        let timed_out = Arc::new(AtomicBool::new(false));
        let request = request.map(|b| body::Timed::new(b, body_timeout, timed_out.clone()));
        let answer = hyper::service::Service::call(&inner, request);
        async move {
            let Ok(response) = answer.await;
            if timed_out.load(Ordering::Relaxed) {
                return Ok(request_timeout(body_timeout));
            }
            // Busy until the answer is sent whole: a long export is not idle.
            Ok(response.map(|b| axum::body::Body::new(body::Holding::new(b, busy))))
        }
    })
}

/// `408 request_timeout`, closing the connection (the rest of the body is not waited for).
fn request_timeout(within: Duration) -> axum::response::Response {
    let body = format!(
        "{{\"error\":{{\"code\":\"request_timeout\",\"message\":\"the request's body did not arrive within {} s\"}}}}",
        within.as_secs()
    );
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = hyper::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are registered when this is called,
/// not when the future is first polled: a service manager's SIGTERM that arrives just after
/// the server announced itself must stop it gracefully, not kill it by the default action.
/// Call inside the runtime, before announcing the listening address.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
