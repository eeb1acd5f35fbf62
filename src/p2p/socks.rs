//! A SOCKS5 client (RFC 1928) with username/password authentication (RFC 1929), just
//! enough to open one TCP stream to `host:port` through a proxy such as Tor.
//!
//! The destination is always sent as a name (ATYP 3), so the proxy resolves it and no
//! DNS query leaves this machine; every connection uses fresh random credentials, which
//! Tor takes as a request for its own circuit (stream isolation).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::P2pError;

/// Random credentials for one connection: 16 hex characters each.
pub fn random_credentials() -> Result<(String, String), P2pError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| P2pError::Proxy(format!("no randomness: {e}")))?;
    Ok((hex::encode(&b[..8]), hex::encode(&b[8..])))
}

/// Opens a stream to `host:port` through the SOCKS5 proxy at `proxy` (`HOST:PORT`),
/// authenticating with `user`/`pass`.
///
/// # Errors
/// [`P2pError::Proxy`] when the proxy is unreachable, refuses the credentials or the
/// connection (with the proxy's reply code named).
pub async fn connect(
    proxy: &str,
    host: &str,
    port: u16,
    user: &str,
    pass: &str,
) -> Result<TcpStream, P2pError> {
    let mut s = TcpStream::connect(proxy)
        .await
        .map_err(|e| P2pError::Proxy(format!("cannot reach the proxy at {proxy}: {e}")))?;
    let io = |e: std::io::Error| P2pError::Proxy(format!("proxy connection failed: {e}"));
    // Greeting: version 5, one method, username/password (2).
    s.write_all(&[5, 1, 2]).await.map_err(io)?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await.map_err(io)?;
    if reply != [5, 2] {
        return Err(P2pError::Proxy(format!(
            "the proxy does not accept username/password authentication (reply {reply:02x?})"
        )));
    }
    let (Ok(ulen), Ok(plen)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
        return Err(P2pError::Proxy("SOCKS credentials longer than 255".into()));
    };
    let mut auth = vec![1, ulen];
    auth.extend_from_slice(user.as_bytes());
    auth.push(plen);
    auth.extend_from_slice(pass.as_bytes());
    s.write_all(&auth).await.map_err(io)?;
    s.read_exact(&mut reply).await.map_err(io)?;
    if reply[1] != 0 {
        return Err(P2pError::Proxy("the proxy refused the credentials".into()));
    }
    let Ok(hlen) = u8::try_from(host.len()) else {
        return Err(P2pError::Proxy(format!("host name too long: {host}")));
    };
    let mut req = vec![5, 1, 0, 3, hlen];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).await.map_err(io)?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.map_err(io)?;
    if head[1] != 0 {
        return Err(P2pError::Proxy(format!(
            "the proxy could not connect to {host}:{port}: {}",
            reply_text(head[1])
        )));
    }
    // Skip the bound address the proxy reports.
    let skip = match head[3] {
        1 => 4,
        4 => 16,
        3 => usize::from(s.read_u8().await.map_err(io)?),
        t => return Err(P2pError::Proxy(format!("bad address type {t} in reply"))),
    };
    let mut rest = vec![0u8; skip + 2];
    s.read_exact(&mut rest).await.map_err(io)?;
    Ok(s)
}

fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "not allowed by the proxy's rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}
