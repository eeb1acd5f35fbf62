//! The `ferry` binary: parse arguments, run one command, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(&e),
    };
    let out = cli::Output::new(args.json);
    let result = if cli::needs_runtime(&args) {
        // Only main.rs starts a runtime, and only for the commands that need one.
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(cli::CliError::internal)
            .and_then(|rt| rt.block_on(cli::run_async(args)))
    } else {
        cli::run(args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            err.kind.exit_code()
        }
    }
}

/// Reports a command-line parsing error. Help and version go to stdout with exit 0; a bad
/// argument is a user error, exit 1 (clap's own exit 2 means "backend failure" in ferry).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--json") {
        let text = e
            .kind()
            .as_str()
            .map_or_else(|| e.to_string(), str::to_owned);
        let detail = e.to_string();
        let first = detail
            .lines()
            .next()
            .unwrap_or(&text)
            .trim_start_matches("error: ");
        let doc = serde_json::json!({"error": {"code": "usage", "message": first}});
        println!("{doc}");
    } else {
        let _ = e.print();
    }
    ExitCode::from(1)
}
