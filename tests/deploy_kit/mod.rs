//! Reading the deploy kit (`deploy/`) and the config defaults it must agree with; shared
//! by the one-replica checks (`deploy_files.rs`) and the replica ones
//! (`deploy_replicas.rs`).

#![allow(dead_code)] // each test binary uses its own part

use serde_norway::Value;
use siteassist_bridge::config::{conventional_env, ENV_PREFIX};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The placeholder the docs use for "any key"; not a variable anyone sets.
const DOC_PLACEHOLDER: &str = "SITEASSIST_BRIDGE__SECTION__KEY";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Every document of a (possibly multi-document) YAML text, with `<<` merge keys applied
/// as Compose applies them.
pub fn yaml_text_docs(what: &str, text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|doc| {
            let mut value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{what} is not YAML: {e}"));
            value.apply_merge().unwrap_or_else(|e| panic!("{what}: merge keys: {e}"));
            value
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// Every document of a YAML file of the repository.
pub fn yaml_docs(rel: &str) -> Vec<Value> {
    yaml_text_docs(rel, &read(rel))
}

pub fn defaults() -> toml::Table {
    read("config/default.toml").parse().expect("config/default.toml parses")
}

/// The port of an address key of config/default.toml, such as `server.listen`.
pub fn default_port(section: &str, key: &str) -> u16 {
    let table = defaults();
    let value =
        table.get(section).and_then(|s| s.get(key)).and_then(|v| v.as_str()).unwrap_or_else(|| {
            panic!("config/default.toml has no {section}.{key}: the kit uses it")
        });
    value.parse::<SocketAddr>().unwrap_or_else(|e| panic!("{section}.{key}: {e}")).port()
}

/// `bridge.shutdown_grace_secs`: every orchestrator must wait longer than this on stop.
pub fn shutdown_grace_secs() -> i64 {
    defaults()["bridge"]["shutdown_grace_secs"].as_integer().expect("bridge.shutdown_grace_secs")
}

/// Every `SITEASSIST_BRIDGE__…` name in a text, comments included (commented variants are
/// meant to be uncommented, so they must be right too).
pub fn structured_names(text: &str) -> Vec<String> {
    let prefix = format!("{ENV_PREFIX}__");
    let mut names = Vec::new();
    for (at, _) in text.match_indices(&prefix) {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        // `SITEASSIST_BRIDGE__…` in prose is the prefix alone, not a variable.
        if name != DOC_PLACEHOLDER && name.len() > prefix.len() {
            names.push(name);
        }
    }
    names
}

/// `SITEASSIST_BRIDGE__SECTION__KEY` → `("section", "key")`, if it has that shape.
pub fn key_of(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(&format!("{ENV_PREFIX}__"))?;
    let (section, key) = rest.split_once("__")?;
    let ok = !section.is_empty() && !key.is_empty() && !key.contains("__");
    ok.then(|| (section.to_lowercase(), key.to_lowercase()))
}

/// Panics unless `name` is `SITEASSIST_BRIDGE__SECTION__KEY` for a key of default.toml.
pub fn assert_known_key(file: &str, name: &str) {
    let (section, key) =
        key_of(name).unwrap_or_else(|| panic!("{file}: {name} is not PREFIX__S__K"));
    let known = defaults().get(&section).and_then(|s| s.get(&key)).is_some();
    assert!(known, "{file}: {name} names {section}.{key}, not in config/default.toml");
}

/// Valid stand-ins for every secret, so validation gets past "token required".
pub fn placeholder_env() -> HashMap<String, String> {
    conventional_env().iter().map(|(name, _)| (name.to_string(), format!("test-{name}"))).collect()
}

/// `"30s"` → 30.
pub fn seconds(text: &str) -> i64 {
    text.strip_suffix('s')
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text}: like 30s"))
}
