//! The relay: a friend's transaction broadcaster (DESIGN.md section 5,
//! `docs/relay-protocol.md`). An edge module: HTTP server (axum), client (reqwest), NIP-98
//! auth, a durable SQLite queue and a worker that broadcasts to a chain backend.

pub mod auth;
pub mod claims;
pub mod client;
pub mod error;
pub mod friends;
pub mod gate;
pub mod limits;
pub mod listener;
pub mod outspends;
pub mod package;
pub mod queue;
pub mod receipt;
pub mod server;
pub mod state;
pub mod status;
pub mod submit;
pub mod validate;
pub mod worker;

pub use error::AppError;
pub use server::{app, run};
pub use state::{AppState, AuthMode, RelayConfig};
