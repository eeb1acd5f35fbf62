//! `ferry devnet` through the real binary: it prints where it listens and how to point a
//! wallet at it, serves, and stops cleanly on SIGTERM with exit code 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn devnet_command_prints_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "devnet",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("FERRY_BACKEND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("devnet (regtest) listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let mut text = vec![first];
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("Stop with");
        text.push(line);
        if done {
            break;
        }
    }
    let text = text.join("\n");
    assert!(
        text.contains(&format!("--backend http://{addr}/api")),
        "{text}"
    );
    assert!(
        text.contains(&format!("FERRY_BACKEND=http://{addr}/api")),
        "{text}"
    );
    assert!(dir.path().join("devnet").join("devnet.sqlite").exists());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let height = rt.block_on(async {
        reqwest::get(format!("http://{addr}/api/blocks/tip/height"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(height, "110");

    // SIGTERM by the child's own pid.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(
        exit.code(),
        Some(0),
        "devnet should exit cleanly on SIGTERM"
    );
}
