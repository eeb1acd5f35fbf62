//! `ferry sign FILE|-`: sign a PSBT from any wallet (ferry, Bitcoin Core, BDK, Sparrow…)
//! with this wallet's keys, offline: it never touches the network.
//!
//! It shows what the PSBT pays (each output, which are the wallet's, the fee and fee rate,
//! the inputs it cannot sign), asks, unlocks the keystore, signs every input whose key is
//! the wallet's (found by key origin — master fingerprint and path — or by script where
//! origins are missing), checks every input it signed with Bitcoin Core's interpreter, and
//! prints the PSBT in the version it came in (or, with `--finalize` and complete, the
//! transaction in hex). A PSBT whose fee cannot be known, or whose previous transactions do
//! not match what it spends, is refused before anything is asked.

use clap::Args;
use ferry::consensus::{VerifyFlags, verify_input};
use ferry::psbt::Psbt;
use ferry::script::Address;
use ferry::tx::TxOut;
use ferry::units::{Amount, FeeRate};
use ferry::wallet::Wallet;
use ferry::wallet::psbt::{Owned, Ownership, SCRIPT_LOOKAHEAD, ScriptIndex, derive_paths};
use serde::Serialize;

use super::code::Code;
use super::input::file_or_stdin;
use super::psbt::parse_psbt;
use super::{CliError, Ctx, prompts};
use ferry::keys::KeyChain;

/// Arguments of `ferry sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The PSBT file (binary, base64 or hex), or `-` to read it from stdin.
    pub file: String,
    /// Finalize the inputs too; when every input is final, print the transaction in hex.
    #[arg(long)]
    pub finalize: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Serialize)]
struct SignReport {
    psbt: String,
    signed_inputs: Vec<usize>,
    complete: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    txid: Option<String>,
    psbt_version: u32,
    fee_sat: u64,
    /// The fee rate at the estimated signed size, when the size can be estimated.
    #[serde(skip_serializing_if = "Option::is_none")]
    fee_rate: Option<f64>,
    /// Inputs that are not this wallet's (left for other signers).
    cannot_sign: Vec<usize>,
    /// Outputs paying this wallet.
    ours_outputs: Vec<usize>,
}

/// The message of a watch-only wallet asked to sign or send.
pub fn watch_only_error() -> CliError {
    CliError::new(
        Code::WatchOnly,
        "watch-only: this wallet has no keys; make a PSBT with `ferry psbt create` and sign it where the keys are (`ferry sign`)",
    )
}

/// The wallet's scripts up to well past every index it has handed out.
fn script_index(wallet: &Wallet) -> Result<ScriptIndex, CliError> {
    let mut up_to = [0u32; 2];
    for (slot, chain) in [KeyChain::Receive, KeyChain::Change]
        .into_iter()
        .enumerate()
    {
        let next = wallet.next_unused_index(chain)?;
        let cached = wallet
            .cached_utxos()?
            .iter()
            .filter(|u| u.chain == chain)
            .map(|u| u.index + 1)
            .max()
            .unwrap_or(0);
        up_to[slot] = next.max(cached).saturating_add(SCRIPT_LOOKAHEAD);
    }
    Ok(ScriptIndex::new(wallet.account(), up_to)?)
}

/// Refuses a PSBT made for another network: an xpub of the other kind, or a key of this
/// wallet's master at a BIP-0044/49/84/86 path with another coin type.
fn check_network(wallet: &Wallet, psbt: &Psbt, own: &Ownership) -> Result<(), CliError> {
    let network = wallet.network();
    let wrong = |what: String| {
        CliError::new(
            Code::WrongNetwork,
            format!("this PSBT is not for {network}: {what}; nothing was signed"),
        )
    };
    for xpub in psbt.xpubs.keys() {
        let version: [u8; 4] = xpub[..4].try_into().expect("78-byte key");
        if let Some(v) = ferry::keys::slip132::lookup(version)
            && v.mainnet != network.is_mainnet()
        {
            return Err(wrong(format!("it carries a {} extended key", v.prefix)));
        }
    }
    let coin = network.params().coin_type | 0x8000_0000;
    for (i, o) in own.inputs.iter().enumerate() {
        let Some(o) = o.as_ref().filter(|o| o.by_origin) else {
            continue;
        };
        let steps: Vec<u32> = o.path.as_slice().iter().map(|c| c.to_u32()).collect();
        let bip44 = matches!(steps.first(), Some(p) if [44, 49, 84, 86].map(|n| n | 0x8000_0000).contains(p));
        if bip44 && steps.get(1).is_some_and(|c| *c != coin) {
            return Err(wrong(format!(
                "input {i}'s key of this wallet is at {}, another network's coin type",
                o.path
            )));
        }
    }
    Ok(())
}

/// Refuses to sign the wallet's inputs with any sighash type but ALL (or taproot's DEFAULT):
/// the others (NONE, SINGLE, ANYONECANPAY) let whoever holds the PSBT next change what the
/// signature pays — a PSBT from someone else must not be able to ask for that.
fn check_sighash(psbt: &Psbt, own: &Ownership) -> Result<(), CliError> {
    for (i, (input, owned)) in psbt.inputs.iter().zip(&own.inputs).enumerate() {
        if let (Some(t), Some(_)) = (input.sighash_type, owned)
            && t != 0x01
            && t != 0x00
        {
            return Err(CliError::new(
                Code::UnsafeSighash,
                format!(
                    "refusing to sign: input {i} asks for sighash type {t:#04x}, which lets others change what it pays; ferry signs with SIGHASH_ALL (DEFAULT for taproot) only"
                ),
            ));
        }
    }
    Ok(())
}

fn describe_owned(o: &Owned) -> String {
    match o.address {
        Some((KeyChain::Receive, i)) => format!("ours (receive {i})"),
        Some((KeyChain::Change, i)) => format!("ours (change {i})"),
        None => format!("ours ({})", o.path),
    }
}

fn summary(
    wallet: &Wallet,
    psbt: &Psbt,
    own: &Ownership,
    fee: Amount,
    rate: Option<(FeeRate, u64)>,
) -> String {
    let network = wallet.network();
    let tx = &psbt.unsigned_tx;
    let mut s = format!(
        "Sign this PSBT (version {}, txid {})?\n  pays:\n",
        psbt.psbt_version(),
        tx.txid()
    );
    for (o, owned) in tx.output.iter().zip(&own.outputs) {
        let to = Address::from_script(&o.script_pubkey, network).map_or_else(
            || format!("script {}", o.script_pubkey.to_hex()),
            |a| a.to_string(),
        );
        let mark = owned.as_ref().map(describe_owned).unwrap_or_default();
        s.push_str(&format!("    {to}  {}  {mark}\n", o.value));
    }
    match rate {
        Some((r, vb)) => s.push_str(&format!(
            "  fee: {fee} ({} at about {vb} vB signed)\n",
            r.display_sat_per_vb()
        )),
        None => s.push_str(&format!(
            "  fee: {fee} (fee rate unknown: the signed size of some inputs cannot be estimated)\n"
        )),
    }
    s.push_str("  inputs:\n");
    for (i, (txin, owned)) in tx.input.iter().zip(&own.inputs).enumerate() {
        let value = psbt.inputs[i]
            .spent_output(txin.previous_output.vout)
            .map_or_else(String::new, |o| o.value.to_string());
        let mark = owned
            .as_ref()
            .map_or_else(|| "not ours: cannot sign".to_owned(), describe_owned);
        s.push_str(&format!("    {}  {value}  {mark}\n", txin.previous_output));
    }
    s
}

/// Checks input `index` with Bitcoin Core's interpreter if it can be finalized now: returns
/// `Ok(false)` if it cannot (more signatures needed), an error if it does not verify.
fn verify_signed(psbt: &Psbt, index: usize, spent: &[TxOut]) -> Result<bool, CliError> {
    let mut check = psbt.clone();
    if check.finalize_input(index).is_err() {
        return Ok(false);
    }
    let mut tx = check.unsigned_tx.clone();
    let input = &check.inputs[index];
    tx.input[index].script_sig = input.final_script_sig.clone().unwrap_or_default();
    tx.input[index].witness = input.final_script_witness.clone().unwrap_or_default();
    let out = &spent[index];
    verify_input(
        out.script_pubkey.as_bytes(),
        out.value,
        &tx.serialize(),
        spent,
        index,
        VerifyFlags::ALL,
    )
    .map_err(|e| {
        CliError::internal(format!(
            "input {index} does not verify after signing ({e}); nothing was written"
        ))
    })?;
    Ok(true)
}

/// Finalizes what can be; returns the extracted, verified transaction when all is final.
pub fn finalize_all(
    psbt: &mut Psbt,
    spent: &[TxOut],
) -> Result<Option<ferry::tx::Transaction>, CliError> {
    for i in 0..psbt.inputs.len() {
        if !psbt.inputs[i].is_finalized() {
            // An input that cannot be finalized yet stays as it is.
            let _ = psbt.finalize_input(i);
        }
    }
    if !psbt.inputs.iter().all(ferry::psbt::Input::is_finalized) {
        return Ok(None);
    }
    let tx = psbt
        .extract_tx()
        .map_err(|e| CliError::new(Code::CannotExtract, e))?;
    ferry::consensus::verify_transaction(&tx, spent).map_err(|e| {
        CliError::new(
            Code::InvalidSignatures,
            format!(
                "the finalized transaction does not verify with Bitcoin Core's interpreter: {e}"
            ),
        )
    })?;
    Ok(Some(tx))
}

/// `ferry sign`.
pub fn run(ctx: &Ctx, args: SignArgs) -> Result<(), CliError> {
    let mut psbt = parse_psbt(&file_or_stdin(&args.file, "PSBT")?)?;
    let wallet = ctx.open_wallet()?;
    if wallet.is_watch_only() {
        return Err(watch_only_error());
    }
    let fee = psbt.fee().map_err(|e| {
        CliError::new(
            Code::UnknownFee,
            format!("refusing to sign: the fee cannot be known ({e}); a signer must see what every input spends"),
        )
    })?;
    psbt.check_for_signing()
        .map_err(|e| CliError::new(Code::InconsistentPsbt, format!("refusing to sign: {e}")))?;
    let own = Ownership::of(wallet.account(), &psbt, &script_index(&wallet)?);
    check_network(&wallet, &psbt, &own)?;
    if own.inputs.iter().all(Option::is_none) {
        return Err(CliError::new(
            Code::NothingToSign,
            format!(
                "no input of this PSBT is this wallet's (master fingerprint {}, {}): nothing to sign",
                wallet.account().master_fingerprint,
                wallet.network()
            ),
        ));
    }
    check_sighash(&psbt, &own)?;
    let spent = psbt.spent_outputs().map_err(CliError::internal)?;
    let rate = ferry::wallet::weights::signed_weight(&psbt.unsigned_tx, &spent).and_then(|w| {
        let vb = w.to_vbytes_ceil();
        FeeRate::from_fee_and_vbytes(fee, vb).map(|r| (r, vb))
    });
    let text = summary(&wallet, &psbt, &own, fee, rate);
    if args.yes && !ctx.json {
        // Not asked, but still shown: what was signed stays on the terminal.
        prompts::say(text.trim_end());
    }
    super::send::confirm(ctx, args.yes, &text, "Sign it?")?;

    let password = prompts::existing_password(ctx.interactive)?;
    let secret = wallet.unlock(&password)?;
    let keys = derive_paths(&secret, wallet.account(), &own.signing_paths())?;
    drop(secret);
    own.fill_missing(wallet.account(), &mut psbt)?;
    let before = psbt.clone();
    psbt.sign(&keys)
        .map_err(|e| CliError::new(Code::CannotSign, format!("refusing to sign: {e}")))?;
    drop(keys);
    let signed_inputs: Vec<usize> = (0..psbt.inputs.len())
        .filter(|&i| {
            psbt.inputs[i].partial_sigs.len() != before.inputs[i].partial_sigs.len()
                || psbt.inputs[i].tap_key_sig != before.inputs[i].tap_key_sig
        })
        .collect();
    for &i in &signed_inputs {
        verify_signed(&psbt, i, &spent)?;
    }
    let tx = if args.finalize {
        finalize_all(&mut psbt, &spent)?
    } else {
        None
    };
    let report = SignReport {
        psbt: psbt.to_base64(),
        signed_inputs,
        complete: tx.is_some(),
        hex: tx.as_ref().map(ferry::tx::Transaction::to_hex),
        txid: tx.as_ref().map(|t| t.txid().to_string()),
        psbt_version: psbt.psbt_version(),
        fee_sat: fee.to_sat(),
        fee_rate: rate.map(|(r, _)| r.to_sat_per_vb_f64()),
        cannot_sign: (0..own.inputs.len())
            .filter(|&i| own.inputs[i].is_none())
            .collect(),
        ours_outputs: (0..own.outputs.len())
            .filter(|&i| own.outputs[i].is_some())
            .collect(),
    };
    if !ctx.json {
        prompts::say(&format!(
            "signed {} input(s){}",
            report.signed_inputs.len(),
            if report.complete {
                "; complete: the transaction follows in hex"
            } else {
                ""
            }
        ));
    }
    ctx.out
        .emit(&report, |r| r.hex.clone().unwrap_or_else(|| r.psbt.clone()))
}
