//! `[slack]`: owned by the Slack adapter, compiled even without the `slack` feature so a
//! config file stays valid whichever features a build has.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// How the bot receives Slack events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlackMode {
    /// Socket Mode: the bot opens a websocket to Slack (app-level token); no public URL.
    Socket,
    /// Events API: Slack POSTs signed events to `slack.listen` + `/slack/events`.
    Events,
}

/// How answers stream into Slack (`slack.streaming`). The default is [`Self::Auto`]:
/// Slack's native streams where it accepts them (threads), which keep answers off
/// `chat.update`'s per-workspace budget, the edit path where it does not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamingMode {
    /// Native streams (`chat.startStream` / `appendStream` / `stopStream`) in threads;
    /// a reply whose stream Slack refuses finishes by post + `chat.update`, and after an
    /// `unknown_method` or `missing_scope` (a workspace or app without AI-app streaming)
    /// the bridge stops trying native streams until restarted (the default).
    #[default]
    Auto,
    /// Native streams in threads, tried for every reply whatever Slack refused before
    /// (a refused reply still finishes by post + `chat.update`).
    Native,
    /// Never native: post a placeholder and edit it with `chat.update`.
    Edit,
}

/// `[slack]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// Run the Slack adapter.
    pub enabled: bool,
    /// Socket Mode or Events API.
    pub mode: SlackMode,
    /// Bot token (`xoxb-…`); also `SLACK_BOT_TOKEN`.
    pub bot_token: Secret,
    /// App-level token (`xapp-…`) for Socket Mode; also `SLACK_APP_TOKEN`.
    pub app_token: Secret,
    /// Signing secret for the Events API; also `SLACK_SIGNING_SECRET`.
    pub signing_secret: Secret,
    /// Where the Events API endpoint listens.
    pub listen: String,
    /// Slack Web API base URL (tests point it at a fake).
    pub api_url: String,
    /// Channel ids where every top-level message is answered without a mention.
    pub auto_respond_channels: Vec<String>,
    /// Channel ids the bot answers in; empty for every channel it is in. Direct messages
    /// are not channels and are always answered.
    pub allow_channels: Vec<String>,
    /// Channel ids the bot never answers in; wins over `allow_channels`.
    pub deny_channels: Vec<String>,
    /// Longest message before an answer continues in a new one.
    pub max_message_chars: usize,
    /// Longest message in UTF-8 bytes before an answer continues in a new one: Slack
    /// answers `msg_too_long` near 4,000 whatever its documented 40,000 characters
    /// say, and emoji (4 bytes) or CJK text (3 bytes) reach a byte count first.
    pub max_message_bytes: usize,
    /// `chat.update` calls allowed per minute per workspace.
    pub edit_budget_per_minute: u32,
    /// Where Slack serves shared files (`url_private`): the only host the bot token is
    /// sent to for a file (tests point it at a fake).
    pub files_url: String,
    /// Native streaming or edits.
    pub streaming: StreamingMode,
    /// Up to four prompts a new assistant thread suggests (each shown and sent as is);
    /// empty for none. In the environment, a comma-separated list.
    pub suggested_prompts: Vec<String>,
}

impl SlackSettings {
    /// Checks what serde cannot; `Err((key, reason))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled {
            return Ok(());
        }
        if self.bot_token.is_empty() {
            return Err((
                "slack.bot_token",
                "is required when slack.enabled (or set SLACK_BOT_TOKEN)".into(),
            ));
        }
        match self.mode {
            SlackMode::Socket if self.app_token.is_empty() => {
                return Err((
                    "slack.app_token",
                    "is required in socket mode (or set SLACK_APP_TOKEN)".into(),
                ))
            }
            SlackMode::Events if self.signing_secret.is_empty() => {
                return Err((
                    "slack.signing_secret",
                    "is required in events mode (or set SLACK_SIGNING_SECRET)".into(),
                ))
            }
            _ => {}
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err((
                "slack.listen",
                format!("{:?} is not an address such as 0.0.0.0:3000", self.listen),
            ));
        }
        if !(100..=40_000).contains(&self.max_message_chars) {
            return Err(("slack.max_message_chars", "must be between 100 and 40000".into()));
        }
        if !(100..=160_000).contains(&self.max_message_bytes) {
            return Err(("slack.max_message_bytes", "must be between 100 and 160000".into()));
        }
        if !crate::adapters::is_http_url(&self.files_url) {
            return Err(("slack.files_url", format!("{:?} is not an http(s) URL", self.files_url)));
        }
        // Slack's `assistant.threads.setSuggestedPrompts` takes "up to four"
        // (docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts,
        // checked 2026-12-04).
        let prompts = self.suggested_prompts.iter().filter(|p| !p.trim().is_empty()).count();
        if prompts > 4 {
            return Err((
                "slack.suggested_prompts",
                format!("has {prompts} prompts; Slack shows at most 4"),
            ));
        }
        if self.edit_budget_per_minute == 0 {
            return Err(("slack.edit_budget_per_minute", "must be at least 1".into()));
        }
        for (key, list) in [
            ("slack.allow_channels", &self.allow_channels),
            ("slack.deny_channels", &self.deny_channels),
        ] {
            // A channel name where an id belongs would silently match nothing: with an
            // allow list, the bot would go quiet everywhere.
            if let Some(bad) =
                list.iter().map(|s| s.trim()).find(|s| !s.is_empty() && !is_channel_id(s))
            {
                return Err((
                    key,
                    format!(
                        "{bad:?} is not a channel id such as C0123ABCD \
                         (channel details → About: the id is at the bottom)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `id` is shaped like a Slack channel id: `C…` (channels) or `G…` (older private
/// channels, group DMs), upper-case letters and digits.
fn is_channel_id(id: &str) -> bool {
    id.len() >= 2
        && (id.starts_with('C') || id.starts_with('G'))
        && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::{is_channel_id, SlackSettings};
    use crate::config::ConfigError;

    /// The `[slack]` section loaded with `vars` as the environment (and `file`).
    fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<SlackSettings, ConfigError> {
        crate::config::load_platform(file, vars)
    }

    #[test]
    fn conventional_names_fill_the_section_and_it_is_checked() {
        let s = load(
            None,
            &[
                ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
                ("SLACK_BOT_TOKEN", "xoxb-1"),
                ("SLACK_APP_TOKEN", "xapp-1"),
                ("SLACK_SIGNING_SECRET", "shh"),
                ("SITEASSIST_BRIDGE__SLACK__AUTO_RESPOND_CHANNELS", "C1,C2"),
            ],
        )
        .unwrap();
        assert_eq!(s.bot_token.expose(), "xoxb-1");
        assert_eq!(s.app_token.expose(), "xapp-1");
        assert_eq!(s.signing_secret.expose(), "shh");
        assert_eq!(s.auto_respond_channels, vec!["C1", "C2"]);
        let err = load(None, &[("SITEASSIST_BRIDGE__SLACK__ENABLED", "true")]).unwrap_err();
        assert!(err.to_string().contains("slack.bot_token"), "{err}");
    }

    #[test]
    fn channel_lists_come_from_the_file_and_from_env_as_comma_lists() {
        let s = load(None, &[]).unwrap();
        assert!(s.allow_channels.is_empty() && s.deny_channels.is_empty());
        let file = "[slack]\nallow_channels = [\"C1\", \"C2\"]\ndeny_channels = [\"C9\"]\n";
        let s = load(Some(file), &[]).unwrap();
        assert_eq!(
            (s.allow_channels, s.deny_channels),
            (vec!["C1".into(), "C2".into()], vec!["C9".into()])
        );
        let s = load(
            Some(file),
            &[
                ("SITEASSIST_BRIDGE__SLACK__ALLOW_CHANNELS", "C3, C4"),
                ("SITEASSIST_BRIDGE__SLACK__DENY_CHANNELS", ""),
                ("SITEASSIST_BRIDGE__SLACK__AUTO_RESPOND_CHANNELS", ""),
            ],
        )
        .unwrap();
        assert_eq!(s.allow_channels, vec!["C3", "C4"], "env beats file");
        assert!(s.deny_channels.is_empty(), "an empty value clears the list");
        assert!(s.auto_respond_channels.is_empty());
    }

    #[test]
    fn channel_lists_hold_ids_not_names() {
        let enabled = [
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_APP_TOKEN", "xapp-1"),
        ];
        // (variable, value) -> the key the error names, or None when it loads
        let table = [
            ("SITEASSIST_BRIDGE__SLACK__ALLOW_CHANNELS", "C0123ABCD,G024BE91L", None),
            (
                "SITEASSIST_BRIDGE__SLACK__ALLOW_CHANNELS",
                "C1,general",
                Some("slack.allow_channels"),
            ),
            ("SITEASSIST_BRIDGE__SLACK__DENY_CHANNELS", "#random", Some("slack.deny_channels")),
        ];
        for (var, value, key) in table {
            let mut vars = enabled.to_vec();
            vars.push((var, value));
            match (load(None, &vars), key) {
                (Ok(_), None) => {}
                (Err(e), Some(key)) => assert!(e.to_string().contains(key), "{var}={value}: {e}"),
                (result, _) => panic!("{var}={value}: {result:?}"),
            }
        }
    }

    #[test]
    fn suggested_prompts_are_a_comma_list_of_at_most_four() {
        assert!(load(None, &[]).unwrap().suggested_prompts.is_empty(), "none by default");
        let enabled = [
            ("SITEASSIST_BRIDGE__SLACK__ENABLED", "true"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_APP_TOKEN", "xapp-1"),
        ];
        let with = |list: &'static str| {
            let mut vars = enabled.to_vec();
            vars.push(("SITEASSIST_BRIDGE__SLACK__SUGGESTED_PROMPTS", list));
            load(None, &vars)
        };
        let s = with("How do I reset my password?,Where is my order?").unwrap();
        assert_eq!(s.suggested_prompts, ["How do I reset my password?", "Where is my order?"]);
        let err = with("a,b,c,d,e").unwrap_err();
        assert!(err.to_string().contains("slack.suggested_prompts"), "{err}");
    }

    #[test]
    fn channel_ids() {
        for ok in ["C0123ABCD", "G024BE91L", "C1"] {
            assert!(is_channel_id(ok), "{ok}");
        }
        for bad in ["general", "#general", "C", "c0123abcd", "D024BE91L", "U061F7AUR", "C01 2"] {
            assert!(!is_channel_id(bad), "{bad}");
        }
    }
}
