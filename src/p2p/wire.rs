//! The v1 (unencrypted) frame: magic (4) | command (12, NUL-padded) | payload length (4,
//! LE) | checksum (first 4 bytes of SHA256d(payload)) | payload.

use super::error::WireError;
use super::message::{Message, command_bytes, parse_command};
use crate::hashes::sha256d;
use crate::network::Network;

/// Length of a v1 header.
pub const HEADER_LEN: usize = 24;

/// Largest payload a peer may announce (Bitcoin Core's MAX_PROTOCOL_MESSAGE_LENGTH).
pub const MAX_PAYLOAD: u32 = 4_000_000;

/// A checked v1 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The command.
    pub command: String,
    /// The payload length (at most [`MAX_PAYLOAD`]).
    pub len: u32,
    /// The checksum the payload must have.
    pub checksum: [u8; 4],
}

/// Returns the checksum of a payload.
pub fn checksum(payload: &[u8]) -> [u8; 4] {
    let h = sha256d(payload);
    [h[0], h[1], h[2], h[3]]
}

/// Returns a message framed for the network with `magic`.
pub fn encode_frame(magic: [u8; 4], msg: &Message) -> Vec<u8> {
    let payload = msg.payload();
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&command_bytes(msg.command()));
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(&payload));
    out.extend_from_slice(&payload);
    out
}

/// Checks a header: magic, command, announced length.
///
/// # Errors
/// [`WireError::BadMagic`], [`WireError::Command`] or [`WireError::Oversize`].
pub fn decode_header(
    network: Network,
    magic: [u8; 4],
    bytes: &[u8; HEADER_LEN],
) -> Result<Header, WireError> {
    let (m, rest) = bytes.split_at(4);
    if m != magic {
        return Err(WireError::BadMagic {
            expected: network.name(),
            found: hex::encode(m),
        });
    }
    let (cmd, rest) = rest.split_at(12);
    let (len, sum) = rest.split_at(4);
    let cmd: [u8; 12] = cmd.try_into().map_err(|_| WireError::Truncated)?;
    let command = parse_command(&cmd)?;
    let len = u32::from_le_bytes(len.try_into().map_err(|_| WireError::Truncated)?);
    if len > MAX_PAYLOAD {
        return Err(WireError::Oversize {
            len,
            max: MAX_PAYLOAD,
        });
    }
    let checksum = sum.try_into().map_err(|_| WireError::Truncated)?;
    Ok(Header {
        command,
        len,
        checksum,
    })
}

/// Checks the payload against its header and decodes the message.
///
/// # Errors
/// [`WireError::BadChecksum`] or the payload's decoding error.
pub fn decode_payload(header: &Header, payload: &[u8]) -> Result<Message, WireError> {
    if checksum(payload) != header.checksum {
        return Err(WireError::BadChecksum {
            command: header.command.clone(),
        });
    }
    Message::decode(&header.command, payload)
}

/// Decodes one frame from the start of `buf`: `Ok(None)` when more bytes are needed,
/// else the message and how many bytes it took. Errors are final for the connection.
///
/// # Errors
/// Any [`WireError`]: bad magic, oversize length, bad checksum, a malformed payload.
pub fn decode_frame(
    network: Network,
    magic: [u8; 4],
    buf: &[u8],
) -> Result<Option<(Message, usize)>, WireError> {
    let Some(head) = buf.get(..HEADER_LEN) else {
        // A wrong magic is reported as soon as four bytes are in, not after 24.
        if buf.len() >= 4 && buf[..4] != magic {
            return Err(WireError::BadMagic {
                expected: network.name(),
                found: hex::encode(&buf[..4]),
            });
        }
        return Ok(None);
    };
    let head: &[u8; HEADER_LEN] = head.try_into().map_err(|_| WireError::Truncated)?;
    let header = decode_header(network, magic, head)?;
    let end = HEADER_LEN + header.len as usize;
    let Some(payload) = buf.get(HEADER_LEN..end) else {
        return Ok(None);
    };
    Ok(Some((decode_payload(&header, payload)?, end)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::p2p::message::{Inventory, MSG_TX, MSG_WTX, VersionMessage};
    use crate::tx::Transaction;

    const REGTEST: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

    fn round_trip(msg: Message) {
        let frame = encode_frame(REGTEST, &msg);
        let (back, used) = decode_frame(Network::Regtest, REGTEST, &frame)
            .unwrap()
            .unwrap();
        assert_eq!(back, msg);
        assert_eq!(used, frame.len());
        // Every strict prefix asks for more bytes rather than failing or guessing.
        for cut in 0..frame.len() {
            assert_eq!(
                decode_frame(Network::Regtest, REGTEST, &frame[..cut]).unwrap(),
                None
            );
        }
        let v2 = msg.to_v2_bytes();
        assert_eq!(Message::from_v2_bytes(&v2).unwrap(), msg);
    }

    /// A segwit transaction (txid and wtxid differ), built here rather than pasted.
    pub(crate) fn sample_tx() -> Transaction {
        use crate::script::ScriptBuf;
        use crate::tx::{OutPoint, TxIn, TxOut, Txid, Witness};
        use crate::units::Amount;
        let mut input = TxIn::new(
            OutPoint {
                txid: Txid::from_byte_array([7; 32]),
                vout: 1,
            },
            TxIn::SEQUENCE_RBF,
        );
        input.witness = Witness::from_items(vec![vec![0x30; 71], vec![0x02; 33]]);
        Transaction {
            version: 2,
            lock_time: 0,
            input: vec![input],
            output: vec![TxOut {
                value: Amount::from_sat(50_000),
                script_pubkey: ScriptBuf::new_p2wpkh(&[9; 20]),
            }],
        }
    }

    #[test]
    fn every_message_round_trips_in_v1_and_v2() {
        let tx = sample_tx();
        round_trip(Message::Version(VersionMessage::anonymous(7, false)));
        round_trip(Message::Verack);
        round_trip(Message::WtxidRelay);
        round_trip(Message::SendAddrV2);
        round_trip(Message::Inv(vec![Inventory::wtx(tx.wtxid())]));
        round_trip(Message::GetData(vec![Inventory::tx(tx.txid())]));
        round_trip(Message::NotFound(vec![]));
        round_trip(Message::Tx(tx));
        round_trip(Message::Ping(u64::MAX));
        round_trip(Message::Pong(1));
    }

    #[test]
    fn verack_frame_is_the_known_bytes() {
        // The regtest verack every node sends: empty payload, checksum 5df6e0e2.
        assert_eq!(
            hex::encode(encode_frame(REGTEST, &Message::Verack)),
            "fabfb5da76657261636b000000000000000000005df6e0e2"
        );
    }

    #[test]
    fn anonymous_version_reveals_nothing() {
        let v = VersionMessage::anonymous(42, false);
        let payload = Message::Version(v).payload();
        // version 70016, services 0, time 0, two zero addresses, nonce, user agent, height 0,
        // relay 0.
        let mut expected = 70016i32.to_le_bytes().to_vec();
        expected.extend_from_slice(&[0; 8 + 8 + 26 + 26]);
        expected.extend_from_slice(&42u64.to_le_bytes());
        expected.push(14);
        expected.extend_from_slice(b"/pynode:0.0.1/");
        expected.extend_from_slice(&[0, 0, 0, 0, 0]);
        assert_eq!(payload, expected);
    }

    #[test]
    fn inventory_names_the_right_transaction() {
        let tx = sample_tx();
        assert!(Inventory::tx(tx.txid()).names(&tx));
        assert!(Inventory::wtx(tx.wtxid()).names(&tx));
        // The txid announced as a wtxid is another object (witness differs in general).
        let wrong = Inventory {
            kind: MSG_WTX,
            hash: tx.txid().to_byte_array(),
        };
        assert!(!wrong.names(&tx));
        let witness_flag = Inventory {
            kind: MSG_TX | crate::p2p::message::MSG_WITNESS_FLAG,
            hash: tx.txid().to_byte_array(),
        };
        assert!(witness_flag.names(&tx) && witness_flag.is_tx());
    }

    #[test]
    fn bad_magic_is_named_after_four_bytes() {
        let frame = encode_frame([0xf9, 0xbe, 0xb4, 0xd9], &Message::Verack);
        let err = decode_frame(Network::Regtest, REGTEST, &frame[..4]).unwrap_err();
        assert!(matches!(err, WireError::BadMagic { .. }), "{err}");
        assert!(err.to_string().contains("f9beb4d9"), "{err}");
    }

    #[test]
    fn bad_checksum_is_named() {
        let mut frame = encode_frame(REGTEST, &Message::Ping(5));
        let last = frame.len() - 1;
        frame[last] ^= 1;
        let err = decode_frame(Network::Regtest, REGTEST, &frame).unwrap_err();
        assert_eq!(
            err,
            WireError::BadChecksum {
                command: "ping".into()
            }
        );
    }

    #[test]
    fn oversize_length_is_refused_before_the_payload_arrives() {
        let mut frame = encode_frame(REGTEST, &Message::Ping(5));
        frame[16..20].copy_from_slice(&(MAX_PAYLOAD + 1).to_le_bytes());
        let err = decode_frame(Network::Regtest, REGTEST, &frame[..HEADER_LEN]).unwrap_err();
        assert!(matches!(err, WireError::Oversize { len, .. } if len == MAX_PAYLOAD + 1));
    }

    #[test]
    fn malformed_commands_and_payloads_are_named() {
        let mut frame = encode_frame(REGTEST, &Message::Verack);
        frame[4 + 6] = b'x'; // "verack" then a non-NUL after padding began
        frame[4 + 10] = b'y';
        assert!(matches!(
            decode_frame(Network::Regtest, REGTEST, &frame),
            Err(WireError::Command(_))
        ));
        // An inv whose count promises more items than the payload holds.
        let payload = [3u8, 1, 0, 0, 0];
        let err = Message::decode("inv", &payload).unwrap_err();
        assert!(matches!(err, WireError::Payload { .. }), "{err}");
        let err = Message::decode("ping", &[1, 2]).unwrap_err();
        assert!(err.to_string().contains("ping"), "{err}");
        assert_eq!(Message::from_v2_bytes(&[]), Err(WireError::Empty));
        assert_eq!(
            Message::from_v2_bytes(&[0, b'v']),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn unknown_commands_pass_through_undecoded() {
        let msg = Message::Other {
            command: "feefilter".into(),
            payload: vec![1, 2, 3, 4, 5, 6, 7, 8],
        };
        round_trip(msg);
        // A short id ferry has no use for is not an error.
        let other = Message::from_v2_bytes(&[5, 9, 9]).unwrap();
        assert_eq!(other.command(), "short-id-5");
        assert_eq!(MSG_TX, 1);
    }
}
