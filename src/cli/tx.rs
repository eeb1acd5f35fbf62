//! `ferry tx decode` — inspect a raw transaction, like Bitcoin Core's
//! `decoderawtransaction`.

use clap::Subcommand;
use serde::Serialize;

use super::code::Code;
use super::input::arg_or_stdin;
use super::{CliError, Ctx};
use ferry::network::Network;
use ferry::script::Address;
use ferry::tx::Transaction;

/// `ferry tx …`
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Decode a raw transaction given as hex (or `-` for stdin).
    Decode {
        /// The transaction hex, or `-` to read it from stdin.
        hex: String,
        /// Network used to show output addresses.
        #[arg(long, default_value = "bitcoin")]
        network: Network,
    },
}

/// The JSON shape of a decoded transaction (DESIGN.md section 3).
#[derive(Debug, Serialize)]
pub struct DecodedTx {
    txid: String,
    wtxid: String,
    version: i32,
    locktime: u32,
    size: usize,
    vsize: u64,
    weight: u64,
    inputs: Vec<DecodedInput>,
    outputs: Vec<DecodedOutput>,
}

#[derive(Debug, Serialize)]
struct DecodedInput {
    txid: String,
    vout: u32,
    sequence: u32,
    script_sig: String,
    witness: Vec<String>,
}

#[derive(Debug, Serialize)]
struct DecodedOutput {
    value_sat: u64,
    script_pubkey: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
}

impl DecodedTx {
    /// Builds the view of `tx`, with addresses on `network`.
    pub fn new(tx: &Transaction, network: Network) -> Self {
        Self {
            txid: tx.txid().to_string(),
            wtxid: tx.wtxid().to_string(),
            version: tx.version,
            locktime: tx.lock_time,
            size: tx.total_size(),
            vsize: tx.vsize(),
            weight: tx.weight().to_wu(),
            inputs: tx
                .input
                .iter()
                .map(|i| DecodedInput {
                    txid: i.previous_output.txid.to_string(),
                    vout: i.previous_output.vout,
                    sequence: i.sequence,
                    script_sig: i.script_sig.to_hex(),
                    witness: i.witness.items().iter().map(hex::encode).collect(),
                })
                .collect(),
            outputs: tx
                .output
                .iter()
                .map(|o| DecodedOutput {
                    value_sat: o.value.to_sat(),
                    script_pubkey: o.script_pubkey.to_hex(),
                    address: Address::from_script(&o.script_pubkey, network).map(|a| a.to_string()),
                })
                .collect(),
        }
    }

    fn to_text(&self) -> String {
        let mut s = format!(
            "txid     {}\nwtxid    {}\nversion  {}  locktime {}\nsize     {} B  vsize {} vB  weight {} WU\n",
            self.txid, self.wtxid, self.version, self.locktime, self.size, self.vsize, self.weight
        );
        s.push_str(&format!("inputs ({}):\n", self.inputs.len()));
        for i in &self.inputs {
            s.push_str(&format!(
                "  {}:{}  sequence {:#010x}  scriptSig {} B  witness items {}\n",
                i.txid,
                i.vout,
                i.sequence,
                i.script_sig.len() / 2,
                i.witness.len()
            ));
        }
        s.push_str(&format!("outputs ({}):\n", self.outputs.len()));
        for o in &self.outputs {
            let dest = o
                .address
                .clone()
                .unwrap_or_else(|| format!("script {}", o.script_pubkey));
            s.push_str(&format!("  {:>16} sat  {}\n", o.value_sat, dest));
        }
        s
    }
}

/// Parses transaction hex with an error that says what to do.
pub fn parse_tx_hex(hex: &str) -> Result<Transaction, CliError> {
    Transaction::from_hex(hex).map_err(|e| {
        CliError::new(
            Code::MalformedTx,
            format!("not a valid raw transaction: {e} (expected the hex of a signed or unsigned transaction)"),
        )
    })
}

pub(super) fn run(ctx: &Ctx, cmd: TxCommand) -> Result<(), CliError> {
    let out = &ctx.out;
    match cmd {
        TxCommand::Decode { hex, network } => {
            let hex = arg_or_stdin(&hex, "transaction hex")?;
            let tx = parse_tx_hex(&hex)?;
            let view = DecodedTx::new(&tx, network);
            out.emit(&view, DecodedTx::to_text)
        }
    }
}
