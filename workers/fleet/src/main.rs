//! The `sportello` binary: parse the command line, set up logging, run the command.
//! Every failure ends as one line on standard error and a non-zero exit.

use clap::Parser;
use sportello_fleet::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("sportello: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sportello_fleet::cli::execute(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("sportello: {err:#}");
            ExitCode::FAILURE
        }
    }
}
