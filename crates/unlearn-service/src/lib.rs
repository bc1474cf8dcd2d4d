//! # unlearn-service — the HTTP deletion service
//!
//! A long-running service over the deletion engine ([`unlearn::deletions`]): it holds the
//! store's exclusive lock, keeps the unlearner and its removal caches warm, and answers
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v1/deletions` | `{"ids": [...]}` or `{"subject": "..."}`, optional `"ref"` → a receipt once durable |
//! | `GET /v1/deletions/{ref}` | the receipt, by the requester's ref or the ledger entry digest |
//! | `GET /v1/model` | the published model (`model.json`) |
//! | `POST /v1/predict` | predictions of the published model |
//! | `GET /v1/health` | liveness (the only route without a token) |
//! | `GET /metrics` | Prometheus text: requests, latencies, releases, budget used — with the operator's own token only |
//! | `GET /v1/openapi.json` | the OpenAPI 3.1 document of all of this ([`OPENAPI`]) |
//!
//! Deletions are applied in arrival order by one writer thread that owns the engine
//! (module `writer`); reads are served from the engine's snapshot ([`unlearn::deletions::Reader`])
//! and never wait for a removal step or a store write. On shutdown (SIGTERM, SIGINT, or the
//! future given to [`Service::run`]) the listener stops accepting, requests in flight are
//! answered, every queued deletion is served, and [`Service::run`] returns.
//!
//! Nothing secret is logged: no row, no id, no ref; the tokens are kept as digests.
//!
//! # Two tokens
//! Requesters (the systems that send erasure requests) hold the bearer token; `/metrics`
//! answers only to a second, operator token ([`ServiceConfig::metrics_token`]), and is
//! refused (403) when the service has none. Its budget used is the transcript's sensitivity
//! √Σc², each charge c a deterministic function of the secret weights — of the data,
//! removed rows included — and its latency histogram times each request: numbers the
//! certificate does not cover (it covers the releases and the receipts), so a requester
//! must not see them (review 13, finding A1).

mod api;
pub mod auth;
mod metrics;
mod writer;

pub use auth::{Token, TokenError};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use unlearn::deletions::{DeletionError, Deletions, PublishTimer};
use unlearn::store::{Access, Store, StoreError};

pub use api::OPENAPI;

/// Largest request body accepted by default: 1 MiB (tens of thousands of ids, or of rows of
/// a few features).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The model store.
    pub store: PathBuf,
    /// The bearer token every route but `/v1/health` and `/metrics` requires.
    pub token: Token,
    /// The operator's token, the only one `/metrics` admits (its numbers depend on the
    /// data; see the crate documentation); `None`: `/metrics` answers 403. Must differ from
    /// `token`.
    pub metrics_token: Option<Token>,
    /// Requests per release; `None` keeps the store's policy (`publish.every`).
    pub publish_every: Option<u64>,
    /// Also publish the pending requests once this long has passed since the last release.
    pub publish_interval: Option<Duration>,
    /// Largest request body accepted, in bytes (413 past it).
    pub body_limit: usize,
    /// Checkpoint the store's write-ahead log after every N deletions
    /// ([`Store::set_checkpoint_every`]; 1: a removed row's bytes leave every file before
    /// the deletion is acknowledged).
    pub checkpoint_every: u64,
    /// How long to wait for another writer of the store at start.
    pub wait: Duration,
}

impl ServiceConfig {
    /// The store and the token, with the store's publish policy and the default body limit.
    pub fn new(store: impl Into<PathBuf>, token: Token) -> Self {
        Self {
            store: store.into(),
            token,
            metrics_token: None,
            publish_every: None,
            publish_interval: None,
            body_limit: DEFAULT_BODY_LIMIT,
            checkpoint_every: 1,
            wait: Duration::ZERO,
        }
    }
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store cannot be opened or locked.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine refused the configuration.
    #[error(transparent)]
    Deletion(#[from] DeletionError),
    /// The operator's metrics token is the requesters' token.
    #[error(
        "the metrics token is the same as the requesters' token: /metrics shows data-dependent numbers (the budget used, request latencies) that requesters must not see; give the operator a token of their own (e.g. `openssl rand -hex 32 > metrics-token && chmod 600 metrics-token`)"
    )]
    SharedMetricsToken,
    /// The runtime, the listener or the writer thread could not be set up.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> ServiceError {
    move |source| ServiceError::Io { context, source }
}

/// An opened service: the store open for writing (its writer lock held by the engine's
/// store handle), the engine loaded, the writer running.
pub struct Service {
    state: api::AppState,
    writer: writer::Writer,
}

impl Service {
    /// Opens the store for writing (the one writer, for the service's lifetime; readers
    /// such as `unlearn verify` keep working), opens the engine and starts the writer.
    pub fn open(config: ServiceConfig) -> Result<Self, ServiceError> {
        if config
            .metrics_token
            .as_ref()
            .is_some_and(|operator| operator.same_as(&config.token))
        {
            return Err(ServiceError::SharedMetricsToken);
        }
        let mut store = Store::open(&config.store, Access::Write { wait: config.wait })?;
        store.set_checkpoint_every(config.checkpoint_every);
        if let Some(note) = store.reconciliation_note() {
            eprintln!("unlearn serve: note: {note}");
        }
        let mut engine = Deletions::open(store)?;
        if let Some(every) = config.publish_every {
            engine.set_publish_every(every)?;
        }
        engine.set_publish_timer(PublishTimer {
            interval: config.publish_interval,
        });
        let reader = engine.reader();
        let writer = writer::Writer::start(engine).map_err(io("starting the writer thread"))?;
        let state = api::AppState {
            writer: writer.sender(),
            reader,
            metrics: Arc::default(),
            token: Arc::new(config.token),
            metrics_token: config.metrics_token.map(Arc::new),
            body_limit: config.body_limit,
        };
        Ok(Self { state, writer })
    }

    /// Serves on `listener` until `shutdown` completes, then drains (see the crate
    /// documentation) and returns.
    pub fn run(
        self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        let runtime = runtime()?;
        runtime.block_on(self.serve(listener, shutdown))
    }

    /// Serves on `listener` until SIGTERM or SIGINT, then drains and returns; `ready` is
    /// called with the address once the signal handlers are in place (a signal earlier
    /// than that would end the process without draining).
    pub fn run_until_signal(
        self,
        listener: std::net::TcpListener,
        ready: impl FnOnce(SocketAddr),
    ) -> Result<(), ServiceError> {
        let runtime = runtime()?;
        runtime.block_on(async move {
            let shutdown = signals().map_err(io("installing the signal handlers"))?;
            ready(listener.local_addr().map_err(io("reading the address"))?);
            self.serve(listener, shutdown).await
        })
    }

    async fn serve(
        self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        listener
            .set_nonblocking(true)
            .map_err(io("configuring the listener"))?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(io("registering the listener"))?;
        let Self { state, writer } = self;
        let served = axum::serve(listener, api::router(state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(io("serving"));
        // Every handler has answered: serve what is still queued, then let go of the store.
        writer.stop();
        served
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ServiceError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("starting the runtime"))
}

/// A future that completes at the first SIGTERM or SIGINT (installed when called).
fn signals() -> std::io::Result<impl Future<Output = ()>> {
    let notify = Arc::new(tokio::sync::Notify::new());
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for kind in [SignalKind::terminate(), SignalKind::interrupt()] {
            let mut stream = signal(kind)?;
            let notify = notify.clone();
            tokio::spawn(async move {
                stream.recv().await;
                notify.notify_one();
            });
        }
    }
    #[cfg(not(unix))]
    {
        let notify = notify.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            notify.notify_one();
        });
    }
    Ok(async move { notify.notified().await })
}
