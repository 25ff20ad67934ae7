//! `organism`: the binary of Organism Trends (DESIGN.md §8).

mod commands;
mod config;
mod database;
mod shutdown;
mod synth;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::GlobalArgs;

#[derive(Debug, Parser)]
#[command(
    name = "organism",
    version,
    about = "Organism Trends: the time-series memory of the Causal Organism platform"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and dashboard until Ctrl-C or SIGTERM.
    Serve(commands::serve::ServeArgs),
    /// Create or upgrade the schema, then exit.
    Migrate,
    /// Load metrics files (.csv, .parquet, .ndjson/.jsonl, .json), each all or nothing.
    Ingest(commands::ingest::IngestArgs),
    /// Embedded database + a synthetic organisation + serve.
    Demo(commands::demo::DemoArgs),
    /// Compute and store a metrics snapshot from interaction and directory files.
    Graph(commands::graph::GraphArgs),
    /// Run the lifecycle jobs now (rollup refresh, retention, compression,
    /// partitions ahead), or show their last runs.
    Maintain(commands::maintain::MaintainArgs),
    /// API keys: create (printed once), list, revoke.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// The benchmark: a fresh database, a synthetic organisation, the
    /// lifecycle jobs, then every read endpoint over HTTP.
    Bench(commands::bench::BenchArgs),
    /// Audit log tools.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
}

/// Errors are printed as one line of causes (`error: a: b: c`), without the
/// backtrace that `anyhow` would add when `RUST_BACKTRACE` is set.
fn main() -> std::process::ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Whether --data-dir was given, as a flag or in the environment (the
    // benchmark otherwise uses a throwaway directory).
    let data_dir_given = !matches!(
        matches.value_source("data_dir"),
        None | Some(ValueSource::DefaultValue)
    );
    match run(cli, data_dir_given) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, data_dir_given: bool) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.global.log)?)
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(&cli.global, args).await,
            Command::Migrate => commands::migrate::run(&cli.global).await,
            Command::Ingest(args) => commands::ingest::run(&cli.global, args).await,
            Command::Demo(args) => commands::demo::run(&cli.global, args).await,
            Command::Graph(args) => commands::graph::run(&cli.global, args).await,
            Command::Maintain(args) => commands::maintain::run(&cli.global, args).await,
            Command::Keys(command) => commands::keys::run(&cli.global, command).await,
            Command::Bench(args) => commands::bench::run(&cli.global, args, data_dir_given).await,
            Command::Audit(command) => commands::audit::run(&cli.global, command).await,
        }
    })
}
