//! A TCP listener that caps how many connections one IP address may hold open at once:
//! beyond the cap a new connection is closed as soon as it is accepted, before a byte of
//! it is read, so one host cannot take all of the relay's sockets (slowloris) from its
//! friends. Requests on a connection are limited elsewhere (rate limits, request slots).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Open connections per IP address.
type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// A [`TcpListener`] with a per-IP connection cap; serve it with `axum::serve`.
#[derive(Debug)]
pub struct CappedListener {
    inner: TcpListener,
    per_ip: usize,
    open: Counts,
}

impl CappedListener {
    /// Wraps `inner`, allowing each IP address at most `per_ip` open connections.
    pub fn new(inner: TcpListener, per_ip: usize) -> Self {
        CappedListener {
            inner,
            per_ip: per_ip.max(1),
            open: Counts::default(),
        }
    }

    /// Takes a slot for `ip`; false if it holds `per_ip` connections already.
    fn admit(&self, ip: IpAddr) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        let n = open.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return false;
        }
        *n += 1;
        true
    }
}

impl axum::serve::Listener for CappedListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) if self.admit(addr.ip()) => {
                    let io = CountedStream {
                        inner: stream,
                        ip: addr.ip(),
                        open: Arc::clone(&self.open),
                    };
                    return (io, addr);
                }
                Ok((stream, addr)) => {
                    tracing::debug!(peer = %addr.ip(), "connection refused: per-IP cap");
                    drop(stream);
                }
                // As axum's own listener does: a full descriptor table or a reset before
                // accept must not end the server; back off briefly and go on.
                Err(e) => {
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; gives its IP's slot back when closed.
#[derive(Debug)]
pub struct CountedStream {
    inner: TcpStream,
    ip: IpAddr,
    open: Counts,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(n) = open.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_cap_closes_extra_connections_and_frees_on_close() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut l = CappedListener::new(tcp, 2);
        let a = TcpStream::connect(addr).await.unwrap();
        let (ia, _) = l.accept().await;
        let _b = TcpStream::connect(addr).await.unwrap();
        let (_ib, _) = l.accept().await;
        // The third is accepted by the kernel but closed by the listener at once.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let accept4 = tokio::spawn(async move {
            let r = l.accept().await;
            (l, r)
        });
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("closed, not left hanging");
        assert!(matches!(n, Ok(0) | Err(_)));
        // Closing one frees its slot for the next.
        drop(ia);
        drop(a);
        let _d = TcpStream::connect(addr).await.unwrap();
        let (_l, (_id, _)) = tokio::time::timeout(std::time::Duration::from_secs(5), accept4)
            .await
            .unwrap()
            .unwrap();
    }
}
