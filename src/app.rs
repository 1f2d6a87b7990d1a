//! Wiring: builds the store, the SiteAssist client (or the embedded simulator) and the
//! adapters from [`Settings`], and runs them until shutdown. No decisions live here.

use crate::adapters::console::{self, ConsoleAdapter, ConsoleSession, OutputMode};
use crate::bridge::feedback::FeedbackEmoji;
use crate::bridge::replica::Replica;
use crate::bridge::{Bridge, BridgeConfig, BridgeError, HandoffConfig};
use crate::config::{BridgeSettings, HandoffSettings, Settings, StoreBackend, StoreSettings};
use crate::ops::health::Readiness;
use crate::ops::server::OpsState;
use crate::platform::{PlatformError, RunContext};
use crate::secret::Secret;
use crate::simulator::{RunningSimulator, SimulatorConfig};
use crate::siteassist::client::{Client, ClientConfig};
use crate::store::{MemoryStore, PostgresStore, SledStore, Store, StoreError};
use std::future::Future;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

/// Why the bridge could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store could not be opened.
    #[error("could not open the store: {0}")]
    Store(#[from] StoreError),
    /// The SiteAssist client could not be built.
    #[error("could not set up the SiteAssist client: {0}")]
    SiteAssist(#[from] crate::siteassist::error::Error),
    /// The embedded simulator could not start.
    #[error("could not start the built-in simulator: {0}")]
    Simulator(std::io::Error),
    /// The core failed.
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    /// A chat platform stopped with an error (a refused token, say).
    #[error("{name}: {source}")]
    Platform {
        /// Which (`slack`).
        name: &'static str,
        /// What its adapter said.
        #[source]
        source: PlatformError,
    },
    /// The health and metrics server stopped.
    #[error("the operations server stopped: {0}")]
    Ops(std::io::Error),
    /// A task of the bridge panicked.
    #[error("a bridge task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A configuration value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Opens the configured store.
pub async fn open_store(settings: &StoreSettings) -> Result<Arc<dyn Store>, AppError> {
    Ok(match settings.backend {
        StoreBackend::Memory => Arc::new(MemoryStore::new()),
        StoreBackend::Sled => Arc::new(SledStore::open(settings.resolved_path())?),
        StoreBackend::Postgres => {
            let ca = Some(settings.ca_file.trim()).filter(|c| !c.is_empty());
            let url = settings.url.expose();
            Arc::new(PostgresStore::connect(url, settings.pool_size, None, ca).await?)
        }
    })
}

/// The core's settings from `[bridge]`.
pub fn bridge_config(s: &BridgeSettings, h: &HandoffSettings) -> BridgeConfig {
    BridgeConfig {
        edit_interval: Duration::from_millis(s.edit_interval_ms),
        feedback_from: s.feedback_from,
        emoji: FeedbackEmoji::new(
            s.like_emoji.iter().map(String::as_str),
            s.dislike_emoji.iter().map(String::as_str),
        ),
        placeholder: s.placeholder.clone(),
        dedupe_ttl: Duration::from_secs(s.dedupe_ttl_secs),
        thread_queue: s.thread_queue,
        user_questions_per_minute: s.user_questions_per_minute,
        channel_questions_per_minute: s.channel_questions_per_minute,
        context_messages: s.context_messages,
        handoff: HandoffConfig {
            watch: Duration::from_secs(h.watch_minutes * 60),
            idle: Duration::from_secs(h.idle_hours * 3600),
            max_sockets: h.max_sockets,
            ..HandoffConfig::default()
        },
        ..BridgeConfig::default()
    }
}

/// The SiteAssist API the bridge talks to: the configured one, or — with no
/// publishable key — a simulator started in-process on a loopback port.
pub struct SiteAssistTarget {
    /// The client.
    pub client: Client,
    /// The embedded simulator, when one runs (dropping it stops it).
    pub simulator: Option<RunningSimulator>,
}

/// Builds the client for `settings`, starting the embedded simulator when no key is set.
pub async fn siteassist_target(settings: &Settings) -> Result<SiteAssistTarget, AppError> {
    let s = &settings.siteassist;
    let (api_url, key, simulator) = if s.publishable_key.is_empty() {
        let sim = crate::simulator::spawn_local(SimulatorConfig {
            word_delay: Duration::from_millis(settings.simulator.word_delay_ms),
            ..SimulatorConfig::default()
        })
        .await
        .map_err(AppError::Simulator)?;
        (sim.base_url.clone(), Secret::new("pk_local_simulator"), Some(sim))
    } else {
        (s.api_url.clone(), s.publishable_key.clone(), None)
    };
    let api_url = url::Url::parse(&api_url)
        .map_err(|e| AppError::Config(format!("siteassist.api_url: {e}")))?;
    let client = Client::new(ClientConfig {
        api_url,
        publishable_key: key,
        origin: Some(s.origin.clone()).filter(|o| !o.is_empty()),
        max_attempts: s.max_attempts,
        max_retry_wait: Duration::from_secs(s.max_retry_wait_secs),
        idle_timeout: Duration::from_secs(s.idle_timeout_secs),
        request_timeout: Duration::from_secs(s.request_timeout_secs),
    })?;
    Ok(SiteAssistTarget { client, simulator })
}

/// Runs the bridge until `shutdown` resolves (or, for the console, input ends): every
/// enabled platform adapter, or the console when none is enabled.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
    let store = open_store(&settings.store).await?;
    let target = siteassist_target(&settings).await?;
    let platforms = settings.enabled_platforms().next().is_some();
    if let Some(sim) = &target.simulator {
        let what =
            if platforms { "the bridge" } else { "the console (no chat platform is enabled)" };
        eprintln!(
            "siteassist-bridge: no SiteAssist key is set, so {what} talks to the built-in simulator \
             at {} (set SITEASSIST_PUBLISHABLE_KEY to use your assistant)",
            sim.base_url
        );
    }
    if !platforms {
        return run_console(&settings, store, target.client, shutdown).await;
    }
    run_platforms(&settings, store, target.client, shutdown).await
}

/// This process among the replicas sharing the store, its lease kept alive by a
/// heartbeat until [`Membership::leave`]. The heartbeat follows the membership, not the
/// shutdown signal: adapters may stream for the whole grace period after the signal,
/// and the lease must outlive their replies, or the others would take them over.
struct Membership {
    replica: Arc<Replica>,
    left: tokio::sync::oneshot::Sender<()>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Membership {
    async fn join(store: &Arc<dyn Store>, settings: &Settings) -> Result<Self, AppError> {
        let ttl = Duration::from_millis(settings.store.lease_ttl_ms);
        let replica = Replica::join(store.clone(), ttl).await?;
        let (left, on_left) = tokio::sync::oneshot::channel::<()>();
        let heartbeat = tokio::spawn(replica.clone().heartbeat(async {
            let _ = on_left.await;
        }));
        Ok(Self { replica, left, heartbeat })
    }

    /// Stops the heartbeat and releases every lease at once (replies are done by now).
    async fn leave(self) {
        let _ = self.left.send(());
        let _ = self.heartbeat.await;
        self.replica.leave().await;
    }
}

/// How often SiteAssist is pinged (`GET /projects/current`) so `/readyz` can tell it is
/// reachable even when nobody asks anything.
const SITEASSIST_PROBE_EVERY: Duration = Duration::from_secs(20);

async fn run_platforms(
    settings: &Settings,
    store: Arc<dyn Store>,
    client: Client,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    // One shutdown signal, seen by every task.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let grace = Duration::from_secs(settings.bridge.shutdown_grace_secs);
    let readiness = Readiness::default();
    let mut tasks = tokio::task::JoinSet::new();

    let listener = tokio::net::TcpListener::bind(&settings.server.listen)
        .await
        .map_err(|e| AppError::Config(format!("server.listen {}: {e}", settings.server.listen)))?;
    let metrics = crate::ops::metrics::install();
    let names: Vec<&'static str> =
        settings.enabled_platforms().map(|p| p.platform.name()).collect();
    let reasons = crate::bridge::Ignored::ALL.map(crate::bridge::Ignored::as_str);
    crate::ops::metrics::register(&names, &reasons);
    let ops = OpsState { readiness: readiness.clone(), client: client.clone(), metrics };
    // After the metrics recorder, so the lease gauge counts this replica's own lease.
    let membership = Membership::join(&store, settings).await?;
    let store_probe = crate::ops::store_probe::StoreProbe::default();
    store_probe.register(&readiness);
    let (probed, stop) = (store.clone(), stopped());
    tasks.spawn(async move {
        let every = crate::ops::store_probe::PROBE_EVERY;
        crate::ops::store_probe::run(probed, store_probe, every, stop).await;
        Ok(())
    });
    let stop = stopped();
    tasks.spawn(async move {
        crate::ops::server::serve(listener, ops, stop).await.map_err(AppError::Ops)
    });
    let (sweeping, stop) = (store.clone(), stopped());
    let every = Duration::from_secs(settings.store.sweep_interval_secs);
    tasks.spawn(async move {
        crate::store::sweeper::run(sweeping.as_ref(), every, std::time::SystemTime::now, stop)
            .await;
        Ok(())
    });
    let (probe, stop) = (client.clone(), stopped());
    tasks.spawn(async move {
        let ping = async {
            loop {
                if let Err(e) = probe.current_project().await {
                    tracing::warn!(error = %e, "SiteAssist is not reachable");
                }
                tokio::time::sleep(SITEASSIST_PROBE_EVERY).await;
            }
        };
        tokio::select! {
            () = ping => {},
            () = stop => {},
        }
        Ok(())
    });

    for enabled in settings.enabled_platforms() {
        let name = enabled.platform.name();
        readiness.expect_adapter(name);
        let config = enabled.config.clone();
        let ctx = RunContext {
            store: store.clone(),
            client: client.clone(),
            bridge: BridgeConfig {
                replica: membership.replica.clone(),
                ..bridge_config(&settings.bridge, &settings.handoff)
            },
            grace,
            readiness: readiness.clone(),
            shutdown: Box::pin(stopped()),
        };
        tasks.spawn(async move {
            config.run(ctx).await.map_err(|source| AppError::Platform { name, source })
        });
    }
    tokio::pin!(shutdown);
    // An adapter that stops by itself (bad token, lost for good) stops the bridge, so a
    // supervisor restarts it and the failure is visible.
    let result = tokio::select! {
        () = &mut shutdown => Ok(()),
        Some(done) = tasks.join_next() => done.unwrap_or_else(|e| Err(AppError::Task(e))),
    };
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "task stopped with an error");
        }
    }
    // Every adapter has finished or closed its replies: hand the leases over now
    // rather than let the others wait for them to expire.
    membership.leave().await;
    result
}

async fn run_console(
    settings: &Settings,
    store: Arc<dyn Store>,
    client: Client,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AppError> {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mode = if interactive { OutputMode::Live } else { OutputMode::Final };
    let adapter = Arc::new(ConsoleAdapter::new(mode, Box::new(std::io::stdout())));
    // On a shared store the console is a replica too: its recovery must not close the
    // live replies of bridges running beside it.
    let membership = Membership::join(&store, settings).await?;
    let cfg = BridgeConfig {
        replica: membership.replica.clone(),
        ..bridge_config(&settings.bridge, &settings.handoff)
    };
    let bridge = Bridge::new(adapter.clone(), store, client, cfg);
    bridge.recover_unfinished().await?;
    let user = Some(settings.console.user.clone())
        .filter(|u| !u.trim().is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "console-user".into());
    let thread = std::env::var("SITEASSIST_BRIDGE_CONSOLE_THREAD").ok();
    let session = ConsoleSession::new(bridge.clone(), adapter, &user, thread.as_deref());
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    console::run(session, input, shutdown, interactive).await?;
    bridge.shutdown(Duration::from_secs(settings.bridge.shutdown_grace_secs)).await;
    membership.leave().await;
    Ok(())
}
