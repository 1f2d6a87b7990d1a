//! The deploy kit under `deploy/` checked against the code it deploys, without docker,
//! a cluster or the network: every YAML file is parsed, and the facts that silently drift
//! when the code changes are asserted. A renamed config key, a moved health port, a second
//! replica on one sled store or a dropped hardening option would otherwise only show up on
//! an operator's machine.
//!
//! Each check reads the value it compares against from the source of truth
//! (`config/default.toml`, [`Settings::load`], [`conventional_env`]), never from a copy.

mod deploy_kit;

use deploy_kit::{
    default_port, defaults, key_of, placeholder_env, read, root, shutdown_grace_secs,
    structured_names, yaml_docs,
};
use serde_norway::Value;
use siteassist_bridge::config::{conventional_env, Settings, ENV_PREFIX};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// `deploy/kubernetes/*.yaml`, sorted, as paths relative to the repository root.
fn kubernetes_files() -> Vec<String> {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .map(|n| format!("deploy/kubernetes/{n}"))
        .collect();
    files.sort();
    files
}

/// The one document of `kind` among the Kubernetes manifests.
fn k8s_object(kind: &str) -> Value {
    let found: Vec<Value> = kubernetes_files()
        .iter()
        .flat_map(|f| yaml_docs(f))
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} in deploy/kubernetes/");
    found.into_iter().next().unwrap()
}

/// A variable assignment found in a deploy file; `commented` ones are documented variants.
#[derive(Debug, Clone)]
struct Assignment {
    name: String,
    value: String,
    commented: bool,
}

/// `NAME=VALUE` or `NAME: VALUE` (optionally behind `# `, optionally quoted), if NAME looks
/// like an environment variable.
fn parse_assignment(line: &str) -> Option<Assignment> {
    let trimmed = line.trim();
    let (commented, body) = match trimmed.strip_prefix('#') {
        Some(rest) => (true, rest.trim()),
        None => (false, trimmed),
    };
    let split = body.find(['=', ':'])?;
    let (name, value) = (body[..split].trim(), body[split + 1..].trim());
    let is_env = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let value = value.trim_matches('"').to_string();
    is_env.then(|| Assignment { name: name.to_string(), value, commented })
}

fn env_example() -> Vec<Assignment> {
    read("deploy/.env.example").lines().filter_map(parse_assignment).collect()
}

/// The compose service's `environment` map, plus its commented `NAME: value` variants.
fn compose_env() -> Vec<Assignment> {
    let compose = yaml_docs("deploy/compose.yaml").remove(0);
    let env = compose["services"]["bridge"]["environment"].as_mapping().expect("environment map");
    let mut found: Vec<Assignment> = env
        .iter()
        .map(|(k, v)| Assignment {
            name: k.as_str().unwrap().to_string(),
            value: scalar(v),
            commented: false,
        })
        .collect();
    let text = read("deploy/compose.yaml");
    found.extend(text.lines().filter_map(parse_assignment).filter(|a| a.commented));
    found
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The first container of the StatefulSet.
fn bridge_container() -> Value {
    k8s_object("StatefulSet")["spec"]["template"]["spec"]["containers"][0].clone()
}

fn k8s_env() -> Vec<Assignment> {
    let container = bridge_container();
    let env = container["env"].as_sequence().expect("container env list");
    env.iter()
        .filter(|e| e.get("value").is_some())
        .map(|e| Assignment {
            name: e["name"].as_str().unwrap().to_string(),
            value: scalar(&e["value"]),
            commented: false,
        })
        .collect()
}

/// `[section]` → `(key, value)` pairs of the systemd unit, repeated keys kept in order.
fn systemd_unit() -> BTreeMap<String, Vec<(String, String)>> {
    let mut unit: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = String::new();
    for line in read("deploy/systemd/siteassist-bridge.service").lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("unit line {line:?}"));
        unit.entry(section.clone()).or_default().push((k.trim().into(), v.trim().into()));
    }
    unit
}

fn service_values(key: &str) -> Vec<String> {
    let unit = systemd_unit();
    let service = unit.get("Service").expect("[Service] section");
    service.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
}

fn systemd_env() -> Vec<Assignment> {
    service_values("Environment")
        .iter()
        .filter_map(|v| parse_assignment(v.trim_matches('"')))
        .collect()
}

/// Dockerfile instructions as `(KEYWORD, arguments)`, continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read("deploy/Dockerfile").lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(&format!("{part} ")),
            None => {
                current.push_str(line);
                let text = std::mem::take(&mut current);
                if let Some((kw, args)) = text.trim().split_once(char::is_whitespace) {
                    out.push((kw.to_uppercase(), args.trim().to_string()));
                }
            }
        }
    }
    out
}

fn docker_args(keyword: &str) -> Vec<String> {
    dockerfile().into_iter().filter(|(k, _)| k == keyword).map(|(_, a)| a).collect()
}

fn dockerfile_env() -> Vec<Assignment> {
    docker_args("ENV")
        .iter()
        .flat_map(|args| args.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some(Assignment { name: name.into(), value: value.into(), commented: false })
        })
        .collect()
}

fn load(env: &HashMap<String, String>) -> Result<Settings, String> {
    Settings::load(None, env).map_err(|e| e.to_string())
}

fn value_of<'a>(assignments: &'a [Assignment], name: &str) -> Option<&'a str> {
    assignments.iter().find(|a| a.name == name && !a.commented).map(|a| a.value.as_str())
}

const STORE_PATH: &str = "SITEASSIST_BRIDGE__STORE__PATH";

#[test]
fn every_structured_variable_names_a_key_of_default_toml() {
    let table = defaults();
    let files = [
        "deploy/Dockerfile",
        "deploy/compose.yaml",
        "deploy/.env.example",
        "deploy/systemd/siteassist-bridge.service",
        "deploy/README.md",
    ];
    let files = files.iter().map(|f| f.to_string()).chain(kubernetes_files());
    let mut checked = 0;
    for file in files {
        for name in structured_names(&read(&file)) {
            let (section, key) =
                key_of(&name).unwrap_or_else(|| panic!("{file}: {name} is not PREFIX__S__K"));
            let known = table.get(&section).and_then(|s| s.get(&key)).is_some();
            assert!(known, "{file}: {name} names {section}.{key}, not in config/default.toml");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} variables found: is the scanner broken?");
}

#[test]
fn every_assignment_in_the_kit_is_accepted_by_the_config_loader() {
    // The premise: the loader refuses an unknown key (else this test would prove nothing).
    let mut bogus = placeholder_env();
    bogus.insert(format!("{ENV_PREFIX}__SLACK__NO_SUCH_KEY"), "1".into());
    assert!(load(&bogus).is_err(), "the loader accepts unknown keys");

    let sources = [
        ("deploy/.env.example", env_example()),
        ("deploy/compose.yaml", compose_env()),
        ("deploy/kubernetes statefulset", k8s_env()),
        ("deploy/systemd unit", systemd_env()),
        ("deploy/Dockerfile ENV", dockerfile_env()),
    ];
    for (source, assignments) in sources {
        let structured = assignments.iter().filter(|a| a.name.starts_with(ENV_PREFIX)).count();
        assert!(structured > 0, "{source}: no {ENV_PREFIX}__ variable found");
        // The operator fills in the secrets the templates leave empty; the stand-ins stay.
        let mut env = placeholder_env();
        for a in assignments.iter().filter(|a| !a.commented && !a.value.is_empty()) {
            env.insert(a.name.clone(), a.value.clone());
        }
        load(&env).unwrap_or_else(|e| panic!("{source} as given: {e}"));
        for a in assignments.iter().filter(|a| a.commented) {
            let mut variant = env.clone();
            variant.insert(a.name.clone(), a.value.clone());
            load(&variant).unwrap_or_else(|e| panic!("{source} with {}={}: {e}", a.name, a.value));
        }
    }
}

#[test]
fn the_store_lies_on_the_persistent_volume_everywhere() {
    let under = |path: &str, dir: &str, what: &str| {
        let dir = dir.trim_end_matches('/');
        assert!(path.starts_with(&format!("{dir}/")), "{what}: store {path} is not under {dir}");
    };
    let docker =
        value_of(&dockerfile_env(), STORE_PATH).expect("Dockerfile sets store path").to_string();
    let volume = docker_args("VOLUME").join(" ");
    let volumes: Vec<&str> =
        volume.split(['[', ']', ',', '"', ' ']).filter(|s| !s.is_empty()).collect();
    assert!(volumes.contains(&"/data"), "Dockerfile VOLUME {volume}");
    under(&docker, "/data", "Dockerfile");

    let compose = yaml_docs("deploy/compose.yaml").remove(0);
    let mount = compose["services"]["bridge"]["volumes"][0].as_str().expect("a volume").to_string();
    let (volume, target) = mount.split_once(':').expect("NAME:/PATH");
    assert!(compose["volumes"].get(volume).is_some(), "compose volume {volume} is not declared");
    under(value_of(&compose_env(), STORE_PATH).unwrap_or(&docker), target, "compose");

    let container = bridge_container();
    let mounts = container["volumeMounts"].as_sequence().expect("volumeMounts");
    let data = mounts.iter().find(|m| m["name"] == "data").expect("a mount named data");
    under(
        value_of(&k8s_env(), STORE_PATH).unwrap_or(&docker),
        data["mountPath"].as_str().unwrap(),
        "k8s",
    );
    let claims = k8s_object("StatefulSet")["spec"]["volumeClaimTemplates"].clone();
    assert_eq!(claims[0]["metadata"]["name"], "data", "the data mount comes from a claim");

    let state = service_values("StateDirectory");
    assert_eq!(state, ["siteassist-bridge"]);
    let path = value_of(&systemd_env(), STORE_PATH).expect("unit sets the store path").to_string();
    under(&path, &format!("/var/lib/{}", state[0]), "systemd");
}

/// A Kubernetes port reference (a number or a container port name) as a number.
fn resolve_port(container: &Value, port: &Value) -> u64 {
    if let Some(n) = port.as_u64() {
        return n;
    }
    let name = port.as_str().expect("port is a number or a name");
    let ports = container["ports"].as_sequence().expect("container ports");
    let found = ports.iter().find(|p| p["name"] == name);
    found.and_then(|p| p["containerPort"].as_u64()).unwrap_or_else(|| panic!("no port {name}"))
}

#[test]
fn the_statefulset_runs_one_unprivileged_replica_probed_on_the_server_port() {
    let server = u64::from(default_port("server", "listen"));
    let set = k8s_object("StatefulSet");
    assert_eq!(set["spec"]["replicas"].as_u64(), Some(1), "sled allows one process per store");
    let pod = &set["spec"]["template"]["spec"];
    let container = bridge_container();
    assert_eq!(resolve_port(&container, &"http".into()), server, "port http is server.listen's");
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(resolve_port(&container, &get["port"]), server, "{probe} port");
    }
    let grace =
        pod["terminationGracePeriodSeconds"].as_i64().expect("terminationGracePeriodSeconds");
    assert!(grace > shutdown_grace_secs(), "grace {grace}s must exceed the bridge's own");

    let uid = docker_user_uid();
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod["securityContext"]["runAsUser"].as_u64(), Some(uid), "the image's user");
    assert_eq!(pod["securityContext"]["fsGroup"].as_u64(), Some(uid), "volume writable");
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    let drop = sc["capabilities"]["drop"].as_sequence().expect("capabilities.drop");
    assert!(drop.iter().any(|c| c == "ALL"), "drop ALL capabilities");

    let secret = k8s_object("Secret");
    let from = container["envFrom"].as_sequence().expect("envFrom");
    assert!(
        from.iter().any(|f| f["secretRef"]["name"] == secret["metadata"]["name"]),
        "envFrom must read the example Secret's name"
    );

    let service = k8s_object("Service");
    let labels = &pod_labels(&set);
    for (k, v) in service["spec"]["selector"].as_mapping().expect("selector") {
        assert_eq!(labels.get(k), Some(v), "Service selector {k:?} must match the pod");
    }
    let http = &service["spec"]["ports"].as_sequence().expect("ports")[0];
    assert_eq!(http["port"].as_u64(), Some(server));
    assert_eq!(resolve_port(&container, &http["targetPort"]), server);
    assert_eq!(set["spec"]["serviceName"], service["metadata"]["name"]);
}

fn pod_labels(set: &Value) -> serde_norway::Mapping {
    set["spec"]["template"]["metadata"]["labels"].as_mapping().expect("pod labels").clone()
}

#[test]
fn kustomization_lists_every_manifest_but_never_the_example_secret() {
    let kustomization = yaml_docs("deploy/kubernetes/kustomization.yaml").remove(0);
    let listed: Vec<String> = kustomization["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|r| format!("deploy/kubernetes/{}", r.as_str().unwrap()))
        .collect();
    for file in &listed {
        assert!(root().join(file).is_file(), "kustomization lists missing {file}");
    }
    for file in kubernetes_files() {
        let example = file.contains(".example.");
        let expected = !example && !file.ends_with("/kustomization.yaml");
        assert_eq!(listed.contains(&file), expected, "{file} listed in kustomization.yaml?");
    }
}

#[test]
fn example_secrets_hold_no_real_values_and_name_every_conventional_variable() {
    let example = env_example();
    let secret = k8s_object("Secret");
    let data = secret["stringData"].as_mapping().expect("stringData");
    let conventional = conventional_env();
    for (name, _) in &conventional {
        let value = value_of(&example, name).unwrap_or_else(|| panic!(".env.example lacks {name}"));
        assert!(value.is_empty(), ".env.example must not hold a value for {name}");
        let value = data.get(*name).unwrap_or_else(|| panic!("secret.example.yaml lacks {name}"));
        let value = value.as_str().unwrap();
        assert!(value.is_empty() || value.contains("REPLACE_ME"), "{name} looks real: {value}");
    }
    for (key, _) in data {
        let key = key.as_str().unwrap();
        let known = conventional.iter().any(|(n, _)| *n == key) || key_of(key).is_some();
        assert!(known, "secret.example.yaml key {key} is no variable the bridge reads");
    }
}

#[test]
fn compose_runs_one_healthy_bot_with_its_volume_and_env_file() {
    let compose = yaml_docs("deploy/compose.yaml").remove(0);
    let services = compose["services"].as_mapping().expect("services");
    assert_eq!(services.len(), 1, "the bot alone");
    let bridge = &compose["services"]["bridge"];
    assert!(bridge["container_name"].is_string(), "a fixed name keeps --scale from working");
    assert!(bridge["deploy"]["replicas"].as_u64().unwrap_or(1) <= 1);
    assert_eq!(bridge["env_file"].as_str(), Some(".env"));
    assert!(root().join("deploy/.env.example").is_file(), "the template of .env");
    let build = &bridge["build"];
    let dockerfile = Path::new("deploy").join(build["context"].as_str().unwrap());
    let dockerfile = root().join(dockerfile).join(build["dockerfile"].as_str().unwrap());
    assert!(dockerfile.is_file(), "build points at {}", dockerfile.display());

    let test: Vec<String> = bridge["healthcheck"]["test"]
        .as_sequence()
        .expect("healthcheck.test list")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(test, ["CMD", "siteassist-bridge", "healthcheck"]);
    let restart = bridge["restart"].as_str().expect("restart policy");
    assert!(["always", "unless-stopped", "on-failure"].contains(&restart), "restart {restart}");
    let stop = bridge["stop_grace_period"].as_str().expect("stop_grace_period");
    let secs: i64 = stop.strip_suffix('s').and_then(|s| s.parse().ok()).expect("like 30s");
    assert!(secs > shutdown_grace_secs(), "stop_grace_period {stop} too short");

    let server = default_port("server", "listen");
    let ports: Vec<String> = bridge["ports"].as_sequence().unwrap().iter().map(scalar).collect();
    assert!(ports.iter().any(|p| p.ends_with(&format!(":{server}"))), "publish {server}");
    let slack = default_port("slack", "listen");
    let text = read("deploy/compose.yaml");
    let variant = |q: char| text.contains(&format!("# - {q}{slack}:{slack}{q}"));
    assert!(variant('\'') || variant('"'), "commented events variant publishes {slack}");
    let mode = compose_env().into_iter().find(|a| a.name.ends_with("__SLACK__MODE"));
    assert_eq!(mode.map(|a| (a.value, a.commented)), Some(("events".into(), true)));
}

/// The numeric uid of the Dockerfile's last `USER` (names would defeat runAsNonRoot).
fn docker_user_uid() -> u64 {
    let users = docker_args("USER");
    let last = users.last().expect("the Dockerfile sets a USER");
    let uid = last.split(':').next().unwrap();
    uid.parse().unwrap_or_else(|_| panic!("USER {last} should be numeric"))
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_health_check_and_data_volume() {
    let from = docker_args("FROM");
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    let builder = from[0].split_whitespace().last().unwrap().to_string();
    assert!(from[0].to_lowercase().contains(" as "), "the build stage is named");
    assert!(from.last().unwrap().contains("slim"), "a small runtime image: {from:?}");
    let copies = docker_args("COPY");
    assert!(copies.iter().any(|c| c.starts_with(&format!("--from={builder} "))), "binary copied");
    let runs = docker_args("RUN").join("\n");
    assert!(runs.contains("cargo build --release --locked"), "builds what CI tests");
    assert!(runs.contains("ca-certificates"), "rustls needs the OS's root certificates");

    let uid = docker_user_uid();
    assert!(uid != 0, "must not run as root");
    let health = docker_args("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    assert!(health[0].contains(r#"CMD ["siteassist-bridge", "healthcheck"]"#), "{}", health[0]);
    let exposed: Vec<u16> = docker_args("EXPOSE")
        .iter()
        .flat_map(|a| a.split_whitespace().map(|p| p.parse::<u16>().unwrap()).collect::<Vec<_>>())
        .collect();
    for port in [default_port("server", "listen"), default_port("slack", "listen")] {
        assert!(exposed.contains(&port), "EXPOSE {port}");
    }
    let entry = docker_args("ENTRYPOINT");
    assert_eq!(entry, [r#"["siteassist-bridge"]"#]);
    let env = dockerfile_env();
    let json_logs = value_of(&env, "SITEASSIST_BRIDGE__LOG__FORMAT");
    assert_eq!(json_logs, Some("json"), "containers log JSON for collectors");
}

#[test]
fn systemd_unit_keeps_its_hardening() {
    let exec = service_values("ExecStart");
    assert_eq!(exec.len(), 1);
    assert!(exec[0].starts_with('/') && exec[0].contains("/siteassist-bridge run"), "{exec:?}");
    let expect = [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
        ("MemoryDenyWriteExecute", "yes"),
        ("LockPersonality", "yes"),
        ("Restart", "on-failure"),
        ("StateDirectory", "siteassist-bridge"),
        ("EnvironmentFile", "/etc/siteassist-bridge/env"),
        ("DynamicUser", "yes"),
    ];
    for (key, value) in expect {
        assert_eq!(service_values(key), [value], "{key}");
    }
    assert!(service_values("SystemCallFilter").contains(&"@system-service".to_string()));
    assert!(service_values("User").is_empty(), "DynamicUser, no fixed (root) user");
    let stop = service_values("TimeoutStopSec");
    let secs: i64 = stop[0].trim_end_matches('s').parse().expect("TimeoutStopSec in seconds");
    assert!(secs > shutdown_grace_secs(), "TimeoutStopSec {secs} too short");
    let install = &systemd_unit()["Install"];
    assert!(install.contains(&("WantedBy".into(), "multi-user.target".into())));
}

#[test]
fn every_yaml_file_parses_and_the_slack_manifests_match_the_bridge() {
    let mut files = vec!["deploy/compose.yaml".to_string()];
    files.extend(kubernetes_files());
    files.extend(["deploy/slack/manifest.yaml".into(), "deploy/slack/manifest-events.yaml".into()]);
    for file in &files {
        assert!(!yaml_docs(file).is_empty(), "{file} is empty");
    }
    let socket = yaml_docs("deploy/slack/manifest.yaml").remove(0);
    assert_eq!(socket["settings"]["socket_mode_enabled"].as_bool(), Some(true));
    let events = yaml_docs("deploy/slack/manifest-events.yaml").remove(0);
    assert_eq!(events["settings"]["socket_mode_enabled"].as_bool(), Some(false));
    let url = events["settings"]["event_subscriptions"]["request_url"].as_str().expect("url");
    assert!(url.starts_with("https://") && url.ends_with("/slack/events"), "{url}");
    let scopes = |m: &Value| m["oauth_config"]["scopes"]["bot"].clone();
    assert_eq!(scopes(&socket), scopes(&events), "both modes ask for the same scopes");
    // Each place the bridge answers needs its message event and that event's scope:
    // without them Slack never sends a follow-up there (group DMs were missing).
    let listed = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    for manifest in [&socket, &events] {
        let (scopes, bot_events) = (
            listed(&scopes(manifest)),
            listed(&manifest["settings"]["event_subscriptions"]["bot_events"]),
        );
        for (event, scope) in [
            ("message.channels", "channels:history"),
            ("message.groups", "groups:history"),
            ("message.im", "im:history"),
            ("message.mpim", "mpim:history"),
        ] {
            assert!(bot_events.contains(&event.to_string()), "no {event} in {bot_events:?}");
            assert!(scopes.contains(&scope.to_string()), "no {scope} for {event} in {scopes:?}");
        }
    }
    // The AI-assistant container (issue 13): the view, its scope and its two events.
    for manifest in [&socket, &events] {
        assert!(manifest["features"]["assistant_view"]["assistant_description"].is_string());
        assert!(listed(&scopes(manifest)).contains(&"assistant:write".to_string()));
        let bot_events = listed(&manifest["settings"]["event_subscriptions"]["bot_events"]);
        for event in ["assistant_thread_started", "assistant_thread_context_changed"] {
            assert!(bot_events.contains(&event.to_string()), "no {event} in {bot_events:?}");
        }
    }
    // Stop and 👍 / 👎 are buttons: without interactivity Slack shows them but never
    // sends a press.
    for manifest in [&socket, &events] {
        assert_eq!(manifest["settings"]["interactivity"]["is_enabled"].as_bool(), Some(true));
    }
    let presses = events["settings"]["interactivity"]["request_url"].as_str().expect("url");
    assert!(
        presses.starts_with("https://") && presses.ends_with("/slack/interactions"),
        "{presses}"
    );
    let host = |u: &str| u.trim_start_matches("https://").split('/').next().map(str::to_owned);
    assert_eq!(host(presses), host(url), "events and presses go to the same listener");
    // `/siteassist` in both modes, with the `commands` scope; over HTTP it is posted to
    // the same listener.
    for manifest in [&socket, &events] {
        let command = &manifest["features"]["slash_commands"][0];
        assert_eq!(command["command"].as_str(), Some("/siteassist"));
        let scopes = scopes(manifest);
        assert!(scopes.as_sequence().unwrap().iter().any(|s| s.as_str() == Some("commands")));
    }
    assert!(socket["features"]["slash_commands"][0].get("url").is_none(), "Socket Mode needs none");
    let commands = events["features"]["slash_commands"][0]["url"].as_str().expect("url");
    assert!(commands.ends_with("/slack/commands") && host(commands) == host(url), "{commands}");
}

#[test]
fn dockerignore_keeps_secrets_and_build_output_out_but_not_the_sources() {
    let text = read(".dockerignore");
    let rules: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for needed in ["target/", ".git/", "deploy/.env"] {
        assert!(rules.contains(&needed), ".dockerignore lacks {needed}");
    }
    for kept in ["src", "config", "Cargo.toml", "Cargo.lock", "*"] {
        let dropped = rules.iter().any(|r| r.trim_end_matches('/') == kept);
        assert!(!dropped, ".dockerignore drops {kept}, which the build needs");
    }
}
