//! Why a peer-to-peer message did not decode, and why a connection ended.

use thiserror::Error;

use crate::network::Network;

/// A message from a peer that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// The frame starts with another network's (or no network's) magic bytes.
    #[error("bad magic {found}: not a {expected} peer-to-peer message")]
    BadMagic {
        /// The network expected.
        expected: &'static str,
        /// The four bytes received, hex.
        found: String,
    },
    /// The payload does not match the checksum in the header.
    #[error("bad checksum on a {command:?} message")]
    BadChecksum {
        /// The command of the frame.
        command: String,
    },
    /// The header announces a payload above the protocol's limit.
    #[error("oversize message: {len} bytes announced, at most {max}")]
    Oversize {
        /// The length announced.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// The command field is not printable ASCII padded with NULs.
    #[error("malformed command field {0}")]
    Command(String),
    /// The payload does not decode as its command says.
    #[error("malformed {command} payload: {reason}")]
    Payload {
        /// The command.
        command: String,
        /// What was wrong.
        reason: String,
    },
    /// A v2 packet with no contents.
    #[error("empty v2 message")]
    Empty,
    /// A v2 message shorter than its command field.
    #[error("truncated message")]
    Truncated,
}

/// Why a connection to a peer ended before its job was done.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum P2pError {
    /// The network has no peer-to-peer support in ferry.
    #[error("ferry does not speak the {0} peer-to-peer protocol: use a backend or a relay")]
    Unsupported(Network),
    /// Connecting failed (refused, unreachable, name not found).
    #[error("could not connect to {peer}: {error}")]
    Connect {
        /// The peer as given.
        peer: String,
        /// The I/O error (in the message, not a `source()`: printed once).
        error: std::io::Error,
    },
    /// A peer address that is not `HOST:PORT`.
    #[error("{0:?} is not HOST:PORT")]
    BadAddress(String),
    /// No peer to talk to (none given, none found).
    #[error("{0}")]
    NoPeers(String),
    /// The SOCKS5 proxy could not be used or refused the connection.
    #[error("proxy: {0}")]
    Proxy(String),
    /// A step took longer than allowed.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The peer closed the connection.
    #[error("the peer closed the connection {0}")]
    Closed(&'static str),
    /// The BIP-0324 handshake failed.
    #[error("v2 handshake failed: {0}")]
    Handshake(String),
    /// The BIP-0324 session failed after its handshake (bad packet, decryption).
    #[error("v2 transport: {0}")]
    Transport(String),
    /// A read or write failed.
    #[error("i/o: {0}")]
    Io(std::io::Error),
    /// The peer sent something that does not decode.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The peer broke the protocol (a message out of order, a version we cannot use).
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer does not relay transactions, so handing one over is pointless.
    #[error("the peer does not relay transactions")]
    NoRelay,
    /// The peer did not ask for the transaction after it was announced.
    #[error("the peer never asked for the transaction")]
    NotRequested,
}

// By hand rather than `#[from]`, which would also make the cause a `source()`: the message
// already carries it, and it should print once.
impl From<std::io::Error> for P2pError {
    fn from(e: std::io::Error) -> Self {
        P2pError::Io(e)
    }
}
