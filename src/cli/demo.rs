//! `ferry demo` — the story so far, narrated, in one command.
//!
//! Today the demo runs offline: two wallets are made from fresh mnemonics, a funding coin
//! is simulated, Alice pays Carol, and Bitcoin Core's own interpreter checks the signed
//! transaction. When the devnet, sending and relays land, this becomes the full story on a
//! throw-away local chain (Alice pays Carol herself, then through Bob's relay).

use serde::Serialize;

use super::{CliError, Output};
use ferry::consensus::verify_transaction;
use ferry::hashes::sha256d;
use ferry::keys::path::account_path;
use ferry::keys::{ChildNumber, KeyChain, Mnemonic, WordCount, Xpriv, Xpub, derive_output};
use ferry::network::Network;
use ferry::psbt::Psbt;
use ferry::script::{Address, AddressType};
use ferry::sighash::SIGHASH_ALL;
use ferry::sign::{KeyStore, sign_transaction};
use ferry::tx::{OutPoint, Transaction, TxIn, TxOut, Txid};
use ferry::units::{Amount, FeeRate};

const NETWORK: Network = Network::Regtest;

/// One narrated step and whether it really happened.
#[derive(Debug, Serialize)]
struct Step {
    name: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct DemoReport {
    ok: bool,
    steps: Vec<Step>,
}

/// A demo wallet: its account key and the keys of its first addresses.
struct DemoWallet {
    account: Xpriv,
    address_type: AddressType,
}

impl DemoWallet {
    fn create(address_type: AddressType) -> Result<Self, CliError> {
        let mnemonic = Mnemonic::generate(WordCount::Words12).map_err(CliError::internal)?;
        let seed = mnemonic.to_seed("");
        let master = Xpriv::new_master(seed.as_ref(), NETWORK).map_err(CliError::internal)?;
        let path = account_path(address_type, NETWORK, 0).map_err(CliError::internal)?;
        let account = master.derive_priv(&path).map_err(CliError::internal)?;
        Ok(Self {
            account,
            address_type,
        })
    }

    fn address(&self, chain: KeyChain, index: u32) -> Result<Address, CliError> {
        let xpub = Xpub::from_priv(&self.account);
        derive_output(self.address_type, NETWORK, &xpub, chain, index)
            .map(|o| o.address)
            .map_err(CliError::internal)
    }

    fn key_store(&self) -> Result<KeyStore, CliError> {
        let mut store = KeyStore::new();
        for chain in KeyChain::ALL {
            let chain_key = self
                .account
                .derive_child(chain.child_number())
                .map_err(CliError::internal)?;
            for index in 0..2 {
                let child = ChildNumber::normal(index).map_err(CliError::internal)?;
                let key = chain_key.derive_child(child).map_err(CliError::internal)?;
                store.insert(key.secret_key().clone());
            }
        }
        Ok(store)
    }
}

/// Builds Alice's payment to Carol with change back to Alice.
fn build_payment(
    funding: &OutPoint,
    to: &Address,
    amount: Amount,
    change_to: &Address,
    change: Amount,
) -> Transaction {
    Transaction {
        version: 2,
        lock_time: 0,
        input: vec![TxIn::new(*funding, TxIn::SEQUENCE_RBF)],
        output: vec![
            TxOut {
                value: amount,
                script_pubkey: to.script_pubkey(),
            },
            TxOut {
                value: change,
                script_pubkey: change_to.script_pubkey(),
            },
        ],
    }
}

pub(super) fn run_demo(out: &Output) -> Result<(), CliError> {
    let mut steps = Vec::new();

    let alice = DemoWallet::create(AddressType::P2wpkh)?;
    let carol = DemoWallet::create(AddressType::P2tr)?;
    let alice_receive = alice.address(KeyChain::Receive, 0)?;
    let alice_change = alice.address(KeyChain::Change, 0)?;
    let carol_receive = carol.address(KeyChain::Receive, 0)?;
    steps.push(Step {
        name: "wallets",
        ok: true,
        detail: format!(
            "Alice (P2WPKH, BIP84) and Carol (P2TR, BIP86) each made a wallet from a fresh \
             12-word mnemonic on {NETWORK}; keys never leave this process. Alice receives at \
             {alice_receive}, Carol at {carol_receive}."
        ),
    });

    // A coin for Alice. Offline for now: the devnet's faucet will pay it for real.
    let funded = Amount::from_sat(100_000);
    let funding = OutPoint {
        txid: Txid::from_byte_array(sha256d(b"ferry demo funding")),
        vout: 0,
    };
    let funding_output = TxOut {
        value: funded,
        script_pubkey: alice_receive.script_pubkey(),
    };
    steps.push(Step {
        name: "funding",
        ok: true,
        detail: format!(
            "a {funded} coin arrives at Alice's address (simulated at {funding}: the embedded \
             devnet will pay it for real)"
        ),
    });

    // Alice pays Carol 60,000 sat at 2 sat/vB: sign once to learn the exact size, then set
    // the change so the fee rate is never below the one asked.
    let amount = Amount::from_sat(60_000);
    let rate = FeeRate::from_sat_per_vb(2).ok_or_else(|| CliError::internal("fee rate"))?;
    let keys = alice.key_store()?;
    let prevouts = [funding_output.clone()];
    let mut fee = Amount::ZERO;
    let mut tx = build_payment(
        &funding,
        &carol_receive,
        amount,
        &alice_change,
        Amount::ZERO,
    );
    for _ in 0..3 {
        let change = funded
            .checked_sub(amount)
            .and_then(|c| c.checked_sub(fee))
            .ok_or_else(|| CliError::internal("demo amounts"))?;
        tx = build_payment(&funding, &carol_receive, amount, &alice_change, change);
        sign_transaction(&mut tx, &prevouts, &[SIGHASH_ALL], &keys).map_err(CliError::internal)?;
        let needed = rate
            .fee_for_vbytes(tx.vsize())
            .ok_or_else(|| CliError::internal("fee overflow"))?;
        if fee >= needed {
            break;
        }
        fee = needed;
    }
    let paid_out = Amount::checked_sum(tx.output.iter().map(|o| o.value));
    let balanced = paid_out.and_then(|p| p.checked_add(fee)) == Some(funded);
    steps.push(Step {
        name: "alice pays carol",
        ok: balanced,
        detail: format!(
            "txid {}: {amount} to Carol, {} change to Alice, fee {fee} for {} vB ({}); inputs = \
             outputs + fee to the sat: {balanced}",
            tx.txid(),
            tx.output[1].value,
            tx.vsize(),
            rate.display_sat_per_vb(),
        ),
    });

    let verified = verify_transaction(&tx, &prevouts);
    steps.push(Step {
        name: "bitcoin core checks it",
        ok: verified.is_ok(),
        detail: match &verified {
            Ok(()) => "Bitcoin Core's script interpreter accepts every input".into(),
            Err(e) => format!("Bitcoin Core's interpreter refused it: {e}"),
        },
    });

    // The offline route: the same payment as a PSBT, signed and finalized, must be the same
    // transaction (ECDSA signatures are deterministic, RFC6979).
    let mut unsigned = tx.clone();
    for txin in &mut unsigned.input {
        txin.witness = Default::default();
    }
    let psbt_tx = (|| -> Result<Transaction, String> {
        let mut psbt = Psbt::from_unsigned_tx(unsigned).map_err(|e| e.to_string())?;
        psbt.set_witness_utxo(0, funding_output.clone())
            .map_err(|e| e.to_string())?;
        psbt.sign(&keys).map_err(|e| e.to_string())?;
        psbt.finalize().map_err(|e| e.to_string())?;
        psbt.extract_tx().map_err(|e| e.to_string())
    })();
    let same = psbt_tx.as_ref().is_ok_and(|p| p.wtxid() == tx.wtxid());
    steps.push(Step {
        name: "the same payment as a psbt",
        ok: same,
        detail: match &psbt_tx {
            Ok(p) => format!(
                "create → update → sign → finalize → extract gives wtxid {} (identical: {same})",
                p.wtxid()
            ),
            Err(e) => format!("PSBT route failed: {e}"),
        },
    });

    let mut tampered = tx.clone();
    if let Some(sig) = tampered.input[0].witness.items().first().cloned() {
        let mut sig = sig;
        sig[10] ^= 0x01;
        let pubkey = tampered.input[0].witness.items()[1].clone();
        tampered.input[0].witness = ferry::tx::Witness::from_items(vec![sig, pubkey]);
    }
    let caught = verify_transaction(&tampered, &prevouts).is_err();
    steps.push(Step {
        name: "a forged signature is caught",
        ok: caught,
        detail: format!(
            "one flipped bit in Alice's signature: rejected by Core's interpreter: {caught}"
        ),
    });

    let report = DemoReport {
        ok: steps.iter().all(|s| s.ok),
        steps,
    };
    out.emit(&report, |r| {
        let mut s = String::from(
            "ferry demo — the wallet core, offline (the devnet, sending and friends' relays come next)\n\n",
        );
        for (i, step) in r.steps.iter().enumerate() {
            let mark = if step.ok { "ok " } else { "FAIL" };
            s.push_str(&format!("{}. [{mark}] {}\n   {}\n", i + 1, step.name, step.detail));
        }
        s.push_str(if r.ok { "\nevery step happened.\n" } else { "\nsome step failed.\n" });
        s
    })?;
    if report.ok {
        Ok(())
    } else {
        Err(CliError::internal(
            "the demo did not complete: a step failed",
        ))
    }
}
