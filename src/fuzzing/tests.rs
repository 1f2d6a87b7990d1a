//! The fuzz targets as property tests: short runs on random and structured inputs, and
//! every committed corpus input replayed.

use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::path::PathBuf;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 5] = [
    ("stream_decoder", stream_decoder),
    ("slack_payload", slack_payload),
    ("discord_payload", discord_payload),
    ("markdown", markdown),
    ("splitter", splitter),
];

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    entries.map(|e| e.expect("a corpus entry").path()).collect()
}

/// The model of Discord's parser the Markdown target checks against, on cases whose
/// display in Discord is known.
#[test]
fn discord_prose_models_discords_code_and_escapes() {
    let live = |text: &str| discord_prose(text).contains("@everyone");
    // Code, inline or fenced, anywhere on a line, across lines too: not parsed.
    assert!(!live("`@everyone`"));
    assert!(!live("a ```@everyone``` b"));
    assert!(!live("```\n@everyone\n```"));
    assert!(!live("`a\n@everyone`"));
    // The opening run gives up backticks to find a close: "``a @everyone`" is code.
    assert!(!live("``a @everyone`"));
    // Prose: after an escaped backtick, after a span that closed earlier, unclosed.
    assert!(live("\\`@everyone`"));
    assert!(live("`x\n`@everyone`"));
    assert!(live("`@everyone"));
    // An escaped @ shows as text.
    assert!(!live("\\@everyone"));
}

#[test]
fn every_committed_corpus_input_passes() {
    for (target, run) in TARGETS {
        let inputs = corpus(target);
        assert!(inputs.len() >= 5, "{target} has only {} corpus inputs", inputs.len());
        for path in inputs {
            let data = std::fs::read(&path).expect("a readable corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} fails on {}", path.display());
        }
    }
}

#[test]
fn the_targets_check_something() {
    // A stream whose text shrinks, a splitter limit, a Slack message: inputs the
    // checks are meant to reject or reach must get there.
    let body = "data: {\"type\":\"text-start\",\"id\":\"a\"}\n\n\
                data: {\"type\":\"text-delta\",\"id\":\"a\",\"delta\":\"hi\"}\n\n";
    let frames = frames(vec![body.as_bytes().to_vec()]);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(cut(b"abcdef", 1).concat(), b"abcdef");
    // The corpus reaches the message path: some of it is MESSAGE_CREATE frames that
    // serenity decodes (the fuzzer's own additions around them need not decode).
    let decodable = corpus("discord_payload")
        .iter()
        .map(|path| std::fs::read(path).expect("a readable corpus file"))
        .filter(|data| String::from_utf8_lossy(data).contains("\"MESSAGE_CREATE\""))
        .filter(|data| serde_json::from_slice::<serenity::all::GatewayEvent>(data).is_ok())
        .count();
    assert!(decodable >= 3, "only {decodable} decodable MESSAGE_CREATE frames in the corpus");
    let forged = std::panic::catch_unwind(check_slack_reaction_prefix);
    assert!(forged.is_err(), "check_slack accepts a reaction outside Slack");
}

fn check_slack_reaction_prefix() {
    use crate::bridge::decide::Speaker;
    use crate::bridge::event::ReactionEvent;
    use crate::bridge::ids::{MessageRef, UserKey};
    check_slack(Translated::Reaction(ReactionEvent {
        event_id: "e".into(),
        message: MessageRef::new("discord:1:2"),
        user: UserKey::new("u"),
        user_kind: Speaker::Person,
        emoji: "+1".into(),
        added: true,
    }));
}

/// A UI-message-stream chunk, valid or not.
fn chunk() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,3}".prop_map(|id| json!({"type": "text-start", "id": id}).to_string()),
        ("[a-z]{1,3}", "\\PC{0,12}")
            .prop_map(|(id, d)| json!({"type": "text-delta", "id": id, "delta": d}).to_string()),
        "[a-z]{1,3}".prop_map(|id| json!({"type": "text-end", "id": id}).to_string()),
        Just(json!({"type": "start", "messageId": "m1"}).to_string()),
        Just(json!({"type": "finish", "finishReason": "stop"}).to_string()),
        Just(json!({"type": "error", "errorText": "boom"}).to_string()),
        Just(json!({"type": "abort"}).to_string()),
        Just("[DONE]".to_string()),
        "\\PC{0,20}",
    ]
}

fn slack_event() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![Just("message"), Just("app_mention"), Just("reaction_added")];
    let channel = prop_oneof!["C1|CAUTO|D1", "[A-Z0-9:]{0,6}"];
    let text = prop_oneof![
        "\\PC{0,40}",
        "<@UBOT> \\PC{0,20}",
        "(<[@#!]?[A-Z0-9|a-z]{0,8}>|&lt;|&gt;|&amp;| |x){0,8}",
    ];
    let ts = || prop_oneof![Just(Some("1.1")), Just(Some("1.2")), Just(None)];
    (kind, channel, text, ts(), ts(), any::<bool>(), any::<bool>()).prop_map(
        |(kind, channel, text, ts, thread_ts, dm, bot)| {
            let mut event = json!({
                "type": kind, "channel": channel, "user": if bot { "UBOT" } else { "U1" },
                "text": text, "reaction": "+1",
                "item": {"type": "message", "channel": channel, "ts": ts},
            });
            if let Some(ts) = ts {
                event["ts"] = json!(ts);
            }
            if let Some(t) = thread_ts {
                event["thread_ts"] = json!(t);
            }
            if dm {
                event["channel_type"] = json!("im");
            }
            json!({"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event})
                .to_string()
                .into_bytes()
        },
    )
}

fn discord_message() -> impl Strategy<Value = Vec<u8>> {
    let content =
        prop_oneof!["\\PC{0,40}", "(<@!?1000>|<@&2000>|<@12>|@everyone|/new|!new| |x|\\n){0,8}",];
    (content, any::<bool>(), any::<bool>(), 0u8..25, "\\PC{0,120}").prop_map(
        |(content, guild, mention, kind, name)| {
            let author = json!({"id": "11", "username": name, "discriminator": "0"});
            let bot = json!({"id": "1000", "username": "bot", "discriminator": "0", "bot": true});
            let mut d = json!({
                "id": "5001", "channel_id": "300", "author": author, "content": content,
                "timestamp": "2024-05-01T12:00:00.000000+00:00", "edited_timestamp": null,
                "tts": false, "mention_everyone": false,
                "mentions": if mention { vec![bot] } else { vec![] },
                "mention_roles": [], "attachments": [], "embeds": [], "pinned": false,
                "type": kind,
            });
            if guild {
                d["guild_id"] = json!("100");
            }
            json!({"op": 0, "s": 1, "t": "MESSAGE_CREATE", "d": d}).to_string().into_bytes()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_bytes_break_no_target(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        for (_, run) in TARGETS {
            run(&data);
        }
    }

    #[test]
    fn streams_of_random_chunks(seed in any::<u8>(), chunks in proptest::collection::vec(chunk(), 0..12), crlf in any::<bool>()) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let body: String = chunks.iter().map(|c| format!("data: {c}{eol}{eol}")).collect();
        stream_decoder(&[&[seed], body.as_bytes()].concat());
    }

    #[test]
    fn slack_events(body in slack_event()) {
        slack_payload(&body);
    }

    #[test]
    fn discord_messages(frame in discord_message()) {
        // The generator must make frames serenity accepts, or this tests nothing.
        let decoded = serde_json::from_slice::<serenity::all::GatewayEvent>(&frame);
        prop_assert!(decoded.is_ok(), "{:?}", decoded.err());
        discord_payload(&frame);
    }

    #[test]
    fn markdown_text(text in "(\\PC|\\n|\\*\\*|`|``|```|~~~|\\\\|    |\\t|\\||@everyone|@here|<@1>|#|- |\\[a\\]\\(https://x\\.io\\)){0,60}") {
        markdown(text.as_bytes());
    }

    #[test]
    fn split_text(limit in any::<u8>(), text in "(\\PC{1,30}|\\n|\\n```\\n|\\n```py\\n| {4}){0,40}") {
        splitter(&[&[limit], text.as_bytes()].concat());
    }
}
