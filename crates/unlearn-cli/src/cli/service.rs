//! `unlearn serve`: the HTTP deletion service ([`unlearn_service`]) on a store.

use super::CliResult;
use super::args::{CheckpointArg, WritableStoreArg};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use unlearn_service::{Service, ServiceConfig, Token};

/// Arguments of `unlearn serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Routes (see GET /v1/openapi.json): POST /v1/deletions {\"ids\": [...]} or
{\"subject\": \"...\"} with an optional \"ref\" → a receipt once the deletion is durable;
GET /v1/deletions/{ref}; GET /v1/model; POST /v1/predict {\"rows\": [[...]]};
GET /v1/health (no token); GET /metrics (the operator's token only). Every other route
needs `Authorization: Bearer TOKEN`, TOKEN being the token file's one line (the file must
be owner-only: chmod 600). /metrics shows the budget used and request latencies, which
depend on the data: it admits only the token of --metrics-token-file (a different one)
and answers 403 without it. Deletions are applied in arrival order and acknowledged once
durable; releases follow the publish policy. SIGTERM or SIGINT: stop accepting, serve
what is queued, exit 0. Prints `listening on http://ADDR` once ready.

Examples:
  openssl rand -hex 32 > token && chmod 600 token
  unlearn serve --store digits.store --listen 127.0.0.1:8080 --token-file token
  unlearn serve --store digits.store --listen 127.0.0.1:8080 --token-file token --publish-every 100 --publish-interval 60
  openssl rand -hex 32 > metrics-token && chmod 600 metrics-token
  unlearn serve --store digits.store --listen 127.0.0.1:8080 --token-file token --metrics-token-file metrics-token"
)]
pub struct ServeHttpArgs {
    /// The model store (its writer lock held while serving; readers keep working).
    #[command(flatten)]
    pub store: WritableStoreArg,
    #[command(flatten)]
    pub checkpoint: CheckpointArg,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// File holding the bearer token (owner-only; one line, at least 16 characters).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// File holding the operator's token, the only one GET /metrics admits (owner-only; a
    /// token other than --token-file's). Without it /metrics answers 403.
    #[arg(long, value_name = "FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// Publish a release every N deletion requests (recorded in the store's publish policy;
    /// default: the store's, set at training).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub publish_every: Option<u64>,
    /// Also publish the pending deletions once SECS seconds have passed since the last
    /// release.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub publish_interval: Option<u64>,
}

/// Runs `unlearn serve` until SIGTERM or SIGINT.
pub fn run(args: &ServeHttpArgs) -> CliResult {
    let token = Token::from_file(&args.token_file)?;
    let metrics_token = args
        .metrics_token_file
        .as_deref()
        .map(Token::from_file)
        .transpose()?;
    let config = ServiceConfig {
        metrics_token,
        publish_every: args.publish_every,
        publish_interval: args.publish_interval.map(Duration::from_secs),
        checkpoint_every: args.checkpoint.checkpoint_every,
        wait: args.store.wait.duration(),
        ..ServiceConfig::new(&args.store.store.store, token)
    };
    let service = Service::open(config)?;
    let listener = std::net::TcpListener::bind(&args.listen)
        .map_err(|e| format!("--listen {}: cannot listen there: {e}", args.listen))?;
    service.run_until_signal(listener, |addr| {
        say!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
    })?;
    eprintln!("unlearn serve: stopped; every acknowledged deletion is in the store");
    Ok(())
}
