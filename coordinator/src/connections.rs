//! Serving the API's HTTPS connections with timeouts on every one, so slow or stalled clients
//! (slowloris) cannot hold connections open: the TLS handshake must finish within
//! [`HEADER_READ_TIMEOUT`], and axum's own `serve` sets no header read timeout.
//! Bodies have their own deadline where they are read ([`crate::api::extract`]).
//!
//! HTTP/2 when the client offers it (ALPN): an agent's long-poll and its reports then share
//! one connection, so a fleet of N agents holds N connections, not 2N (each costs a file
//! descriptor and TLS buffers). The protocol is taken from ALPN, never guessed from the
//! first bytes, so a client that sends nothing still meets a deadline.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

mod first_byte;

use first_byte::FirstByteDeadline;

/// A client must send a request's whole head within this long, idle keep-alive included
/// (HTTP/1.1), or its first bytes after the handshake (HTTP/2).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests (long-polls answer at once then).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// An HTTP/2 connection is pinged this often, and closed when a ping goes unanswered for
/// [`PING_TIMEOUT`]: a peer that vanished must not hold its connection forever.
const PING_INTERVAL: Duration = Duration::from_secs(60);
/// See [`PING_INTERVAL`].
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests in flight on one HTTP/2 connection; an agent needs two (long-poll, report).
const MAX_STREAMS: u32 = 64;

/// The ALPN protocols offered, preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Serves `router` over TLS on `listener` until `stop` resolves, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    router: Router,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .max_concurrent_streams(MAX_STREAMS);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pass, and try again shortly.
                    tracing::warn!(error = %e, "failed to accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let (tls, builder, watcher) = (tls.clone(), builder.clone(), graceful.watcher());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HEADER_READ_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    // Plain HTTP, an unknown CA on the client's side, a scanner.
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    return;
                }
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(ALPN[0]);
            let builder = if h2 {
                builder.http2_only()
            } else {
                builder.http1_only()
            };
            let io = TokioIo::new(FirstByteDeadline::new(stream, HEADER_READ_TIMEOUT));
            let conn = builder.serve_connection(io, service).into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("closing connections still open after {DRAIN_TIMEOUT:?}");
    }
    Ok(())
}
