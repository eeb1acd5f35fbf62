use std::fmt;
use std::str::FromStr;

use super::encode::{DecodeError, Reader, compact_size_len, write_compact_size, write_var_bytes};
use crate::hashes::sha256d;
use crate::script::ScriptBuf;
use crate::units::{Amount, Weight};

macro_rules! hash_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        ///
        /// Stored in internal byte order; shown and parsed byte-reversed, as Bitcoin Core does.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps a hash in internal byte order.
            pub const fn from_byte_array(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// Returns the hash in internal byte order.
            pub const fn to_byte_array(self) -> [u8; 32] {
                self.0
            }

            /// Returns the hash in internal byte order.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut rev = self.0;
                rev.reverse();
                f.write_str(&hex::encode(rev))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = DecodeError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bytes = super::encode::decode_hex(s)?;
                let mut arr: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| DecodeError::Hex("expected 64 hex characters".into()))?;
                arr.reverse();
                Ok(Self(arr))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_id!(
    Txid,
    "A transaction id: double SHA256 of the transaction without witnesses."
);
hash_id!(
    Wtxid,
    "A witness transaction id: double SHA256 of the full serialization (BIP-0141)."
);

/// A reference to one output of a previous transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutPoint {
    /// The transaction that created the output.
    pub txid: Txid,
    /// The output's index in that transaction.
    pub vout: u32,
}

impl OutPoint {
    /// The null outpoint of coinbase inputs.
    pub const NULL: OutPoint = OutPoint {
        txid: Txid::from_byte_array([0; 32]),
        vout: u32::MAX,
    };
}

impl fmt::Display for OutPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.txid, self.vout)
    }
}

impl FromStr for OutPoint {
    type Err = DecodeError;

    /// Parses `TXID:VOUT`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (txid, vout) = s
            .split_once(':')
            .ok_or_else(|| DecodeError::Hex(format!("{s:?} is not TXID:VOUT")))?;
        Ok(OutPoint {
            txid: txid.parse()?,
            vout: vout
                .parse()
                .map_err(|_| DecodeError::Hex(format!("{vout:?} is not an output index")))?,
        })
    }
}

/// The witness stack of one input (BIP-0141).
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct Witness(Vec<Vec<u8>>);

impl Witness {
    /// An empty witness.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a witness from its stack items, bottom first.
    pub fn from_items(items: Vec<Vec<u8>>) -> Self {
        Self(items)
    }

    /// Returns the stack items, bottom first.
    pub fn items(&self) -> &[Vec<u8>] {
        &self.0
    }

    /// Returns true if there are no items.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Pushes an item on top.
    pub fn push(&mut self, item: Vec<u8>) {
        self.0.push(item);
    }

    /// Returns the serialized size.
    pub fn encoded_len(&self) -> usize {
        compact_size_len(self.0.len() as u64)
            + self
                .0
                .iter()
                .map(|i| compact_size_len(i.len() as u64) + i.len())
                .sum::<usize>()
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        write_compact_size(out, self.0.len() as u64);
        for item in &self.0 {
            write_var_bytes(out, item);
        }
    }
}

/// A transaction input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxIn {
    /// The output being spent.
    pub previous_output: OutPoint,
    /// The unlocking script (empty for native segwit).
    pub script_sig: ScriptBuf,
    /// nSequence: relative locktime and RBF signalling.
    pub sequence: u32,
    /// The segwit witness.
    pub witness: Witness,
}

impl TxIn {
    /// Sequence that signals BIP-0125 replaceability and enables nLockTime.
    pub const SEQUENCE_RBF: u32 = 0xffff_fffd;
    /// Sequence that enables nLockTime without signalling RBF.
    pub const SEQUENCE_FINAL_LOCKTIME: u32 = 0xffff_fffe;
    /// Final sequence.
    pub const SEQUENCE_FINAL: u32 = 0xffff_ffff;

    /// Creates an input spending `previous_output` with an empty scriptSig and witness.
    pub fn new(previous_output: OutPoint, sequence: u32) -> Self {
        Self {
            previous_output,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        }
    }
}

/// A transaction output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxOut {
    /// The value.
    pub value: Amount,
    /// The locking script.
    pub script_pubkey: ScriptBuf,
}

impl TxOut {
    /// Returns the serialized size.
    pub fn encoded_len(&self) -> usize {
        8 + compact_size_len(self.script_pubkey.len() as u64) + self.script_pubkey.len()
    }

    /// Appends the consensus serialization.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.value.to_sat().to_le_bytes());
        write_var_bytes(out, self.script_pubkey.as_bytes());
    }
}

/// A Bitcoin transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// nVersion (signed, as in Core).
    pub version: i32,
    /// nLockTime.
    pub lock_time: u32,
    /// Inputs.
    pub input: Vec<TxIn>,
    /// Outputs.
    pub output: Vec<TxOut>,
}

/// Smallest possible serialized input (36 outpoint + 1 script length + 4 sequence).
const MIN_TXIN_SIZE: usize = 41;
/// Smallest possible serialized output (8 value + 1 script length).
const MIN_TXOUT_SIZE: usize = 9;

impl Transaction {
    /// Returns true if any input has a witness.
    pub fn has_witness(&self) -> bool {
        self.input.iter().any(|i| !i.witness.is_empty())
    }

    /// Returns true if this is a coinbase transaction.
    pub fn is_coinbase(&self) -> bool {
        self.input.len() == 1 && self.input[0].previous_output == OutPoint::NULL
    }

    /// Returns the full serialization (with witnesses when any input has one).
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.total_size());
        self.encode_into(&mut out, self.has_witness());
        out
    }

    /// Returns the serialization without witnesses (what the txid commits to).
    pub fn serialize_no_witness(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.base_size());
        self.encode_into(&mut out, false);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>, with_witness: bool) {
        out.extend_from_slice(&self.version.to_le_bytes());
        if with_witness {
            out.extend_from_slice(&[0x00, 0x01]);
        }
        write_compact_size(out, self.input.len() as u64);
        for txin in &self.input {
            out.extend_from_slice(txin.previous_output.txid.as_bytes());
            out.extend_from_slice(&txin.previous_output.vout.to_le_bytes());
            write_var_bytes(out, txin.script_sig.as_bytes());
            out.extend_from_slice(&txin.sequence.to_le_bytes());
        }
        write_compact_size(out, self.output.len() as u64);
        for txout in &self.output {
            txout.encode_into(out);
        }
        if with_witness {
            for txin in &self.input {
                txin.witness.encode_into(out);
            }
        }
        out.extend_from_slice(&self.lock_time.to_le_bytes());
    }

    /// Decodes a transaction, refusing trailing bytes, non-canonical lengths, unknown
    /// segwit flags and segwit serialization without witnesses — as Bitcoin Core does.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let tx = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    /// Decodes a transaction from hex.
    ///
    /// # Errors
    /// Invalid hex or any [`Transaction::deserialize`] error.
    pub fn from_hex(s: &str) -> Result<Self, DecodeError> {
        Self::deserialize(&super::encode::decode_hex(s)?)
    }

    /// Returns the full serialization as hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.serialize())
    }

    /// Decodes one transaction from a reader, leaving any following bytes.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u32("version")? as i32;
        let mut input = Self::decode_inputs(r)?;
        let mut segwit = false;
        let output;
        if input.is_empty() && r.peek().is_some() {
            // Marker 0x00 read as an empty input vector: the flag follows.
            let flag = r.u8("segwit flag")?;
            if flag != 0x01 {
                return Err(DecodeError::UnknownSegwitFlag(flag));
            }
            segwit = true;
            input = Self::decode_inputs(r)?;
            output = Self::decode_outputs(r)?;
        } else {
            output = Self::decode_outputs(r)?;
        }
        if segwit {
            for txin in &mut input {
                let n = r.count("witness items", 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(r.var_bytes("witness item")?.to_vec());
                }
                txin.witness = Witness::from_items(items);
            }
            if input.iter().all(|i| i.witness.is_empty()) {
                return Err(DecodeError::SuperfluousWitness);
            }
        }
        let lock_time = r.u32("locktime")?;
        Ok(Transaction {
            version,
            lock_time,
            input,
            output,
        })
    }

    /// Decodes a transaction in the legacy (pre-BIP-0144) format only, refusing trailing
    /// bytes: a zero-input transaction is read as such instead of as a segwit marker. BIP-0174
    /// requires this form for a PSBT's unsigned transaction.
    ///
    /// # Errors
    /// [`DecodeError`] naming the problem.
    pub fn deserialize_no_witness(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u32("version")? as i32;
        let input = Self::decode_inputs(&mut r)?;
        let output = Self::decode_outputs(&mut r)?;
        let lock_time = r.u32("locktime")?;
        r.finish()?;
        Ok(Transaction {
            version,
            lock_time,
            input,
            output,
        })
    }

    fn decode_inputs(r: &mut Reader<'_>) -> Result<Vec<TxIn>, DecodeError> {
        let n = r.count("input count", MIN_TXIN_SIZE)?;
        let mut input = Vec::with_capacity(n);
        for _ in 0..n {
            let txid = Txid::from_byte_array(r.array("prevout txid")?);
            let vout = r.u32("prevout index")?;
            let script_sig = ScriptBuf::from_bytes(r.var_bytes("scriptSig")?.to_vec());
            let sequence = r.u32("sequence")?;
            input.push(TxIn {
                previous_output: OutPoint { txid, vout },
                script_sig,
                sequence,
                witness: Witness::new(),
            });
        }
        Ok(input)
    }

    fn decode_outputs(r: &mut Reader<'_>) -> Result<Vec<TxOut>, DecodeError> {
        let n = r.count("output count", MIN_TXOUT_SIZE)?;
        let mut output = Vec::with_capacity(n);
        for _ in 0..n {
            let value = Amount::from_sat(r.u64("output value")?);
            let script_pubkey = ScriptBuf::from_bytes(r.var_bytes("scriptPubKey")?.to_vec());
            output.push(TxOut {
                value,
                script_pubkey,
            });
        }
        Ok(output)
    }

    /// Returns the txid.
    pub fn txid(&self) -> Txid {
        Txid::from_byte_array(sha256d(&self.serialize_no_witness()))
    }

    /// Returns the wtxid (equal to the txid when there are no witnesses).
    pub fn wtxid(&self) -> Wtxid {
        Wtxid::from_byte_array(sha256d(&self.serialize()))
    }

    /// Returns the size without witness data, in bytes.
    pub fn base_size(&self) -> usize {
        let inputs: usize = self
            .input
            .iter()
            .map(|i| 36 + compact_size_len(i.script_sig.len() as u64) + i.script_sig.len() + 4)
            .sum();
        let outputs: usize = self.output.iter().map(TxOut::encoded_len).sum();
        4 + compact_size_len(self.input.len() as u64)
            + inputs
            + compact_size_len(self.output.len() as u64)
            + outputs
            + 4
    }

    /// Returns the full serialized size in bytes.
    pub fn total_size(&self) -> usize {
        if !self.has_witness() {
            return self.base_size();
        }
        self.base_size()
            + 2
            + self
                .input
                .iter()
                .map(|i| i.witness.encoded_len())
                .sum::<usize>()
    }

    /// Returns the weight: base size × 3 + total size (BIP-0141).
    pub fn weight(&self) -> Weight {
        Weight::from_wu((self.base_size() * 3 + self.total_size()) as u64)
    }

    /// Returns the virtual size, weight / 4 rounded up.
    pub fn vsize(&self) -> u64 {
        self.weight().to_vbytes_ceil()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A segwit transaction from BIP-0143's native P2WPKH example (signed form).
    const SIGNED: &str = "01000000000102fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f00000000494830450221008b9d1dc26ba6a9cb62127b02742fa9d754cd3bebf337f7a55d114c8e5cdd30be022040529b194ba3f9281a99f2b1c0a19c0489bc22ede944ccf4ecbab4cc618ef3ed01eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac000247304402203609e17b84f6a7d30c80bfa610b5b4542f32a8a0d5447a12fb1366d7f01cc44a0220573a954c4518331561406f90300e8f3358f51928d43c212a8caed02de67eebee0121025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee635711000000";

    #[test]
    fn segwit_round_trip_and_sizes() {
        let tx = Transaction::from_hex(SIGNED).unwrap();
        assert_eq!(tx.to_hex(), SIGNED);
        assert_eq!(tx.total_size(), SIGNED.len() / 2);
        assert_eq!(tx.base_size(), tx.serialize_no_witness().len());
        assert_eq!(
            tx.weight().to_wu() as usize,
            tx.base_size() * 3 + tx.total_size()
        );
        assert_ne!(tx.txid().to_byte_array(), tx.wtxid().to_byte_array());
    }

    #[test]
    fn refuses_trailing_bytes_and_truncation() {
        let mut bytes = hex::decode(SIGNED).unwrap();
        bytes.push(0);
        assert_eq!(
            Transaction::deserialize(&bytes),
            Err(DecodeError::TrailingBytes(1))
        );
        bytes.truncate(bytes.len() - 3);
        assert!(matches!(
            Transaction::deserialize(&bytes),
            Err(DecodeError::UnexpectedEnd(_))
        ));
    }

    #[test]
    fn refuses_unknown_flag_and_superfluous_witness() {
        let mut bytes = hex::decode(SIGNED).unwrap();
        bytes[5] = 0x02;
        assert_eq!(
            Transaction::deserialize(&bytes),
            Err(DecodeError::UnknownSegwitFlag(2))
        );
        let mut tx = Transaction::from_hex(SIGNED).unwrap();
        for i in &mut tx.input {
            i.witness = Witness::new();
        }
        let mut forced = Vec::new();
        tx.encode_into(&mut forced, true);
        assert_eq!(
            Transaction::deserialize(&forced),
            Err(DecodeError::SuperfluousWitness)
        );
    }

    #[test]
    fn txid_display_is_reversed() {
        let id: Txid = "9f96ade4b41d5433f4eda31e1738ec2b36f6e7d1420d94a6af99801a88f7f7ff"
            .parse()
            .unwrap();
        assert_eq!(id.as_bytes()[0], 0xff);
        assert_eq!(
            id.to_string(),
            "9f96ade4b41d5433f4eda31e1738ec2b36f6e7d1420d94a6af99801a88f7f7ff"
        );
    }
}
