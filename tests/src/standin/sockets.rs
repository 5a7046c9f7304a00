//! Binding every port a real backend binds — HTTP, gRPC, memberlist TCP and UDP, Tempo's OTLP
//! receivers — so a clash fails at start as loudly as it does upstream. Only HTTP speaks; the
//! others accept and discard.

use std::io;
use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

use super::config::Listen;

/// Why a port could not be bound, in Go's words.
#[derive(Debug, thiserror::Error)]
#[error("error initialising module: {what}: listen {proto} {addr}: bind: {source}")]
pub struct BindError {
    what: &'static str,
    proto: &'static str,
    addr: SocketAddr,
    #[source]
    source: io::Error,
}

/// Every socket of one process.
pub struct Bound {
    /// HTTP API.
    pub http: TcpListener,
    /// gRPC, where queriers hold a connection to their frontend ([`super::workers`]).
    pub grpc: TcpListener,
    /// OTLP/HTTP receiver.
    pub otlp_http: Option<TcpListener>,
    /// Sockets that only accept or receive.
    pub silent: Vec<Silent>,
}

/// A socket nobody talks to in earnest.
pub enum Silent {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

async fn tcp(what: &'static str, addr: SocketAddr) -> Result<TcpListener, BindError> {
    TcpListener::bind(addr).await.map_err(|source| BindError {
        what,
        proto: "tcp",
        addr,
        source,
    })
}

/// Binds everything `listen` names.
pub async fn bind(listen: &Listen) -> Result<Bound, BindError> {
    let http = tcp("server", listen.http).await?;
    let grpc = tcp("server", listen.grpc).await?;
    let mut silent = vec![Silent::Tcp(tcp("memberlist-kv", listen.memberlist).await?)];
    let udp = UdpSocket::bind(listen.memberlist)
        .await
        .map_err(|source| BindError {
            what: "memberlist-kv",
            proto: "udp",
            addr: listen.memberlist,
            source,
        })?;
    silent.push(Silent::Udp(udp));
    if let Some(addr) = listen.otlp_grpc {
        silent.push(Silent::Tcp(tcp("distributor", addr).await?));
    }
    let otlp_http = match listen.otlp_http {
        Some(addr) => Some(tcp("distributor", addr).await?),
        None => None,
    };
    Ok(Bound {
        http,
        grpc,
        otlp_http,
        silent,
    })
}

/// Accepts connections (reading them to EOF) or receives datagrams, forever.
pub async fn drain(socket: Silent) {
    match socket {
        Silent::Tcp(l) => loop {
            let Ok((mut conn, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        },
        Silent::Udp(u) => {
            let mut buf = [0u8; 65_536];
            while u.recv_from(&mut buf).await.is_ok() {}
        }
    }
}
