//! Hand-off through the real binary on a devnet (issue 13): `send --no-broadcast --qr`
//! gives one bare-hex QR code when the transaction fits, else BBQr frames; the frames decode
//! back — with a decoder written here from the BBQr spec, not ferry's — to the very
//! transaction, for 1, 50 and 400 inputs, each frame fitting a QR code of version 15 or
//! less; `--handoff FILE` then `ferry broadcast FILE` (a hex file, a file of BBQr frames, a
//! finalized PSBT) pushes it; `psbt create --qr` frames the PSBT. Misuse is refused.

use crate::common::cli::{Ferry, Run};
use crate::common::devnet::Node;
use ferry::keys::Mnemonic;
use ferry::network::Network;
use ferry::psbt::Psbt;
use ferry::script::AddressType;
use ferry::tx::Transaction;
use serde_json::Value;

const PASSWORD: &str = "pw for tests";

/// A BBQr decoder from the spec (Coinkite's BBQr.md): `B$`, encoding (`H` hex, `2` Base32
/// RFC 4648 without padding), file type, 2 base-36 digits of frame count, 2 of the index.
fn spec_decode(frames: &[String]) -> (char, Vec<u8>) {
    let alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut parts: Vec<Option<Vec<u8>>> = Vec::new();
    let mut first_six = None;
    for f in frames {
        assert!(
            f.chars().all(|c| alnum.contains(c)),
            "alphanumeric only: {f}"
        );
        assert_eq!(&f[..2], "B$");
        if let Some(h) = &first_six {
            assert_eq!(h, &f[..6], "same first six characters in every frame");
        } else {
            first_six = Some(f[..6].to_owned());
        }
        let total = usize::from_str_radix(&f[4..6], 36).unwrap();
        let index = usize::from_str_radix(&f[6..8], 36).unwrap();
        parts.resize(total, None);
        let body = &f[8..];
        let bytes = match &f[2..3] {
            "H" => hex::decode(body).unwrap(),
            "2" => {
                let mut out = Vec::new();
                for group in body.as_bytes().chunks(8) {
                    let mut acc: u64 = 0;
                    for &c in group {
                        let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
                            .find(char::from(c))
                            .unwrap();
                        acc = acc << 5 | v as u64;
                    }
                    let bits = group.len() * 5;
                    let whole = bits / 8;
                    acc >>= bits - whole * 8;
                    for i in (0..whole).rev() {
                        out.push((acc >> (8 * i)) as u8);
                    }
                }
                out
            }
            e => panic!("encoding {e}"),
        };
        assert!(parts[index].replace(bytes).is_none(), "frame {index} twice");
    }
    let lens: Vec<usize> = parts.iter().map(|p| p.as_ref().unwrap().len()).collect();
    if lens.len() > 1 {
        assert!(
            lens[..lens.len() - 1].iter().all(|&l| l == lens[0]),
            "equal blocks: {lens:?}"
        );
    }
    let ty = frames[0].chars().nth(3).unwrap();
    (ty, parts.into_iter().flatten().flatten().collect())
}

/// A version-15 QR code at error correction L holds 758 alphanumeric characters (ISO/IEC
/// 18004, table 7) in one alphanumeric segment.
fn fits_version_15(text: &str) -> bool {
    text.len() <= 758
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" $%*+-./:".contains(&b))
}

fn run(f: &Ferry, backend: &str, args: &[&str]) -> Run {
    f.run_with_stdin(
        args,
        "",
        &[("FERRY_BACKEND", backend), ("FERRY_PASSWORD", PASSWORD)],
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_frames_decode_back_for_1_50_400_inputs_and_hand_off_files_broadcast() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let f = std::sync::Arc::new(Ferry::new());
    let friend = std::sync::Arc::new(Ferry::new());
    let sizes = [1usize, 50, 400];
    for (i, n) in sizes.iter().enumerate() {
        let m = Mnemonic::from_entropy(&[30 + i as u8; 16]).unwrap();
        f.add_wallet(
            &format!("w{n}"),
            &m,
            Network::Regtest,
            AddressType::P2wpkh,
            PASSWORD,
        );
        let (f2, b, name) = (f.clone(), backend.clone(), format!("w{n}"));
        let addr = blocking(move || {
            run(&f2, &b, &["--json", "--wallet", &name, "address"])
                .expect_code(0)
                .json()
        })
        .await["address"]
            .as_str()
            .unwrap()
            .to_owned();
        for k in 0..*n {
            node.faucet(&addr, 10_000).await;
            if k % 20 == 19 {
                node.mine(1, None).await;
            }
        }
    }
    node.mine(1, None).await;
    let dest = node.faucet_address();
    let mut txids = Vec::new();
    for n in sizes {
        let (f2, fr, b, d) = (f.clone(), friend.clone(), backend.clone(), dest.clone());
        let txid = blocking(move || {
            let name = format!("w{n}");
            let r = run(
                &f2,
                &b,
                &[
                    "--json",
                    "--wallet",
                    &name,
                    "send",
                    &d,
                    "--max",
                    "--fee-rate",
                    "1",
                    "--no-broadcast",
                    "--qr",
                ],
            )
            .expect_code(0)
            .json();
            let tx = Transaction::from_hex(r["hex"].as_str().unwrap()).unwrap();
            assert_eq!(tx.input.len(), n);
            let frames: Vec<String> = serde_json::from_value(r["qr_frames"].clone()).unwrap();
            if let Some(q) = frames.iter().find(|q| !fits_version_15(q)) {
                panic!("{n}: a frame of {} characters too large: {q}", q.len());
            }
            if n == 1 {
                assert_eq!(
                    frames,
                    vec![r["hex"].as_str().unwrap().to_uppercase()],
                    "one bare QR"
                );
            } else {
                let (ty, bytes) = spec_decode(&frames);
                assert_eq!(ty, 'T');
                assert_eq!(
                    bytes,
                    tx.serialize(),
                    "{n} inputs: frames decode to the transaction"
                );
                eprintln!(
                    "{n} inputs: {} bytes, {} BBQr frames of at most {} characters",
                    bytes.len(),
                    frames.len(),
                    frames.iter().map(String::len).max().unwrap()
                );
            }
            // The friend's install, which has no wallet, pushes what it was handed.
            let path = fr.dir.path().join(format!("{n}.txt"));
            let mut handed = tx.clone();
            let pushed = if n == 1 {
                // A --handoff file of hex.
                let h = run(
                    &f2,
                    &b,
                    &[
                        "--json",
                        "--wallet",
                        &name,
                        "send",
                        &d,
                        "--max",
                        "--fee-rate",
                        "1",
                        "--no-broadcast",
                        "--handoff",
                        path.to_str().unwrap(),
                    ],
                )
                .expect_code(0)
                .json();
                assert_eq!(h["handoff"], path.to_str().unwrap());
                let written = std::fs::read_to_string(&path).unwrap();
                assert_eq!(written.trim(), h["hex"].as_str().unwrap());
                // (Signed again, it may differ from the --qr one: the anti-fee-sniping
                // locktime is sometimes set back, as Core does.)
                handed = Transaction::from_hex(written.trim()).unwrap();
                run(&fr, &b, &["--json", "broadcast", path.to_str().unwrap()])
            } else {
                // The scanned frames, one per line, in reverse order.
                let text: Vec<&str> = frames.iter().rev().map(String::as_str).collect();
                std::fs::write(&path, text.join("\n")).unwrap();
                run(&fr, &b, &["--json", "broadcast", path.to_str().unwrap()])
            };
            let pushed = pushed.expect_code(0).json();
            assert_eq!(pushed["txid"], handed.txid().to_string());
            handed.txid().to_string()
        })
        .await;
        txids.push(txid);
    }
    let pool = node.get_json("/api/mempool/txids").await;
    for t in &txids {
        assert!(
            pool.as_array()
                .unwrap()
                .iter()
                .any(|p| p == &Value::from(t.clone()))
        );
    }
    node.mine(1, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psbt_qr_frames_finalized_psbt_files_and_misuse() {
    let node = Node::start_fresh().await;
    let backend = format!("{}/api", node.base);
    let f = std::sync::Arc::new(Ferry::new());
    let m = Mnemonic::from_entropy(&[44; 16]).unwrap();
    f.add_wallet("default", &m, Network::Regtest, AddressType::P2tr, PASSWORD);
    let (f2, b) = (f.clone(), backend.clone());
    let addr = blocking(move || run(&f2, &b, &["--json", "address"]).expect_code(0).json()).await;
    for _ in 0..12 {
        node.faucet(addr["address"].as_str().unwrap(), 20_000).await;
    }
    node.mine(1, None).await;
    let dest = node.faucet_address();
    let (f2, b) = (f.clone(), backend.clone());
    blocking(move || {
        let created = run(
            &f2,
            &b,
            &[
                "--json",
                "psbt",
                "create",
                &dest,
                "--max",
                "--fee-rate",
                "1",
                "--qr",
            ],
        )
        .expect_code(0)
        .json();
        let frames: Vec<String> = serde_json::from_value(created["qr_frames"].clone()).unwrap();
        let (ty, bytes) = spec_decode(&frames);
        assert_eq!(ty, 'P');
        let psbt = Psbt::deserialize(&bytes).unwrap();
        assert_eq!(psbt.to_base64(), created["psbt"].as_str().unwrap());
        assert!(
            frames.len() > 1,
            "12 inputs' UTXOs and origins need several frames"
        );

        // Not finalized: refused. Then signed and finalized: the PSBT file itself broadcasts.
        let file = f2.dir.path().join("unsigned.psbt");
        std::fs::write(&file, created["psbt"].as_str().unwrap()).unwrap();
        let no = run(&f2, &b, &["--json", "broadcast", file.to_str().unwrap()])
            .expect_code(1)
            .json();
        assert_eq!(no["error"]["code"], "not_finalized", "{no}");
        let signed = f2
            .run_with_stdin(
                &["--json", "sign", "-", "--yes", "--finalize"],
                created["psbt"].as_str().unwrap(),
                &[("FERRY_PASSWORD", PASSWORD)],
            )
            .expect_code(0)
            .json();
        let fin = f2.dir.path().join("final.psbt");
        std::fs::write(
            &fin,
            Psbt::from_base64(signed["psbt"].as_str().unwrap())
                .unwrap()
                .serialize(),
        )
        .unwrap();
        let pushed = run(&f2, &b, &["--json", "broadcast", fin.to_str().unwrap()])
            .expect_code(0)
            .json();
        assert_eq!(pushed["txid"], signed["txid"]);

        // Misuse: --qr without --no-broadcast; an existing --handoff file (nothing signed).
        let no = run(
            &f2,
            &b,
            &["--json", "send", &dest, "1000sat", "--yes", "--qr"],
        )
        .expect_code(1)
        .json();
        assert_eq!(no["error"]["code"], "handoff_needs_no_broadcast");
        let before = std::fs::read(&file).unwrap();
        let no = run(
            &f2,
            &b,
            &[
                "--json",
                "send",
                &dest,
                "1000sat",
                "--no-broadcast",
                "--handoff",
                file.to_str().unwrap(),
            ],
        )
        .expect_code(1)
        .json();
        assert_eq!(no["error"]["code"], "file_exists");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "the existing file is untouched"
        );
        let no = run(&f2, &b, &["--json", "broadcast", "B$2T0200AAAA"])
            .expect_code(1)
            .json();
        assert_eq!(no["error"]["code"], "malformed_tx", "{no}");
    })
    .await;
}
