//! Typed configuration, loaded in layers: the built-in `config/default.toml` <
//! `--config FILE` < `SITEASSIST_BRIDGE__SECTION__KEY` environment variables < the
//! conventional names (`SITEASSIST_PUBLISHABLE_KEY`, …).
//!
//! The defaults are compiled into the binary, so it runs from any directory. The core's
//! sections are typed here; each chat platform owns its section (its type, its
//! validation, its conventional environment names), reached through
//! [`adapters::PLATFORMS`](crate::adapters::PLATFORMS). Invalid values fail at start
//! with the key and the reason ([`ConfigError`]).

use crate::adapters::PLATFORMS;
use crate::bridge::feedback::FeedbackFrom;
use crate::platform::{Platform, PlatformConfig, SectionError};
use crate::secret::Secret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The built-in defaults: every key, commented.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the structured environment variables.
pub const ENV_PREFIX: &str = "SITEASSIST_BRIDGE";

/// Conventional environment names of the core and the keys they set. They win over
/// everything, because they are what platform docs and secret managers use. Each
/// platform adds its own ([`conventional_env`]).
const CORE_CONVENTIONAL_ENV: &[(&str, &str)] =
    &[("SITEASSIST_PUBLISHABLE_KEY", "siteassist.publishable_key"), ("DATABASE_URL", "store.url")];

/// Keys of the core's sections whose environment value is a comma-separated list.
const CORE_LIST_KEYS: &[&str] = &["bridge.like_emoji", "bridge.dislike_emoji"];

/// The core's sections, in the order `print-config` shows them.
const CORE_SECTIONS: &[&str] =
    &["siteassist", "store", "bridge", "handoff", "console", "simulator", "server", "log"];

/// Every conventional environment name the bridge reads, with the dotted key it sets:
/// the core's and each platform's.
pub fn conventional_env() -> Vec<(&'static str, String)> {
    let core = CORE_CONVENTIONAL_ENV.iter().map(|(name, key)| (*name, key.to_string()));
    let platforms = PLATFORMS.iter().flat_map(|p| {
        p.conventional_env().iter().map(|(name, key)| (*name, format!("{}.{key}", p.name())))
    });
    core.chain(platforms).collect()
}

/// Every dotted key whose environment value is a comma-separated list.
fn list_keys() -> Vec<String> {
    let core = CORE_LIST_KEYS.iter().map(|k| k.to_string());
    let platforms = PLATFORMS
        .iter()
        .flat_map(|p| p.list_keys().iter().map(|key| format!("{}.{key}", p.name())));
    core.chain(platforms).collect()
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The SiteAssist API.
    pub siteassist: SiteAssistSettings,
    /// Durable state.
    pub store: StoreSettings,
    /// The core's behaviour.
    pub bridge: BridgeSettings,
    /// Human handoff.
    pub handoff: HandoffSettings,
    /// The terminal adapter.
    pub console: ConsoleSettings,
    /// The built-in simulator.
    pub simulator: SimulatorSettings,
    /// The health and metrics endpoints.
    pub server: ServerSettings,
    /// Logging.
    pub log: LogSettings,
    /// Every chat platform's section, parsed by the platform, in the order of
    /// [`PLATFORMS`].
    pub platforms: Vec<Configured>,
}

/// One platform and its parsed section.
#[derive(Clone)]
pub struct Configured {
    /// The platform.
    pub platform: &'static dyn Platform,
    /// Its settings.
    pub config: Arc<dyn PlatformConfig>,
}

impl std::fmt::Debug for Configured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple(self.platform.name()).field(&self.config).finish()
    }
}

/// `[siteassist]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteAssistSettings {
    /// Base URL of the v2 API.
    pub api_url: String,
    /// Publishable key; empty means "use the built-in simulator".
    pub publishable_key: Secret,
    /// `Origin` header for domain-restricted keys; empty for none.
    pub origin: String,
    /// Attempts in total for 429/503 answers.
    pub max_attempts: u32,
    /// Cap on one retryAfter wait.
    pub max_retry_wait_secs: u64,
    /// Stall timeout for streams.
    pub idle_timeout_secs: u64,
    /// Timeout for non-streaming requests.
    pub request_timeout_secs: u64,
}

/// Which store backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// sled on disk: survives restarts.
    Sled,
    /// In memory: lost at exit.
    Memory,
    /// PostgreSQL at `store.url`: shared by several replicas.
    Postgres,
}

/// `[store]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// The backend.
    pub backend: StoreBackend,
    /// sled's directory; empty for the per-user default (see [`StoreSettings::resolved_path`]).
    pub path: String,
    /// How often expired claims are removed (and the store's size measured).
    pub sweep_interval_secs: u64,
    /// PostgreSQL connection URL (or `DATABASE_URL`), for `backend = "postgres"`.
    pub url: Secret,
    /// PostgreSQL connections per process.
    pub pool_size: usize,
    /// A PEM file with the CA that signs the database's certificate (verified only then).
    pub ca_file: String,
    /// How long a replica's lease lasts without a heartbeat (shared stores only).
    pub lease_ttl_ms: u64,
}

impl StoreSettings {
    /// The sled directory: the configured one, or a per-user data directory, so that a
    /// binary started from any directory finds the same state.
    pub fn resolved_path(&self) -> PathBuf {
        if !self.path.trim().is_empty() {
            return PathBuf::from(self.path.trim());
        }
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(xdg) = env("XDG_DATA_HOME") {
            return Path::new(&xdg).join("siteassist-bridge/store");
        }
        if let Some(home) = env("HOME") {
            return Path::new(&home).join(".local/share/siteassist-bridge/store");
        }
        PathBuf::from("siteassist-bridge-data")
    }
}

/// `[bridge]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSettings {
    /// Minimum time between edits of one reply.
    pub edit_interval_ms: u64,
    /// Whose reactions count.
    pub feedback_from: FeedbackFrom,
    /// "Like" emoji.
    pub like_emoji: Vec<String>,
    /// "Dislike" emoji.
    pub dislike_emoji: Vec<String>,
    /// Placeholder text.
    pub placeholder: String,
    /// Event de-duplication memory.
    pub dedupe_ttl_secs: u64,
    /// Per-thread queue length.
    pub thread_queue: usize,
    /// Shutdown grace for replies in flight.
    pub shutdown_grace_secs: u64,
    /// Questions per minute per user (0: no limit).
    pub user_questions_per_minute: u32,
    /// Questions per minute per channel (0: no limit).
    pub channel_questions_per_minute: u32,
    /// Earlier messages of a thread the first question there carries (0: none).
    pub context_messages: usize,
}

/// `[handoff]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSettings {
    /// Minutes after the AI's last answer in a thread that the bridge listens for a
    /// person taking it over (0: learn it only from the next question).
    pub watch_minutes: u64,
    /// Hours a human-handled thread keeps its socket with no activity.
    pub idle_hours: u64,
    /// The most conversation sockets open at once.
    pub max_sockets: usize,
}

/// `[console]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// The console user's name; empty for `$USER`.
    pub user: String,
}

/// `[simulator]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorSettings {
    /// Pause between streamed words.
    pub word_delay_ms: u64,
}

/// `[server]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Where `/healthz`, `/readyz` and `/metrics` listen (with a platform adapter).
    pub listen: String,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text in a terminal, JSON otherwise.
    Auto,
    /// Human-readable text.
    Text,
    /// One JSON object per line, for collectors.
    Json,
}

/// `[log]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// The filter.
    pub level: String,
    /// The format.
    pub format: LogFormat,
}

/// Loads the configuration from `vars` as the environment (and `file` as the config
/// file's text) and returns the section of the platform whose settings type is `T`:
/// the platforms' own config tests read their sections this way.
#[cfg(test)]
pub(crate) fn load_platform<T: Clone + 'static>(
    file: Option<&str>,
    vars: &[(&str, &str)],
) -> Result<T, ConfigError> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("c.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).expect("the config file is written");
    }
    let env: HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let settings = Settings::load(file.map(|_| path.as_path()), &env)?;
    Ok(settings.platform::<T>().expect("the platform is listed").clone())
}

/// Takes section `name` out of the layered configuration and parses it as `T`.
fn section<T: DeserializeOwned>(
    root: &mut HashMap<String, config::Value>,
    name: &str,
) -> Result<T, ConfigError> {
    let value = root
        .remove(name)
        .ok_or_else(|| ConfigError::Load(format!("the [{name}] section is missing")))?;
    value.try_deserialize().map_err(|e| ConfigError::Load(format!("[{name}]: {e}")))
}

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or environment value could not be read or parsed.
    #[error("configuration could not be loaded: {0}")]
    Load(String),
    /// A value is out of range or malformed.
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The dotted key, such as `bridge.edit_interval_ms`.
        key: &'static str,
        /// What is wrong and what would be right.
        reason: String,
    },
}

impl Settings {
    /// Loads the layers. `env` is the process environment (a map, so tests can pass
    /// their own without touching the real one).
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let list_var =
            |key: &str| format!("{ENV_PREFIX}__{}", key.to_uppercase().replace('.', "__"));
        // List settings are split here rather than by the config crate: its list parsing
        // only runs with `try_parsing`, which first turns a lone numeric value (one
        // Discord channel id) into an integer that then fails to be a list.
        let list_keys = list_keys();
        let list_vars: Vec<String> = list_keys.iter().map(|k| list_var(k)).collect();
        let structured: HashMap<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")) && !list_vars.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(structured.into_iter().collect())),
        );
        for (key, var) in list_keys.iter().zip(&list_vars) {
            if let Some(value) = env.get(var) {
                let items: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                builder = builder
                    .set_override(key.as_str(), items)
                    .map_err(|e| ConfigError::Load(e.to_string()))?;
            }
        }
        for (name, key) in conventional_env() {
            if let Some(value) = env.get(name).filter(|v| !v.trim().is_empty()) {
                builder = builder
                    .set_override(key.as_str(), value.clone())
                    .map_err(|e| ConfigError::Load(e.to_string()))?;
            }
        }
        let mut root: HashMap<String, config::Value> = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let mut platforms = Vec::new();
        for platform in PLATFORMS {
            let section = root.remove(platform.name()).ok_or_else(|| {
                ConfigError::Load(format!("the [{}] section is missing", platform.name()))
            })?;
            let config = platform.configure(section).map_err(|e| match e {
                SectionError::Shape(m) => ConfigError::Load(m),
                SectionError::Invalid { key, reason } => ConfigError::Invalid { key, reason },
            })?;
            platforms.push(Configured { platform: *platform, config });
        }
        let settings = Settings {
            siteassist: section(&mut root, "siteassist")?,
            store: section(&mut root, "store")?,
            bridge: section(&mut root, "bridge")?,
            handoff: section(&mut root, "handoff")?,
            console: section(&mut root, "console")?,
            simulator: section(&mut root, "simulator")?,
            server: section(&mut root, "server")?,
            log: section(&mut root, "log")?,
            platforms,
        };
        if let Some(unknown) = root.keys().min() {
            return Err(ConfigError::Load(format!(
                "unknown section [{unknown}] (sections: {}, {})",
                CORE_SECTIONS.join(", "),
                PLATFORMS.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
            )));
        }
        settings.validate()?;
        Ok(settings)
    }

    /// The typed settings of the platform whose section type is `T`, if it is listed.
    pub fn platform<T: 'static>(&self) -> Option<&T> {
        self.platforms.iter().find_map(|p| p.config.as_any().downcast_ref::<T>())
    }

    /// The platforms that are enabled.
    pub fn enabled_platforms(&self) -> impl Iterator<Item = &Configured> {
        self.platforms.iter().filter(|p| p.config.enabled())
    }

    /// Checks ranges and formats that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| Err(ConfigError::Invalid { key, reason: reason.into() });
        match url::Url::parse(&self.siteassist.api_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return invalid(
                    "siteassist.api_url",
                    "must be an http(s) URL such as https://api.siteassist.io/v2",
                )
            }
        }
        if !self.siteassist.origin.is_empty() && url::Url::parse(&self.siteassist.origin).is_err() {
            return invalid(
                "siteassist.origin",
                "must be empty or an origin such as https://example.com",
            );
        }
        if !(1..=10).contains(&self.siteassist.max_attempts) {
            return invalid("siteassist.max_attempts", "must be between 1 and 10");
        }
        if self.siteassist.idle_timeout_secs == 0 || self.siteassist.request_timeout_secs == 0 {
            return invalid("siteassist.idle_timeout_secs", "timeouts must be at least 1 second");
        }
        if !(100..=60_000).contains(&self.bridge.edit_interval_ms) {
            return invalid("bridge.edit_interval_ms", "must be between 100 and 60000");
        }
        if self.bridge.placeholder.trim().is_empty() {
            return invalid("bridge.placeholder", "must not be empty");
        }
        if self.bridge.context_messages > 100 {
            // Discord lists at most 100 messages a call; 4,000 characters hold fewer anyway.
            return invalid("bridge.context_messages", "must be between 0 and 100");
        }
        if self.bridge.thread_queue == 0 || self.bridge.thread_queue > 1000 {
            return invalid("bridge.thread_queue", "must be between 1 and 1000");
        }
        if self.bridge.dedupe_ttl_secs < 60 {
            return invalid(
                "bridge.dedupe_ttl_secs",
                "must be at least 60 (platforms redeliver for minutes)",
            );
        }
        if self.handoff.watch_minutes > 24 * 60 {
            return invalid("handoff.watch_minutes", "must be between 0 and 1440");
        }
        if !(1..=24 * 365).contains(&self.handoff.idle_hours) {
            return invalid("handoff.idle_hours", "must be between 1 and 8760");
        }
        if !(1..=100_000).contains(&self.handoff.max_sockets) {
            return invalid("handoff.max_sockets", "must be between 1 and 100000");
        }
        if self.store.backend == StoreBackend::Postgres && self.store.url.is_empty() {
            return invalid(
                "store.url",
                "must be set for backend = \"postgres\" (or set DATABASE_URL), e.g. postgres://bridge@db:5432/bridge",
            );
        }
        if !(1..=256).contains(&self.store.pool_size) {
            return invalid("store.pool_size", "must be between 1 and 256");
        }
        if !(1_000..=300_000).contains(&self.store.lease_ttl_ms) {
            return invalid("store.lease_ttl_ms", "must be between 1000 and 300000");
        }
        if !(10..=86_400).contains(&self.store.sweep_interval_secs) {
            return invalid("store.sweep_interval_secs", "must be between 10 and 86400");
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("server.listen", "must be an address such as 0.0.0.0:8080");
        }
        if self.log.level.trim().is_empty() {
            return invalid("log.level", "must not be empty");
        }
        Ok(())
    }

    /// The configuration as TOML with secrets masked, for `print-config`: the core's
    /// sections and each platform's, in the order of `config/default.toml`.
    pub fn to_masked_toml(&self) -> String {
        fn body(section: &impl Serialize) -> String {
            toml::to_string_pretty(section).unwrap_or_else(|e| format!("# could not print: {e}\n"))
        }
        let mut sections = vec![
            ("siteassist", body(&self.siteassist)),
            ("store", body(&self.store)),
            ("bridge", body(&self.bridge)),
            ("console", body(&self.console)),
        ];
        sections.extend(self.platforms.iter().map(|p| (p.platform.name(), p.config.masked_toml())));
        sections.extend([
            ("simulator", body(&self.simulator)),
            ("server", body(&self.server)),
            ("log", body(&self.log)),
        ]);
        let sections: Vec<String> =
            sections.into_iter().map(|(name, body)| format!("[{name}]\n{body}")).collect();
        sections.join("\n")
    }

    /// `bridge.edit_interval_ms` as a duration.
    pub fn edit_interval(&self) -> Duration {
        Duration::from_millis(self.bridge.edit_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_load_and_validate() {
        let s = Settings::load(None, &env(&[])).unwrap();
        assert_eq!(s.siteassist.api_url, "https://api.siteassist.io/v2");
        assert!(s.siteassist.publishable_key.is_empty());
        assert_eq!(s.store.backend, StoreBackend::Sled);
        assert_eq!(s.bridge.edit_interval_ms, 1000);
        assert_eq!(s.bridge.feedback_from, FeedbackFrom::Asker);
        assert!(s.bridge.like_emoji.contains(&"+1".to_string()));
    }

    #[test]
    fn env_overrides_file_and_lists_split_on_commas() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[bridge]\nedit_interval_ms = 2000\n[store]\npath = \"/from/file\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&file),
            &env(&[
                ("SITEASSIST_BRIDGE__STORE__PATH", "/from/env"),
                ("SITEASSIST_BRIDGE__BRIDGE__LIKE_EMOJI", "heart,+1"),
                ("SITEASSIST_BRIDGE__BRIDGE__FEEDBACK_FROM", "anyone"),
                ("SITEASSIST_PUBLISHABLE_KEY", "pk_live_secret"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.bridge.edit_interval_ms, 2000, "file beats default");
        assert_eq!(s.store.path, "/from/env", "env beats file");
        assert_eq!(s.bridge.like_emoji, vec!["heart", "+1"]);
        assert_eq!(s.bridge.feedback_from, FeedbackFrom::Anyone);
        assert_eq!(s.siteassist.publishable_key.expose(), "pk_live_secret");
    }

    #[test]
    fn numeric_looking_strings_stay_strings() {
        let s = Settings::load(
            None,
            &env(&[
                ("SITEASSIST_BRIDGE__BRIDGE__PLACEHOLDER", "12345"),
                ("SITEASSIST_BRIDGE__SITEASSIST__PUBLISHABLE_KEY", "987654321"),
            ]),
        )
        .unwrap();
        assert_eq!(s.bridge.placeholder, "12345");
        assert_eq!(s.siteassist.publishable_key.expose(), "987654321");
    }

    #[test]
    fn invalid_values_name_the_key() {
        let err =
            Settings::load(None, &env(&[("SITEASSIST_BRIDGE__BRIDGE__EDIT_INTERVAL_MS", "5")]))
                .unwrap_err();
        assert!(err.to_string().contains("bridge.edit_interval_ms"), "{err}");
        let err =
            Settings::load(None, &env(&[("SITEASSIST_BRIDGE__SITEASSIST__API_URL", "ftp://x")]))
                .unwrap_err();
        assert!(err.to_string().contains("siteassist.api_url"), "{err}");
        let err = Settings::load(None, &env(&[("SITEASSIST_BRIDGE__STORE__BACKEND", "mongo")]))
            .unwrap_err();
        assert!(err.to_string().contains("mongo"), "{err}");
    }

    #[test]
    fn every_platform_has_a_section_and_the_lists_are_read_from_env() {
        let s = Settings::load(None, &env(&[])).unwrap();
        let names: Vec<&str> = s.platforms.iter().map(|p| p.platform.name()).collect();
        let listed: Vec<&str> = PLATFORMS.iter().map(|p| p.name()).collect();
        assert_eq!(names, listed, "one parsed section per listed platform, in order");
        assert!(s.enabled_platforms().next().is_none(), "none is enabled by default");
        // Every list key of every platform splits on commas (and a lone number stays a
        // list); every conventional name reaches its key.
        for key in list_keys() {
            let var = format!("{ENV_PREFIX}__{}", key.to_uppercase().replace('.', "__"));
            assert!(
                Settings::load(None, &env(&[(var.as_str(), "123456789012345678")])).is_ok(),
                "{key}"
            );
        }
        let printed =
            |vars: &[(&str, &str)]| Settings::load(None, &env(vars)).unwrap().to_masked_toml();
        for (name, key) in conventional_env() {
            let (section, field) = key.split_once('.').unwrap();
            let out = printed(&[(name, "12345")]);
            let table: toml::Table = out.parse().unwrap();
            let shown = table[section][field].as_str().unwrap();
            assert!(shown == "12345" || shown == "***", "{name} sets {key}: {shown}");
        }
    }

    #[test]
    fn an_unknown_section_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[telegram]\nenabled = true\n").unwrap();
        let err = Settings::load(Some(&file), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("[telegram]"), "{err}");
    }

    #[test]
    fn unknown_keys_in_a_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[bridge]\nedit_intervall_ms = 2000\n").unwrap();
        let err = Settings::load(Some(&file), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("edit_intervall_ms"), "{err}");
    }

    #[test]
    fn print_config_masks_secrets() {
        let s = Settings::load(None, &env(&[("SITEASSIST_PUBLISHABLE_KEY", "pk_live_topsecret")]))
            .unwrap();
        let out = s.to_masked_toml();
        assert!(!out.contains("topsecret"), "{out}");
        assert!(out.contains("publishable_key = \"***\""), "{out}");
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
