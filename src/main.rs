//! The `siteassist-bridge` binary: parses the command line, loads the configuration,
//! sets up logging and hands over to [`siteassist_bridge::app`].

use anyhow::Context;
use clap::{Parser, Subcommand};
use siteassist_bridge::config::{LogFormat, Settings, DEFAULT_TOML};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Puts the SiteAssist AI support assistant into Slack, Discord and the terminal.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML file with settings (see `print-config --defaults` for every key).
    #[arg(long, global = true, env = "SITEASSIST_BRIDGE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bridge (the default).
    Run,
    /// Run only the SiteAssist simulator, for demos and tests.
    Simulator {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Pause between streamed words, in milliseconds.
        #[arg(long, default_value_t = 35)]
        word_delay_ms: u64,
    },
    /// Check the configuration and say what would run.
    CheckConfig,
    /// Connect with the configured credentials (SiteAssist, Slack, Discord) and report
    /// what works and what to fix; exits non-zero if anything fails.
    Check,
    /// Probe this bridge's own `/healthz` (for container health checks without curl).
    Healthcheck,
    /// Print the Discord OAuth2 invite URL with exactly the permissions the bot uses.
    DiscordInvite {
        /// The application id (developer portal → General Information); by default it is
        /// read from the bot token.
        #[arg(long)]
        application_id: Option<u64>,
    },
    /// Copy a store into another, empty one (e.g. sled into PostgreSQL for several
    /// replicas): thread links, reply links, feedback, handoffs and unfinished replies.
    /// Stop the bridge first (sled is locked while it runs).
    MigrateStore {
        /// The store to read: `sled:PATH`.
        #[arg(long)]
        from: String,
        /// The empty store to fill: `postgres:URL`, or `postgres` for the URL in
        /// DATABASE_URL (or store.url), which keeps the password out of `ps`.
        #[arg(long)]
        to: String,
    },
    /// Print the effective configuration, secrets masked.
    PrintConfig {
        /// Print the built-in defaults, with comments, instead.
        #[arg(long)]
        defaults: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = Settings::load(cli.config.as_deref(), &env)?;
    let command = cli.command.unwrap_or(Command::Run);
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    let result = match command {
        Command::PrintConfig { defaults: true } => {
            print!("{DEFAULT_TOML}");
            Ok(())
        }
        Command::PrintConfig { defaults: false } => {
            print!("{}", settings.to_masked_toml());
            Ok(())
        }
        Command::CheckConfig => {
            let key = if settings.siteassist.publishable_key.is_empty() {
                "no publishable key: the built-in simulator will answer".to_string()
            } else {
                format!("SiteAssist at {}", settings.siteassist.api_url)
            };
            println!(
                "configuration OK: {key}; store {:?} at {}",
                settings.store.backend,
                settings.store.resolved_path().display()
            );
            Ok(())
        }
        Command::Check => {
            let lines = runtime.block_on(siteassist_bridge::check::run_checks(&settings));
            for line in &lines {
                println!("{line}");
            }
            if lines.iter().all(|l| l.ok) {
                Ok(())
            } else {
                Err(anyhow::anyhow!("some checks failed"))
            }
        }
        Command::Healthcheck => runtime.block_on(healthcheck(&settings)),
        Command::MigrateStore { from, to } => {
            runtime.block_on(migrate_store(&settings, &from, &to))
        }
        Command::DiscordInvite { application_id } => discord_invite(&settings, application_id),
        Command::Simulator { listen, word_delay_ms } => {
            init_logging(&settings, false);
            runtime.block_on(simulator(listen, word_delay_ms))
        }
        Command::Run => {
            let quiet = std::io::stdin().is_terminal();
            init_logging(&settings, quiet);
            runtime
                .block_on(siteassist_bridge::app::run(settings, shutdown_signal()))
                .map_err(anyhow::Error::from)
        }
    };
    // stdin is read on a blocking thread that cannot be interrupted; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

async fn simulator(listen: SocketAddr, word_delay_ms: u64) -> anyhow::Result<()> {
    use siteassist_bridge::simulator::{bind, Simulator, SimulatorConfig};
    let listener = bind(listen).with_context(|| format!("could not listen on {listen}"))?;
    let sim = Simulator::new(SimulatorConfig {
        word_delay: Duration::from_millis(word_delay_ms),
        ..SimulatorConfig::default()
    });
    eprintln!("SiteAssist simulator on http://{}/v2", listener.local_addr()?);
    sim.serve(listener, shutdown_signal()).await.context("simulator failed")
}

/// Copies `from` into the empty store `to` and prints what it copied.
async fn migrate_store(settings: &Settings, from: &str, to: &str) -> anyhow::Result<()> {
    use siteassist_bridge::store::migrate::{copy, StoreLocation};
    let (from, to) = (StoreLocation::parse(from)?, StoreLocation::parse(to)?);
    let (source, source_name) = from.open(&settings.store, true).await?;
    let (target, target_name) = to.open(&settings.store, false).await?;
    let copied = copy(source.as_ref(), target.as_ref(), &target_name).await?;
    println!("copied the {source_name} into the {target_name}:");
    for (count, what) in [
        (copied.thread_links, "thread links (threads continue their conversations)"),
        (copied.reply_links, "reply links (reactions on earlier answers give feedback)"),
        (copied.feedback, "feedback records"),
        (copied.handoffs, "handoffs (relays to a person re-open)"),
        (copied.in_flight, "replies in flight (the next start closes them)"),
    ] {
        println!("  {count:>8} {what}");
    }
    println!(
        "  {:>8} event claims, not copied (short-lived duplicate guards, not needed once \
         the bridge that acknowledged those events has stopped)",
        copied.claims_not_copied
    );
    Ok(())
}

/// GETs `/healthz` on the configured server port, on loopback.
async fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let listen: SocketAddr = settings.server.listen.parse().context("server.listen")?;
    let url = format!("http://127.0.0.1:{}/healthz", listen.port());
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
    println!("ok");
    Ok(())
}

#[cfg(feature = "discord")]
fn discord_invite(settings: &Settings, application_id: Option<u64>) -> anyhow::Result<()> {
    use siteassist_bridge::adapters::discord::config::DiscordSettings;
    use siteassist_bridge::adapters::discord::{application_id_from_token, invite_url};
    let token = settings.platform::<DiscordSettings>().map(|d| d.token.expose().to_string());
    let id = application_id
        .or_else(|| token.as_deref().and_then(application_id_from_token))
        .context("pass --application-id, or set DISCORD_TOKEN so it can be read from the token")?;
    println!("{}", invite_url(id));
    Ok(())
}

#[cfg(not(feature = "discord"))]
fn discord_invite(_: &Settings, _: Option<u64>) -> anyhow::Result<()> {
    anyhow::bail!("this build has no `discord` feature")
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Caps the WebSocket handshake's logging (see [`init_logging`]).
const NO_HANDSHAKE_TRACE: &str = "tungstenite::handshake=off";

/// Logs go to stderr (stdout carries the console's replies). In an interactive console
/// the default `info` level would scribble over the live reply, so it becomes `warn`
/// unless RUST_LOG or `log.level` says otherwise.
fn init_logging(settings: &Settings, interactive_console: bool) {
    use tracing_subscriber::EnvFilter;
    let level = if interactive_console && settings.log.level == "info" {
        "warn"
    } else {
        settings.log.level.as_str()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // tungstenite traces the whole WebSocket handshake request, whose URL carries the
    // SiteAssist key (`?apiKey=`, the only way the API takes it): its handshake logs
    // stay off whatever the level (a cap at debug would also switch them on).
    let filter = filter.add_directive(NO_HANDSHAKE_TRACE.parse().expect("a valid directive"));
    let json = match settings.log.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
