//! The story `ferry demo` tells, one method per narrated step, on a running devnet: three
//! wallets, a friendship, funding, Alice paying Carol herself, through Bob's relay and
//! straight into the peer-to-peer network, the balances to the sat, and a forgery refused.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{
    DIRECT_SAT, DevnetClient, FUNDING_SAT, Install, Narrator, P2P_SAT, VIA_BOB_SAT, sat,
    start_bob_relay,
};
use crate::cli::CliError;
use ferry::relay::receipt::{Receipt, verify_receipt};

/// Where the story happens: a data root, the devnet's Esplora URL and peer-to-peer address.
pub(super) struct Scene<'a> {
    pub(super) root: &'a Path,
    pub(super) backend: &'a str,
    pub(super) p2p: &'a str,
    pub(super) chain: &'a DevnetClient,
    pub(super) stop: &'a tokio::sync::watch::Receiver<bool>,
}

/// The cast, and what the steps learn that later steps check.
struct Story<'a, 'n> {
    n: &'n mut Narrator,
    scene: &'a Scene<'a>,
    alice: Install,
    bob: Install,
    carol: Install,
    bob_key: String,
    relay: String,
    carol_address: String,
    fees: Vec<u64>,
}

/// Tells the story; with `keep`, leaves the devnet and Bob's relay running until Ctrl-C.
pub(super) async fn tell(n: &mut Narrator, scene: &Scene<'_>, keep: bool) -> Result<(), CliError> {
    let install = |name| Install {
        name,
        dir: scene.root.join(name),
    };
    let mut story = Story {
        n,
        scene,
        alice: install("alice"),
        bob: install("bob"),
        carol: install("carol"),
        bob_key: String::new(),
        relay: String::new(),
        carol_address: String::new(),
        fees: Vec::new(),
    };
    story.wallets().await?;
    story.friends().await?;
    story.funding().await?;
    story.alice_pays_herself().await?;
    let via_txid = story.alice_pays_through_bob().await?;
    story.bobs_relay_reports(&via_txid).await?;
    story.alice_pays_over_p2p().await?;
    story.balances().await?;
    story.forgery_refused().await?;
    if keep {
        story.keep_running().await;
    }
    Ok(())
}

impl Story<'_, '_> {
    /// Runs `ferry --json ARGS` as `who`.
    async fn ferry(&self, who: &Install, args: &[&str]) -> Result<Value, CliError> {
        who.ferry(self.scene.backend, args).await
    }

    /// Alice pays Carol `sat` with `extra` flags; returns the report and records the fee.
    async fn alice_pays(&mut self, sat_amount: u64, extra: &[&str]) -> Result<Value, CliError> {
        let amount = format!("{sat_amount}sat");
        let mut args = vec![
            "send",
            self.carol_address.as_str(),
            amount.as_str(),
            "--fee-rate",
            "2",
            "--yes",
        ];
        args.extend_from_slice(extra);
        let report = self.ferry(&self.alice, &args).await?;
        self.fees.push(sat(&report["fee_sat"]));
        Ok(report)
    }

    /// Step 1: Wallets: each install creates its own, non-interactively.
    async fn wallets(&mut self) -> Result<(), CliError> {
        for who in [&self.alice, &self.bob, &self.carol] {
            let w = who
                .ferry(
                    self.scene.backend,
                    &["create", "--network", "regtest", "--address-type", "p2wpkh"],
                )
                .await?;
            let ok = w["network"] == "regtest"
                && w["mnemonic"]
                    .as_str()
                    .is_some_and(|m| m.split(' ').count() == 12);
            self.n.step(
                "wallet",
                ok,
                format!("{}$ ferry create --network regtest → a 12-word wallet, encrypted on {}'s disk (words not shown here)", who.name, who.name),
            );
        }
        Ok(())
    }

    /// Step 2: Identities and friendship; Bob runs a friends-only relay (in this process, on an
    /// ephemeral port) that accepts Alice's signed requests.
    async fn friends(&mut self) -> Result<(), CliError> {
        let alice_id = self.ferry(&self.alice, &["identity"]).await?;
        let bob_id = self.ferry(&self.bob, &["identity"]).await?;
        let alice_npub = alice_id["npub"].as_str().unwrap_or_default().to_owned();
        self.bob_key = bob_id["key"].as_str().unwrap_or_default().to_owned();
        self.ferry(
            &self.bob,
            &["friends", "add", "alice", "--key", &alice_npub],
        )
        .await?;
        self.relay =
            start_bob_relay(&self.bob.dir, self.scene.backend, self.scene.stop.clone()).await?;
        let (relay, bob_key) = (self.relay.clone(), self.bob_key.clone());
        self.ferry(
            &self.alice,
            &["friends", "add", "bob", "--url", &relay, "--key", &bob_key],
        )
        .await?;
        self.n.step(
            "friends",
            true,
            format!(
                "bob$ ferry friends add alice --key {alice_npub}\nbob$ ferry relay serve --friends-only → {relay}\nalice$ ferry friends add bob --url {relay} --key {bob_key}"
            ),
        );
        Ok(())
    }

    /// Step 3: The faucet pays Alice; a block confirms it.
    async fn funding(&mut self) -> Result<(), CliError> {
        let funding = self.ferry(&self.alice, &["address"]).await?;
        let funding_address = funding["address"].as_str().unwrap_or_default().to_owned();
        self.scene
            .chain
            .post(
                "/devnet/faucet",
                json!({"address": funding_address, "amount_sat": FUNDING_SAT}),
            )
            .await?;
        self.scene.chain.mine(1).await?;
        let balance = self.ferry(&self.alice, &["balance"]).await?;
        self.n.step(
            "funding",
            sat(&balance["confirmed"]) == FUNDING_SAT,
            format!("the devnet faucet pays {FUNDING_SAT} sat to Alice's {funding_address}; alice$ ferry balance → {} sat confirmed", balance["confirmed"]),
        );
        self.carol_address = self.ferry(&self.carol, &["address"]).await?["address"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(())
    }

    /// Step 4: Alice pays Carol herself, through the node's API.
    async fn alice_pays_herself(&mut self) -> Result<(), CliError> {
        let direct = self.alice_pays(DIRECT_SAT, &[]).await?;
        let txid = direct["txid"].as_str().unwrap_or_default().to_owned();
        let pushed = direct["broadcast"][0]["via"] == "direct"
            && direct["broadcast"][0]["status"] == "accepted";
        let seen = self.scene.chain.in_mempool(&txid).await?;
        self.scene.chain.mine(1).await?;
        self.n.step(
            "alice pays carol herself",
            pushed && seen,
            format!("alice$ ferry send {} {DIRECT_SAT}sat --fee-rate 2 --yes\n→ txid {txid}, fee {} sat, broadcast directly; mined", self.carol_address, sat(&direct["fee_sat"])),
        );
        Ok(())
    }

    /// Step 5: Alice pays Carol through Bob's relay, which answers with a signed receipt and
    /// broadcasts for her.
    async fn alice_pays_through_bob(&mut self) -> Result<String, CliError> {
        let via = self.alice_pays(VIA_BOB_SAT, &["--via", "bob"]).await?;
        let txid = via["txid"].as_str().unwrap_or_default().to_owned();
        let outcome = &via["broadcast"][0];
        let receipt: Option<Receipt> = serde_json::from_value(outcome["receipt"].clone()).ok();
        let pinned: Option<[u8; 32]> = hex::decode(&self.bob_key)
            .ok()
            .and_then(|b| b.try_into().ok());
        let receipt_ok = match (&receipt, &pinned) {
            (Some(r), Some(k)) => r.txid == txid && verify_receipt(r, k).is_ok(),
            _ => false,
        };
        let mut relayed = false;
        for _ in 0..100 {
            if self.scene.chain.in_mempool(&txid).await? {
                relayed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.n.step(
            "alice pays carol through bob",
            outcome["via"] == "bob" && receipt_ok && relayed,
            format!(
                "alice$ ferry send {} {VIA_BOB_SAT}sat --fee-rate 2 --yes --via bob\n→ txid {txid}, fee {} sat; Bob's relay answered {} with a receipt signed by Bob's key (verified: {receipt_ok}) and broadcast it (in the devnet mempool: {relayed})",
                self.carol_address,
                sat(&via["fee_sat"]),
                outcome["status"]
            ),
        );
        self.scene.chain.mine(1).await?;
        Ok(txid)
    }

    /// Step 6: Bob's relay reports the payment confirmed.
    async fn bobs_relay_reports(&mut self, txid: &str) -> Result<(), CliError> {
        let mut status = Value::Null;
        for _ in 0..100 {
            status = self
                .ferry(&self.alice, &["relay", "status", txid, "--via", "bob"])
                .await?;
            if status["status"] == "confirmed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.n.step(
            "bob's relay reports",
            status["status"] == "confirmed",
            format!(
                "alice$ ferry relay status {txid} --via bob → {} after {} attempt(s)",
                status["status"], status["attempts"]
            ),
        );
        Ok(())
    }

    /// Step 7: Alice hands a payment straight to the network: ferry connects to the node's
    /// peer-to-peer port (BIP-0324), inv → getdata → tx, and a second connection hears the
    /// node announce it back.
    async fn alice_pays_over_p2p(&mut self) -> Result<(), CliError> {
        let p2p = self.scene.p2p;
        let sent = self
            .alice_pays(P2P_SAT, &["--p2p", "--peer", p2p, "--observer", p2p])
            .await?;
        let txid = sent["txid"].as_str().unwrap_or_default().to_owned();
        let report = &sent["p2p"];
        let in_pool = self.scene.chain.in_mempool(&txid).await?;
        self.scene.chain.mine(1).await?;
        self.n.step(
            "alice hands a payment to the network",
            report["propagated"] == true && in_pool,
            format!(
                "alice$ ferry send {} {P2P_SAT}sat --fee-rate 2 --yes --p2p --peer {p2p} --observer {p2p}\n→ txid {txid}, fee {} sat; handed over on a fresh {} connection (no server asked), announced back to the observer: {}; mined",
                self.carol_address,
                sat(&sent["fee_sat"]),
                report["peers"][0]["transport"],
                report["propagated"]
            ),
        );
        Ok(())
    }

    /// Step 8: The balances, to the sat.
    async fn balances(&mut self) -> Result<(), CliError> {
        let a = self.ferry(&self.alice, &["balance"]).await?;
        let c = self.ferry(&self.carol, &["balance"]).await?;
        let fees: u64 = self.fees.iter().sum();
        let alice_expected = FUNDING_SAT - DIRECT_SAT - VIA_BOB_SAT - P2P_SAT - fees;
        let carol_expected = DIRECT_SAT + VIA_BOB_SAT + P2P_SAT;
        let shown: Vec<String> = self.fees.iter().map(u64::to_string).collect();
        self.n.step(
            "balances",
            sat(&a["confirmed"]) == alice_expected
                && sat(&a["unconfirmed"]) == 0
                && sat(&c["confirmed"]) == carol_expected,
            format!(
                "Alice {} sat (expected {FUNDING_SAT} − {DIRECT_SAT} − {VIA_BOB_SAT} − {P2P_SAT} − fees {} = {alice_expected}); Carol {} sat (expected {carol_expected})",
                a["confirmed"],
                shown.join(", "),
                c["confirmed"]
            ),
        );
        Ok(())
    }

    /// Step 9: A relay checks what it relays: a forged signature is refused.
    async fn forgery_refused(&mut self) -> Result<(), CliError> {
        let carol = self.carol_address.clone();
        let unsigned = self
            .ferry(
                &self.alice,
                &[
                    "send",
                    &carol,
                    "10000sat",
                    "--fee-rate",
                    "2",
                    "--no-broadcast",
                ],
            )
            .await?;
        let forged = forge(unsigned["hex"].as_str().unwrap_or_default());
        let refused = self
            .ferry(&self.alice, &["broadcast", &forged, "--via", "bob"])
            .await;
        let refused_ok = matches!(&refused, Err(e) if e.message.contains("script"));
        self.n.step(
            "a forged transaction is refused",
            refused_ok,
            format!(
                "one flipped bit in a signature: Bob's relay runs Bitcoin Core's interpreter before queueing and refuses it: {}",
                refused
                    .err()
                    .map(|e| e.message.rsplit_once("failed: ").map_or(e.message.clone(), |(_, m)| m.to_owned()))
                    .unwrap_or_else(|| "accepted (wrong!)".into())
            ),
        );
        Ok(())
    }

    async fn keep_running(&self) {
        #[allow(clippy::print_stdout)]
        {
            println!(
                "\nStill running (Ctrl-C to stop):\n  devnet  {}\n  relay   {}\nTry:\n  FERRY_DATA_DIR={} FERRY_BACKEND={} ferry balance\n  curl {}/v1/info\n",
                self.scene.backend,
                self.relay,
                self.alice.dir.display(),
                self.scene.backend,
                self.relay
            );
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Flips one bit inside the first input's signature (a witness item), keeping the
/// transaction well-formed.
fn forge(hex_tx: &str) -> String {
    match ferry::tx::Transaction::from_hex(hex_tx) {
        Ok(mut tx) => {
            if let Some(input) = tx.input.first_mut() {
                let mut items = input.witness.items().to_vec();
                if let Some(sig) = items.first_mut().filter(|s| s.len() > 10) {
                    sig[10] ^= 0x01;
                }
                input.witness = ferry::tx::Witness::from_items(items);
            }
            tx.to_hex()
        }
        Err(_) => hex_tx.to_owned(),
    }
}
