//! Actions an answer offers: SiteAssist's action tools.
//!
//! SiteAssist's assistant can call tools whose names start with `action_`; the widget
//! renders their output under the answer (`../shared/siteassist-api.md` §6: "W renders
//! tool parts whose type starts with `tool-action_`"). The one with a documented output
//! is `action_display-link`, `{buttonLabel, href, buttonVariant?}`, shown as a button
//! that opens `href`. The bridge shows the same as link buttons; other tools are not
//! the user's business and are skipped (logged at debug).
//!
//! The output comes from a model's tool call, so it is untrusted: only `http`/`https`
//! links become buttons (never `javascript:`, `file:` or a relative path), labels are
//! trimmed to one line and shortened, and each link is offered once.

use serde_json::Value;

/// The tool whose output is a link button.
pub const DISPLAY_LINK_TOOL: &str = "action_display-link";

/// Longest label kept, in characters (Discord's button label limit is 80, Slack's
/// button text 75; adapters shorten further where they must).
pub const MAX_LABEL_CHARS: usize = 80;

/// Longest link kept, in bytes (Discord's and Slack's button URL limit is 512 and 3,000;
/// a longer link is refused rather than cut, a cut URL goes somewhere else).
pub const MAX_URL_BYTES: usize = 512;

/// A link the answer offers as a button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkAction {
    /// The button's text, one line, at most [`MAX_LABEL_CHARS`].
    pub label: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
}

/// The link button a tool's output describes, when `tool` is the display-link tool and
/// its output is usable.
pub fn from_tool_output(tool: &str, output: &Value) -> Option<LinkAction> {
    if tool != DISPLAY_LINK_TOOL {
        if tool.starts_with("action_") {
            tracing::debug!(tool, "an action tool the bridge does not show; skipped");
        }
        return None;
    }
    let href = output.get("href").and_then(Value::as_str)?.trim();
    let url = url::Url::parse(href).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
    if url.host_str().is_none() || url.as_str().len() > MAX_URL_BYTES {
        tracing::debug!("a display-link action with an unusable link; skipped");
        return None;
    }
    let label = output
        .get("buttonLabel")
        .and_then(Value::as_str)
        .map(one_line)
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| url.host_str().unwrap_or_default().to_string());
    Some(LinkAction { label: shorten(&label, MAX_LABEL_CHARS), url: url.to_string() })
}

/// The link buttons of a stored message's parts (`{"type":"tool-<name>","state":
/// "output-available","output":…}`), for an answer read back after a cut stream.
pub fn from_parts<'a>(parts: impl IntoIterator<Item = &'a Value>) -> Vec<LinkAction> {
    let mut actions = Vec::new();
    for part in parts {
        let Some(tool) =
            part.get("type").and_then(Value::as_str).and_then(|t| t.strip_prefix("tool-"))
        else {
            continue;
        };
        if part.get("state").and_then(Value::as_str) != Some("output-available") {
            continue;
        }
        if let Some(action) = part.get("output").and_then(|o| from_tool_output(tool, o)) {
            add(&mut actions, action);
        }
    }
    actions
}

/// Adds `action` unless its link is offered already.
pub fn add(actions: &mut Vec<LinkAction>, action: LinkAction) {
    if !actions.iter().any(|a| a.url == action.url) {
        actions.push(action);
    }
}

/// Whitespace (newlines included) collapsed to single spaces, trimmed.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` cut to `max` characters, ending in "…" when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_display_links_with_web_urls_become_buttons() {
        let table = [
            (
                DISPLAY_LINK_TOOL,
                json!({"buttonLabel":"Track order","href":"https://example.com/o"}),
                Some(("Track order", "https://example.com/o")),
            ),
            (
                DISPLAY_LINK_TOOL,
                json!({"buttonLabel":"Plain","href":"http://example.com"}),
                Some(("Plain", "http://example.com/")),
            ),
            (
                DISPLAY_LINK_TOOL,
                json!({"buttonLabel":"  Two\nlines  ","href":"https://x.io/a b"}),
                Some(("Two lines", "https://x.io/a%20b")),
            ),
            (
                DISPLAY_LINK_TOOL,
                json!({"href":"https://docs.example.com/x"}),
                Some(("docs.example.com", "https://docs.example.com/x")),
            ),
            (
                DISPLAY_LINK_TOOL,
                json!({"buttonLabel":"","href":"https://x.io"}),
                Some(("x.io", "https://x.io/")),
            ),
            (DISPLAY_LINK_TOOL, json!({"buttonLabel":"Run","href":"javascript:alert(1)"}), None),
            (DISPLAY_LINK_TOOL, json!({"buttonLabel":"File","href":"file:///etc/passwd"}), None),
            (DISPLAY_LINK_TOOL, json!({"buttonLabel":"Rel","href":"/relative"}), None),
            (DISPLAY_LINK_TOOL, json!({"buttonLabel":"No link"}), None),
            (DISPLAY_LINK_TOOL, json!({"buttonLabel":"Num","href":7}), None),
            (DISPLAY_LINK_TOOL, json!("https://x.io"), None),
            ("action_open-ticket", json!({"buttonLabel":"Open","href":"https://x.io"}), None),
            ("search", json!({"href":"https://x.io"}), None),
        ];
        for (tool, output, want) in table {
            let got = from_tool_output(tool, &output);
            let want = want.map(|(l, u)| LinkAction { label: l.into(), url: u.into() });
            assert_eq!(got, want, "{tool} {output}");
        }
    }

    #[test]
    fn long_labels_are_shortened_and_long_links_refused() {
        let long = "x".repeat(200);
        let got = from_tool_output(
            DISPLAY_LINK_TOOL,
            &json!({"buttonLabel": long, "href": "https://x.io"}),
        )
        .unwrap();
        assert_eq!(got.label.chars().count(), MAX_LABEL_CHARS);
        assert!(got.label.ends_with('…'));
        let href = format!("https://x.io/{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(
            from_tool_output(DISPLAY_LINK_TOOL, &json!({"buttonLabel":"L","href": href})),
            None
        );
    }

    #[test]
    fn stored_parts_give_the_same_buttons_once() {
        let link = json!({"buttonLabel":"Track","href":"https://example.com/o"});
        let parts = [
            json!({"type":"text","text":"hi"}),
            json!({"type":"tool-action_display-link","toolCallId":"a","state":"output-available","input":{},"output":link}),
            json!({"type":"tool-action_display-link","toolCallId":"b","state":"output-available","input":{},"output":link}),
            json!({"type":"tool-action_display-link","toolCallId":"c","state":"input-available","input":{}}),
            json!({"type":"tool-action_display-link","toolCallId":"d","state":"output-error","errorText":"x"}),
        ];
        let got = from_parts(parts.iter());
        assert_eq!(
            got,
            vec![LinkAction { label: "Track".into(), url: "https://example.com/o".into() }]
        );
    }
}
