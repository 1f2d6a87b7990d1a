//! Discord application commands: `/ask question:<text>`, `/new` and `/help`.
//!
//! Commands work without the privileged Message Content intent (their options arrive
//! in the interaction itself), so with them and mentions the bot needs no privileged
//! intent at all. They are registered at start, globally or, with
//! `discord.command_guilds`, per server (global commands can take a while to show;
//! guild commands update at once: API docs, "Application Commands", "Registering a
//! Command", checked 2026-12).
//!
//! A command must be answered within 3 seconds. `/ask` is answered at once with the
//! question itself, as a public message that the answer's thread starts from (the same
//! shape as a mention); `/new` and `/help` are answered with a deferred private reply,
//! filled in once the core has decided.

use serde_json::{json, Value};
use serenity::all::{CommandDataOptionValue, CommandInteraction};

/// Discord's longest string option.
pub(crate) const MAX_QUESTION_CHARS: usize = 6_000;

/// Longest question shown in the `/ask` reply (a message holds 2,000 characters; the
/// whole question still goes to SiteAssist).
const SHOWN_QUESTION_CHARS: usize = 1_800;

/// What a command asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Invocation {
    /// `/ask question:<text>`.
    Ask(String),
    /// `/new`.
    New,
    /// `/help`.
    Help,
}

/// The commands, as `PUT /applications/{id}/commands` takes them: chat input commands
/// usable in servers and in the bot's DMs.
pub(crate) fn definitions() -> Value {
    let command = |name: &str, description: &str, options: Value| {
        json!({
            "name": name, "type": 1, "description": description, "options": options,
            "contexts": [0, 1], "integration_types": [0]
        })
    };
    let question = json!([{
        "type": 3, "name": "question", "description": "What you want to know",
        "required": true, "min_length": 1, "max_length": MAX_QUESTION_CHARS
    }]);
    json!([
        command("ask", "Ask the support assistant a question", question),
        command("new", "Start a new conversation in this thread or DM", json!([])),
        command("help", "How to use the support assistant", json!([])),
    ])
}

/// The command an interaction invokes, or `None` for one the bridge did not register.
pub(crate) fn invocation(command: &CommandInteraction) -> Option<Invocation> {
    match command.data.name.as_str() {
        "ask" => {
            let question = command.data.options.iter().find(|o| o.name == "question")?;
            match &question.value {
                CommandDataOptionValue::String(text) if !text.trim().is_empty() => {
                    Some(Invocation::Ask(text.trim().to_string()))
                }
                _ => None,
            }
        }
        "new" => Some(Invocation::New),
        "help" => Some(Invocation::Help),
        _ => None,
    }
}

/// The public reply to `/ask`: who asked what, so the thread reads like a mention.
pub(crate) fn shown_question(asker: &str, question: &str) -> String {
    let mut shown: String = question.chars().take(SHOWN_QUESTION_CHARS).collect();
    if shown.len() < question.len() {
        shown.push('…');
    }
    let quoted: Vec<String> = shown.lines().map(|l| format!("> {l}")).collect();
    format!("**{}** asked:\n{}", escape_name(asker), quoted.join("\n"))
}

/// A display name with Discord's Markdown characters escaped, so it shows as written.
fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '\\' | '>' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The person who ran the command, as others see them.
pub(crate) fn asker_name(command: &CommandInteraction) -> String {
    let user = &command.user;
    command
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| user.global_name.clone())
        .unwrap_or_else(|| user.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_are_chat_commands_with_one_required_question() {
        let defs = definitions();
        let names: Vec<&str> =
            defs.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ask", "new", "help"]);
        let question = &defs[0]["options"][0];
        assert_eq!(
            (question["type"].as_u64(), question["required"].as_bool()),
            (Some(3), Some(true))
        );
        for c in defs.as_array().unwrap() {
            let d = c["description"].as_str().unwrap();
            assert!((1..=100).contains(&d.len()), "Discord's description limit: {d}");
        }
    }

    #[test]
    fn the_shown_question_is_quoted_short_and_names_the_asker() {
        assert_eq!(
            shown_question("Alice", "Where is\nmy order?"),
            "**Alice** asked:\n> Where is\n> my order?"
        );
        assert!(shown_question("*bold*_x", "q").starts_with("**\\*bold\\*\\_x** asked"));
        let long = "x".repeat(5_000);
        let shown = shown_question("A", &long);
        assert!(shown.chars().count() < 2_000 && shown.ends_with('…'), "{}", shown.len());
    }
}
