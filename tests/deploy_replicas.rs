//! The kit for several replicas on one PostgreSQL database, checked against the code it
//! deploys: the compose file with three replicas (parsed, no docker needed) and the Helm
//! chart (rendered and linted by `helm`, which `.ci/run` installs).
//!
//! What drifts silently here: a replica left on sled (each would be its own bot), a
//! config key renamed in the code but not in the chart, a stop grace shorter than the
//! bridge's, a missing disruption budget.

mod deploy_kit;

use deploy_kit::{
    assert_known_key, default_port, placeholder_env, read, root, seconds, shutdown_grace_secs,
    structured_names, yaml_docs,
};
use serde_norway::Value;
use siteassist_bridge::config::{Settings, StoreBackend};
use std::collections::HashMap;

const COMPOSE: &str = "deploy/compose-replicas.yaml";
const CHART: &str = "deploy/helm/siteassist-bridge";

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The settings a replica would run with, given its environment (secrets stood in).
fn settings_with(env: impl IntoIterator<Item = (String, String)>) -> Settings {
    let mut all = placeholder_env();
    all.extend(env);
    Settings::load(None, &all).unwrap_or_else(|e| panic!("the kit's settings are refused: {e}"))
}

#[test]
fn compose_runs_three_replicas_on_one_postgres_database() {
    let compose = yaml_docs(COMPOSE).remove(0);
    let services = compose["services"].as_mapping().expect("services");
    let bridges: Vec<(String, &Value)> = services
        .iter()
        .map(|(name, service)| (scalar(name), service))
        .filter(|(_, s)| s["healthcheck"]["test"][1].as_str() == Some("siteassist-bridge"))
        .collect();
    assert_eq!(bridges.len(), 3, "three bridge replicas");
    let db = &compose["services"]["db"];
    assert!(db["image"].as_str().unwrap_or("").starts_with("postgres:"), "a PostgreSQL service");
    assert!(db["healthcheck"]["test"].as_sequence().is_some(), "the bridges wait for it");

    let server = default_port("server", "listen");
    let mut host_ports = Vec::new();
    for (name, bridge) in &bridges {
        assert!(bridge["container_name"].is_null(), "{name}: a fixed name allows one container");
        assert_eq!(bridge["env_file"].as_str(), Some(".env"), "{name}");
        assert_eq!(
            bridge["depends_on"]["db"]["condition"].as_str(),
            Some("service_healthy"),
            "{name} starts once the database answers"
        );
        let stop = seconds(bridge["stop_grace_period"].as_str().expect("stop_grace_period"));
        assert!(stop > shutdown_grace_secs(), "{name}: stop grace {stop}s too short");
        for port in bridge["ports"].as_sequence().expect("ports") {
            let port = scalar(port);
            assert!(port.ends_with(&format!(":{server}")), "{name} publishes {server}: {port}");
            host_ports.push(port);
        }
        let env: HashMap<String, String> = bridge["environment"]
            .as_mapping()
            .expect("environment map")
            .iter()
            .map(|(k, v)| (scalar(k), scalar(v)))
            .collect();
        for name in env.keys().filter(|n| n.starts_with("SITEASSIST_BRIDGE__")) {
            assert_known_key(COMPOSE, name);
        }
        let url = env.get("DATABASE_URL").expect("DATABASE_URL");
        let host = url.split('@').nth(1).and_then(|h| h.split(':').next()).unwrap_or("");
        assert!(services.contains_key(host), "{name}: DATABASE_URL names service {host:?}");
        let settings = settings_with(env);
        assert_eq!(settings.store.backend, StoreBackend::Postgres, "{name} must share the db");
    }
    host_ports.sort();
    host_ports.dedup();
    assert_eq!(host_ports.len(), 3, "each replica its own health port on the host");
    for name in structured_names(&read(COMPOSE)) {
        assert_known_key(COMPOSE, &name);
    }
}

#[test]
fn chart_values_name_only_keys_the_bridge_has() {
    let values = yaml_docs(&format!("{CHART}/values.yaml")).remove(0);
    let config = values["config"].as_mapping().expect("values.config");
    let mut checked = 0;
    for (section, keys) in config {
        for (key, _) in keys.as_mapping().expect("config.<section> is a map") {
            let name =
                format!("SITEASSIST_BRIDGE__{}__{}", scalar(section), scalar(key)).to_uppercase();
            assert_known_key("values.yaml", &name);
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} settings found");
    let grace = values["terminationGracePeriodSeconds"].as_i64().expect("grace");
    assert!(grace > shutdown_grace_secs(), "terminationGracePeriodSeconds {grace} too short");
}

/// `helm` as `.ci/run` installs it; tests that need it are ignored without it (build.rs).
fn helm(args: &[&str]) -> Result<String, String> {
    let bin = std::env::var("SITEASSIST_TEST_HELM").unwrap_or_else(|_| "helm".into());
    let out = std::process::Command::new(&bin)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{err}"))
    }
}

/// The chart rendered with `sets`, as its documents.
fn render(sets: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", "t", CHART];
    for set in sets {
        args.extend(["--set", set]);
    }
    let text = helm(&args).unwrap_or_else(|e| panic!("helm template {sets:?}: {e}"));
    deploy_kit::yaml_text_docs("helm template", &text)
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect()
}

#[test]
#[cfg_attr(not(test_helm), ignore = "needs helm: set SITEASSIST_TEST_HELM (.ci/run does)")]
fn chart_lints_clean_and_renders_replicas_on_postgres() {
    helm(&["lint", "--strict", CHART]).unwrap_or_else(|e| panic!("helm lint: {e}"));
    let all_on = [
        "serviceMonitor.enabled=true",
        "service.slackEvents=true",
        "databaseCa.enabled=true",
        "databaseCa.name=db-ca",
    ];
    let mut lint = vec!["lint", "--strict", CHART];
    for set in &all_on {
        lint.extend(["--set", set]);
    }
    helm(&lint).unwrap_or_else(|e| panic!("helm lint with every option: {e}"));

    let docs = render(&["replicaCount=3", "config.slack.auto_respond_channels={C1,C2}"]);
    let deployment = of_kind(&docs, "Deployment");
    assert_eq!(deployment.len(), 1);
    let spec = &deployment[0]["spec"];
    assert_eq!(spec["replicas"].as_u64(), Some(3));
    let pod = &spec["template"]["spec"];
    let grace = pod["terminationGracePeriodSeconds"].as_i64().expect("grace");
    assert!(grace > shutdown_grace_secs(), "grace {grace}s");
    let container = &pod["containers"][0];
    let env: HashMap<String, String> = container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| (scalar(&e["name"]), scalar(&e["value"])))
        .collect();
    for name in env.keys() {
        assert_known_key("helm template", name);
    }
    let secret = scalar(&container["envFrom"][0]["secretRef"]["name"]);
    assert_eq!(secret, "siteassist-bridge", "the Secret that holds DATABASE_URL");
    let settings = settings_with(
        env.into_iter()
            .chain([("DATABASE_URL".to_string(), "postgres://bridge@db:5432/bridge".to_string())]),
    );
    assert_eq!(settings.store.backend, StoreBackend::Postgres);
    let server = default_port("server", "listen");
    let http = container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("http"))
        .expect("an http port");
    assert_eq!(http["containerPort"].as_u64(), Some(u64::from(server)));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    assert_eq!(of_kind(&docs, "PodDisruptionBudget").len(), 1, "a drain takes one at a time");
    assert!(of_kind(&docs, "ServiceMonitor").is_empty(), "optional, off by default");
    assert!(of_kind(&docs, "Secret").is_empty(), "the tokens stay out of Helm by default");

    let docs = render(&all_on);
    assert_eq!(of_kind(&docs, "ServiceMonitor").len(), 1);
    let one = render(&["replicaCount=1"]);
    assert!(of_kind(&one, "PodDisruptionBudget").is_empty(), "a budget of 0 would block drains");
    let made = render(&["secret.create=true", "secret.data.DATABASE_URL=postgres://db/bridge"]);
    assert_eq!(of_kind(&made, "Secret").len(), 1);

    for (sets, says) in [
        (["config.store.backend=sled"], "must be postgres"),
        (["secret.create=true"], "DATABASE_URL is required"),
    ] {
        let mut args = vec!["template", "t", CHART];
        for set in &sets {
            args.extend(["--set", set]);
        }
        let refused = helm(&args).expect_err("the chart must refuse it");
        assert!(refused.contains(says), "{sets:?} refused with: {refused}");
    }
}
