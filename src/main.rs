//! The `ferry` binary: parse arguments, run one command, map the outcome to an exit code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
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
