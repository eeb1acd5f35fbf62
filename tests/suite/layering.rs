//! The layering of DESIGN.md §1, held by reading `src/`: a top-level module imports only
//! modules listed above it, so the pure core never reaches an edge and no two modules
//! import each other. Unit tests (`tests.rs`, `*_tests.rs`, and everything after a file's
//! `#[cfg(test)]`) may use any module: Core's interpreter is the core's test oracle.

use std::collections::BTreeSet;
use std::path::Path;

/// The allowed direction: each module may import only those before it.
const ORDER: &[&str] = &[
    // The pure core: no I/O, no async.
    "units",
    "network",
    "hashes",
    "fs",
    "script",
    "keys",
    "descriptor",
    "tx",
    "sighash",
    "sign",
    "psbt",
    "consensus",
    // Files, no network.
    "wallet",
    "identity",
    // The edges.
    "chain",
    "p2p",
    "relay",
    "devnet",
];

/// Imports against the order that are known, with the issue that removes them.
/// None today: keep it that way.
const KNOWN: &[(&str, &str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::NAME` the code (not the comments, not the tests) of `text` mentions.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let name: String = code[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn modules_import_only_modules_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut edges = BTreeSet::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let name = file.file_name().unwrap().to_string_lossy();
        // The binary's side (main.rs, cli/) may use everything; lib.rs only declares.
        if matches!(top.as_str(), "main" | "lib" | "cli")
            || name == "tests.rs"
            || name.ends_with("_tests.rs")
        {
            continue;
        }
        let Some(me) = ORDER.iter().position(|m| *m == top) else {
            violations.push(format!("{top}: not in ORDER (place it in the layering)"));
            continue;
        };
        for dep in imports(&std::fs::read_to_string(&file).unwrap()) {
            if dep == top {
                continue;
            }
            let Some(there) = ORDER.iter().position(|m| *m == dep) else {
                continue;
            };
            edges.insert((top.clone(), dep.clone()));
            let known = KNOWN.iter().any(|(a, b, _)| *a == top && *b == dep);
            if there > me && !known {
                violations.push(format!(
                    "{}: {top} imports {dep}, which is below it",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
    // Every known exception still exists (else it should leave the list).
    for (a, b, why) in KNOWN {
        assert!(
            edges.contains(&((*a).to_owned(), (*b).to_owned())),
            "{a} no longer imports {b} ({why}): remove it from KNOWN"
        );
    }
}

#[test]
fn the_checker_sees_imports_and_skips_tests() {
    let text = "//! see crate::wallet\nuse crate::tx::Txid;\nfn f() { crate::chain::open(\"\"); } // crate::devnet\n#[cfg(test)]\nmod tests { use crate::relay; }";
    let found = imports(text);
    assert_eq!(
        found,
        ["chain", "tx"].iter().map(|s| (*s).to_owned()).collect()
    );
}

/// The modules above the edges do no network I/O and run no async code: the wallet makes a
/// sync request and applies the answer, a driver in `chain` does the asking.
#[test]
fn the_core_and_the_wallet_are_not_async() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = ORDER.iter().position(|m| *m == "chain").unwrap();
    let mut found = Vec::new();
    for module in &ORDER[..edges] {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        files.push(src.join(format!("{module}.rs")));
        for file in files.into_iter().filter(|f| f.exists()) {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for needle in ["tokio::", "reqwest::", "async fn", ".await"] {
                if code.contains(needle) {
                    found.push(format!("{}: {needle}", file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "I/O or async in the core:\n{}",
        found.join("\n")
    );
}

/// An error's cause is printed once: ferry shows an error's message (Display), and its
/// message already names the cause, so the cause must not also be its `source()` — which
/// `#[from]`/`#[source]` on a field the message shows, or a field named `source` shown as
/// `{source}`, would make it (and a reporter walking the chain would print it twice).
#[test]
fn errors_print_their_cause_once() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let lines: Vec<&str> = code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(at) = line.find("#[error(\"") else {
                continue;
            };
            let message = &line[at..];
            // The variant the attribute is on: up to the next attribute of its kind.
            let variant: String = lines[i + 1..]
                .iter()
                .take_while(|l| !l.contains("#[error(") && !l.starts_with('}'))
                .take(10)
                .filter(|l| !l.trim_start().starts_with("//"))
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            let shows_field_0 = message.contains("{0}") || message.contains("{0:");
            if (shows_field_0 && (variant.contains("#[from]") || variant.contains("#[source]")))
                || message.contains("{source}")
            {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a cause both in the message and as source():\n{}",
        found.join("\n")
    );
}
