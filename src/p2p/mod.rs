//! The Bitcoin peer-to-peer wire and the broadcaster that uses it: ferry as a peer of the
//! network for the seconds it takes to hand one transaction over (DESIGN §5b).
//!
//! - [`message`] and [`wire`]: the messages a broadcast needs, their v1 framing and their
//!   BIP-0324 encoding, through ferry's own [`crate::tx`] types.
//! - [`transport`]: one connection, BIP-0324 v2 (the `bip324` crate, ADR 0007) with a v1
//!   fallback on a fresh connection over the same route; [`socks`] for the proxy route.
//! - [`session`]: the handshake, the hand-over, listening for an announcement.
//! - [`broadcast`]: senders and observers, and the per-peer report.
//!
//! An edge: it may import the core, and the core never imports it. Privacy properties and
//! what is not protected: `docs/p2p.md`.

pub mod broadcast;
pub mod error;
pub mod message;
pub mod seeds;
pub mod session;
pub mod socks;
pub mod transport;
pub mod wire;

pub use broadcast::{BroadcastConfig, P2pReport, PeerOutcome, broadcast, broadcast_package};
pub use error::{P2pError, WireError};
pub use message::{Inventory, Message, VersionMessage};
pub use transport::{Connection, Route, Transport};

#[cfg(test)]
mod tests {
    /// The layering rule (DESIGN §1): `p2p` builds on the core only — never on the wallet
    /// or another edge (the relay and the devnet build on it, not the other way round).
    #[test]
    fn p2p_imports_only_the_core() {
        let sources = [
            include_str!("broadcast.rs"),
            include_str!("error.rs"),
            include_str!("message.rs"),
            include_str!("seeds.rs"),
            include_str!("session.rs"),
            include_str!("socks.rs"),
            include_str!("transport.rs"),
            include_str!("wire.rs"),
        ];
        for src in sources {
            for edge in ["wallet", "chain", "relay", "devnet", "cli"] {
                assert!(
                    !src.contains(&format!("crate::{edge}")),
                    "p2p imports {edge}"
                );
            }
        }
    }
}
