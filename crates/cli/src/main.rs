//! `organism`: the binary of Organism Trends (DESIGN.md §8).

mod check;
mod commands;
mod config;
mod connect;
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
    /// Serve the HTTP API (/api/...), the dashboard (/) and the lifecycle
    /// job scheduler (rollup refresh, retention, compression) until Ctrl-C
    /// or SIGTERM.
    Serve(commands::serve::ServeArgs),
    /// Create or upgrade the database schema (tables, engine, migrations),
    /// print its version, then exit.
    Migrate,
    /// Load metrics files into the database, each file all or nothing:
    /// .csv, .parquet, .ndjson/.jsonl or .json (an array).
    Ingest(commands::ingest::IngestArgs),
    /// Try it out: the embedded database, a synthetic organisation
    /// (employees, teams, months of metrics, interventions), a fresh admin
    /// API key, then serve the API and dashboard.
    Demo(commands::demo::DemoArgs),
    /// Compute a graph metrics snapshot (degree, betweenness, clustering,
    /// burnout score) from interaction and directory files (CSV, NDJSON or
    /// Parquet) and store one sample per directory employee.
    Graph(commands::graph::GraphArgs),
    /// Run the lifecycle jobs now, or show their last runs (--status): the
    /// hourly rollup's refresh, retention (drops old raw samples and rollup
    /// hours), compression of old raw samples (TimescaleDB's native
    /// compression, or packed days on the portable engine) and the portable
    /// engine's partitions ahead.
    Maintain(commands::maintain::MaintainArgs),
    /// API keys: create (printed once, stored hashed), list, revoke.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// The benchmark: a fresh database, a synthetic organisation, the
    /// lifecycle jobs, then every read endpoint over HTTP; prints the
    /// figures beside the targets.
    Bench(commands::bench::BenchArgs),
    /// Audit log tools: verify the hash chain, make a signing key, sign a
    /// checkpoint.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Analytics for operators, as the /api/analytics endpoints answer an
    /// admin: an intervention's effect, forecasts, anomalies, correlations,
    /// and the forecast's backtest.
    Analyze(commands::analyze::AnalyzeArgs),
    /// Ingest from an event stream: metric batches (the body format of
    /// POST /api/metrics) from a NATS JetStream durable consumer, each
    /// acknowledged once committed, bad ones to a dead-letter subject;
    /// until Ctrl-C or SIGTERM.
    Consume(commands::consume::ConsumeArgs),
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
            Command::Analyze(args) => commands::analyze::run(&cli.global, args).await,
            Command::Consume(args) => commands::consume::run(&cli.global, args).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command says what it does and every flag has a help line
    /// (hidden ones and clap's own --help/--version aside).
    #[test]
    fn every_command_and_every_flag_has_a_help_line() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if command.get_about().is_none() && !path.is_empty() {
                missing.push(format!("command `{path}`"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() {
                    missing.push(format!("`{path}` argument {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                walk(sub, format!("{path} {}", sub.get_name()).trim(), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
