//! The address this host registers: the source address of its route to the coordinator.
//!
//! A connected UDP socket sends nothing; the kernel just picks the route and source address.

use std::io;
use std::net::{IpAddr, SocketAddr};

use reqwest::Url;
use tokio::net::UdpSocket;

/// The local address the kernel would use to reach `coordinator`.
pub async fn source_address(coordinator: &Url) -> io::Result<IpAddr> {
    let host = coordinator
        .host_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL has no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = coordinator.port_or_known_default().unwrap_or(80);
    let target = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name has no address"))?;
    let any: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(any).await?;
    socket.connect(target).await?;
    Ok(socket.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_routes_from_loopback() {
        let url = Url::parse("http://127.0.0.1:7700").unwrap();
        assert_eq!(
            source_address(&url).await.unwrap(),
            IpAddr::from([127, 0, 0, 1])
        );
    }
}
