//! The devnet: an embedded regtest chain with an Esplora-compatible HTTP API, so nobody
//! needs a node, Docker or money to try ferry.
//!
//! An edge module: it builds on the core ([`crate::tx`], [`crate::script`],
//! [`crate::consensus`], [`crate::sign`]) and the core never imports it.
//!
//! - [`block`]: headers, blocks, merkle roots, witness commitments, regtest genesis, PoW.
//! - [`chain`]: the UTXO set and the block rules the devnet enforces; [`txrules`]: the
//!   transaction rules it shares with the mempool.
//! - [`policy`], [`mempool`], [`mempool::replace`] and [`mempool::truc`]: Bitcoin Core's relay policy (as of
//!   Core 30/31: full RBF, cluster limits, TRUC), held to a real Core's verdicts by
//!   tests/core_differential.rs.
//! - [`package`]: package relay as Core's `submitpackage`.
//! - [`index`]: history and UTXOs by Esplora scripthash.
//! - [`api`] (Esplora REST, with [`esplora`]'s shapes and [`merkle`]'s proofs) and [`rpc`]
//!   (Core's JSON-RPC subset): the HTTP surface.
//! - [`store`]: SQLite persistence; [`node`]: everything together, mining and the faucet.
//! - [`p2p`]: the peer-to-peer listener (v1 and BIP-0324 v2) that takes and announces
//!   transactions.

pub mod api;
pub mod block;
pub mod chain;
pub mod esplora;
pub mod index;
#[cfg(feature = "kernel")]
pub mod kernel;
pub mod mempool;
pub mod merkle;
pub mod node;
pub mod p2p;
pub mod package;
pub mod policy;
pub mod rpc;
pub mod state;
pub mod store;
pub mod txrules;

pub use api::{app, run};
pub use node::{Devnet, DevnetError};
pub use state::DevnetState;
