//! `amboy`: the job queue server, workers and CLI.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = amboy_server::cli::Cli::parse();
    match amboy_server::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
