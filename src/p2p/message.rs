//! The messages ferry speaks on the Bitcoin peer-to-peer network, and their payloads.
//!
//! Only what a broadcast needs is decoded; every other message a node sends (`sendcmpct`,
//! `feefilter`, `addrv2`, headers…) is kept as [`Message::Other`] and ignored by the caller.

use super::error::WireError;
use crate::tx::encode::{Reader, write_compact_size, write_var_bytes};
use crate::tx::{Transaction, Txid, Wtxid};

/// The protocol version ferry announces: the one Bitcoin Core's private broadcast uses
/// (BIP-0339 wtxid relay needs at least 70016).
pub const PROTOCOL_VERSION: i32 = 70016;

/// The user agent of a sending connection: the constant Bitcoin Core 31 sends on its
/// private broadcast connections (`PushNodeVersion`, net_processing.cpp), so a receiving
/// node cannot tell ferry from a Core node broadcasting privately, nor link the connection
/// to any configured user agent.
pub const PRIVATE_USER_AGENT: &str = "/pynode:0.0.1/";

/// Most inventory items in one `inv`/`getdata`/`notfound` (Core's MAX_INV_SZ).
pub const MAX_INV_ITEMS: usize = 50_000;

/// Inventory type of a transaction announced by txid.
pub const MSG_TX: u32 = 1;
/// Inventory type of a transaction announced by wtxid (BIP-0339).
pub const MSG_WTX: u32 = 5;
/// The witness flag `getdata` may set on `MSG_TX` (BIP-0144).
pub const MSG_WITNESS_FLAG: u32 = 1 << 30;

/// One inventory item: what kind of object, and its hash in internal byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inventory {
    /// `MSG_TX`, `MSG_WTX`, `MSG_BLOCK`… (with flags as sent).
    pub kind: u32,
    /// The object's hash, internal byte order.
    pub hash: [u8; 32],
}

impl Inventory {
    /// A transaction announced by txid.
    pub fn tx(txid: Txid) -> Self {
        Self {
            kind: MSG_TX,
            hash: txid.to_byte_array(),
        }
    }

    /// A transaction announced by wtxid.
    pub fn wtx(wtxid: Wtxid) -> Self {
        Self {
            kind: MSG_WTX,
            hash: wtxid.to_byte_array(),
        }
    }

    /// Returns true if this item names a transaction (by txid or wtxid, with or without
    /// the witness flag).
    pub fn is_tx(&self) -> bool {
        matches!(self.kind & !MSG_WITNESS_FLAG, MSG_TX | MSG_WTX)
    }

    /// Returns true if this item names `tx` — by its txid, or by its wtxid when announced
    /// as `MSG_WTX` (a copy with the same txid but another witness is a different wtxid).
    pub fn names(&self, tx: &Transaction) -> bool {
        match self.kind & !MSG_WITNESS_FLAG {
            MSG_TX => self.hash == tx.txid().to_byte_array(),
            MSG_WTX => self.hash == tx.wtxid().to_byte_array(),
            _ => false,
        }
    }
}

/// A `version` message (the fields Core sends; addresses without their timestamp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMessage {
    /// Protocol version.
    pub version: i32,
    /// Service bits of the sender.
    pub services: u64,
    /// Sender's clock, seconds since the epoch.
    pub timestamp: i64,
    /// Receiver's services as the sender sees them, then its address (IPv6 or mapped v4)
    /// and port.
    pub addr_recv: (u64, [u8; 16], u16),
    /// Sender's services, address and port.
    pub addr_from: (u64, [u8; 16], u16),
    /// Random nonce (connection-to-self detection).
    pub nonce: u64,
    /// Sender's user agent.
    pub user_agent: String,
    /// Sender's best height.
    pub start_height: i32,
    /// Whether the sender wants transaction announcements (BIP-0037).
    pub relay: bool,
}

impl VersionMessage {
    /// The `version` of a broadcasting connection: nothing about this node — no services,
    /// time 0, zero addresses, the generic user agent, height 0 — and a random nonce.
    /// `relay` is false on senders (nothing should be announced to them) and true on
    /// observers (they are there to hear announcements).
    pub fn anonymous(nonce: u64, relay: bool) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            services: 0,
            timestamp: 0,
            addr_recv: (0, [0; 16], 0),
            addr_from: (0, [0; 16], 0),
            nonce,
            user_agent: PRIVATE_USER_AGENT.to_owned(),
            start_height: 0,
            relay,
        }
    }
}

/// A peer-to-peer message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// `version`.
    Version(VersionMessage),
    /// `verack`.
    Verack,
    /// `wtxidrelay` (BIP-0339), sent before `verack`.
    WtxidRelay,
    /// `sendaddrv2` (BIP-0155), sent before `verack`.
    SendAddrV2,
    /// `inv`.
    Inv(Vec<Inventory>),
    /// `getdata`.
    GetData(Vec<Inventory>),
    /// `notfound`.
    NotFound(Vec<Inventory>),
    /// `tx`.
    Tx(Transaction),
    /// `ping` with its nonce.
    Ping(u64),
    /// `pong` with the nonce of the ping it answers.
    Pong(u64),
    /// Anything else, undecoded.
    Other {
        /// The command name.
        command: String,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

/// BIP-0324 short message ids of the messages above that have one.
const SHORT_IDS: [(u8, &str); 6] = [
    (11, "getdata"),
    (14, "inv"),
    (17, "notfound"),
    (18, "ping"),
    (19, "pong"),
    (21, "tx"),
];

impl Message {
    /// Returns the command name.
    pub fn command(&self) -> &str {
        match self {
            Message::Version(_) => "version",
            Message::Verack => "verack",
            Message::WtxidRelay => "wtxidrelay",
            Message::SendAddrV2 => "sendaddrv2",
            Message::Inv(_) => "inv",
            Message::GetData(_) => "getdata",
            Message::NotFound(_) => "notfound",
            Message::Tx(_) => "tx",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
            Message::Other { command, .. } => command,
        }
    }

    /// Returns the payload bytes.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Message::Version(v) => {
                out.extend_from_slice(&v.version.to_le_bytes());
                out.extend_from_slice(&v.services.to_le_bytes());
                out.extend_from_slice(&v.timestamp.to_le_bytes());
                for (services, ip, port) in [v.addr_recv, v.addr_from] {
                    out.extend_from_slice(&services.to_le_bytes());
                    out.extend_from_slice(&ip);
                    out.extend_from_slice(&port.to_be_bytes());
                }
                out.extend_from_slice(&v.nonce.to_le_bytes());
                write_var_bytes(&mut out, v.user_agent.as_bytes());
                out.extend_from_slice(&v.start_height.to_le_bytes());
                out.push(u8::from(v.relay));
            }
            Message::Verack | Message::WtxidRelay | Message::SendAddrV2 => {}
            Message::Inv(items) | Message::GetData(items) | Message::NotFound(items) => {
                write_compact_size(&mut out, items.len() as u64);
                for item in items {
                    out.extend_from_slice(&item.kind.to_le_bytes());
                    out.extend_from_slice(&item.hash);
                }
            }
            Message::Tx(tx) => out = tx.serialize(),
            Message::Ping(nonce) | Message::Pong(nonce) => {
                out.extend_from_slice(&nonce.to_le_bytes())
            }
            Message::Other { payload, .. } => out.clone_from(payload),
        }
        out
    }

    /// Decodes a payload received under `command`.
    ///
    /// # Errors
    /// [`WireError::Payload`] naming the command when the payload does not decode.
    pub fn decode(command: &str, payload: &[u8]) -> Result<Self, WireError> {
        let bad = |e: crate::tx::DecodeError| WireError::Payload {
            command: command.to_owned(),
            reason: e.to_string(),
        };
        let mut r = Reader::new(payload);
        let msg = match command {
            "version" => Message::Version(decode_version(&mut r).map_err(bad)?),
            // Newer fields after `relay` are allowed (Core reads what it knows).
            "verack" => Message::Verack,
            "wtxidrelay" => Message::WtxidRelay,
            "sendaddrv2" => Message::SendAddrV2,
            "inv" => Message::Inv(decode_inv(&mut r, command)?),
            "getdata" => Message::GetData(decode_inv(&mut r, command)?),
            "notfound" => Message::NotFound(decode_inv(&mut r, command)?),
            "tx" => {
                let tx = Transaction::decode_from(&mut r).map_err(bad)?;
                r.finish().map_err(bad)?;
                Message::Tx(tx)
            }
            "ping" => Message::Ping(r.u64("ping nonce").map_err(bad)?),
            "pong" => Message::Pong(r.u64("pong nonce").map_err(bad)?),
            _ => Message::Other {
                command: command.to_owned(),
                payload: payload.to_vec(),
            },
        };
        Ok(msg)
    }

    /// Returns the BIP-0324 encoding of the message: a short id byte, or 0 and the
    /// 12-byte command, then the payload.
    pub fn to_v2_bytes(&self) -> Vec<u8> {
        let command = self.command();
        let mut out = match SHORT_IDS.iter().find(|(_, c)| *c == command) {
            Some((id, _)) => vec![*id],
            None => {
                let mut v = vec![0u8];
                v.extend_from_slice(&command_bytes(command));
                v
            }
        };
        out.extend_from_slice(&self.payload());
        out
    }

    /// Decodes a BIP-0324 message (the contents of one genuine packet).
    ///
    /// # Errors
    /// [`WireError::Empty`] for an empty packet, [`WireError::UnknownShortId`],
    /// [`WireError::Command`] for a bad long command, or a payload error.
    pub fn from_v2_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let (&first, rest) = bytes.split_first().ok_or(WireError::Empty)?;
        if first == 0 {
            if rest.len() < 12 {
                return Err(WireError::Truncated);
            }
            let (cmd, payload) = rest.split_at(12);
            let cmd: [u8; 12] = cmd.try_into().map_err(|_| WireError::Truncated)?;
            return Message::decode(&parse_command(&cmd)?, payload);
        }
        match SHORT_IDS.iter().find(|(id, _)| *id == first) {
            Some((_, command)) => Message::decode(command, rest),
            // Ids of messages ferry does not use (headers, blocks…) are ignored, not fatal.
            None => Ok(Message::Other {
                command: format!("short-id-{first}"),
                payload: rest.to_vec(),
            }),
        }
    }
}

fn decode_version(r: &mut Reader<'_>) -> Result<VersionMessage, crate::tx::DecodeError> {
    let version = r.u32("version")? as i32;
    let services = r.u64("services")?;
    let timestamp = r.u64("timestamp")? as i64;
    let mut addr = || -> Result<(u64, [u8; 16], u16), crate::tx::DecodeError> {
        let services = r.u64("address services")?;
        let ip = r.array::<16>("address")?;
        let port = u16::from_be_bytes(r.array::<2>("port")?);
        Ok((services, ip, port))
    };
    let addr_recv = addr()?;
    let addr_from = addr()?;
    let nonce = r.u64("nonce")?;
    let user_agent = String::from_utf8_lossy(r.var_bytes("user agent")?).into_owned();
    let start_height = r.u32("start height")? as i32;
    // `relay` is optional before BIP-0037's version; absent means true.
    let relay = if r.remaining() > 0 {
        r.u8("relay")? != 0
    } else {
        true
    };
    Ok(VersionMessage {
        version,
        services,
        timestamp,
        addr_recv,
        addr_from,
        nonce,
        user_agent,
        start_height,
        relay,
    })
}

fn decode_inv(r: &mut Reader<'_>, command: &str) -> Result<Vec<Inventory>, WireError> {
    let bad = |e: crate::tx::DecodeError| WireError::Payload {
        command: command.to_owned(),
        reason: e.to_string(),
    };
    let n = r.count("inventory count", 36).map_err(bad)?;
    if n > MAX_INV_ITEMS {
        return Err(WireError::Payload {
            command: command.to_owned(),
            reason: format!("{n} inventory items, more than {MAX_INV_ITEMS}"),
        });
    }
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = r.u32("inventory type").map_err(bad)?;
        let hash = r.array::<32>("inventory hash").map_err(bad)?;
        items.push(Inventory { kind, hash });
    }
    Ok(items)
}

/// Returns a command NUL-padded to 12 bytes (commands are ASCII and at most 12 long).
pub(crate) fn command_bytes(command: &str) -> [u8; 12] {
    let mut out = [0u8; 12];
    for (o, b) in out.iter_mut().zip(command.bytes()) {
        *o = b;
    }
    out
}

/// Reads a 12-byte command: printable ASCII, then only NULs (as Core checks).
pub(crate) fn parse_command(bytes: &[u8; 12]) -> Result<String, WireError> {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(12);
    let (name, padding) = bytes.split_at(len);
    if name.is_empty()
        || !name.iter().all(|b| b.is_ascii_graphic())
        || padding.iter().any(|&b| b != 0)
    {
        return Err(WireError::Command(hex::encode(bytes)));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}
