//! The harness the tests share: the ferry binary (`cli`), an in-process devnet (`devnet`),
//! a real bitcoind (`bitcoin_core`), relays on ephemeral ports (`relay`, `friends`), nodes
//! and peers for the peer-to-peer tests (`p2p`), and the differential cases against Core
//! (`diff`).

pub mod bitcoin_core;
pub mod cli;
pub mod devnet;
pub mod diff;
pub mod friends;
pub mod p2p;
pub mod relay;
