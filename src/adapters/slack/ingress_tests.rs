//! Payloads as Slack's Events API documentation shows them.

use super::*;
use serde_json::json;

use crate::bridge::decide::{Command, Place, PlaceKind, Speaker};

fn bot() -> BotIdentity {
    BotIdentity { user_id: "UBOT".into(), bot_id: Some("BBOT".into()) }
}

fn callback(event: Value) -> Value {
    json!({
        "token": "XXYYZZ", "team_id": "T0001", "api_app_id": "A0001",
        "event": event, "type": "event_callback", "event_id": "Ev0001",
        "event_time": 1_700_000_000,
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": true}]
    })
}

#[track_caller]
fn msg(t: Translated) -> InboundMessage {
    match t {
        Translated::Message { msg, .. } => *msg,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[track_caller]
fn ignored(t: Translated) -> &'static str {
    match t {
        Translated::Ignore(why) => why,
        other => panic!("expected Ignore, got {other:?}"),
    }
}

#[test]
fn url_verification_returns_the_challenge() {
    let body = json!({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"});
    match translate(&body, &bot()) {
        Translated::UrlVerification(c) => assert!(c.starts_with("3eZbrw")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_top_level_mention_answers_in_its_own_thread() {
    let body = callback(json!({
        "type": "app_mention", "user": "U061F7AUR", "text": "<@UBOT> how do I reset my password?",
        "ts": "1515449522.000016", "channel": "C123ABC456", "event_ts": "1515449522000016"
    }));
    let m = msg(translate(&body, &bot()));
    assert_eq!(m.facts.place, Place::new(PlaceKind::Channel, "C123ABC456"));
    assert!(m.facts.mentions_bot && !m.facts.addresses_others);
    assert_eq!(m.thread.as_str(), "slack:T0001:C123ABC456:1515449522.000016");
    assert_eq!(m.message.as_str(), "slack:T0001:C123ABC456:1515449522.000016");
    assert_eq!(m.text, "how do I reset my password?");
    assert_eq!(m.author.as_str(), "slack:T0001:U061F7AUR");
    assert_eq!(m.facts.speaker, Speaker::Person);
    assert_eq!(m.event_id, "Ev0001");
}

#[test]
fn a_mention_inside_a_thread_answers_in_that_thread() {
    let body = callback(json!({
        "type": "app_mention", "user": "U1", "text": "<@UBOT> and refunds?",
        "ts": "1515449600.000020", "thread_ts": "1515449522.000016", "channel": "C1"
    }));
    assert_eq!(msg(translate(&body, &bot())).thread.as_str(), "slack:T0001:C1:1515449522.000016");
}

#[test]
fn thread_replies_without_a_mention_are_follow_ups_unless_addressed_to_someone_else() {
    let reply = |text: &str| {
        callback(json!({
            "type": "message", "channel": "C1", "user": "U1", "text": text,
            "ts": "1515449700.000030", "thread_ts": "1515449522.000016", "channel_type": "channel"
        }))
    };
    let m = msg(translate(&reply("and shipping?"), &bot()));
    let thread = Place::within(PlaceKind::Thread, "1515449522.000016", Some("C1".into()));
    assert_eq!(m.facts.place, thread);
    assert!(!m.facts.mentions_bot && !m.facts.addresses_others);
    assert_eq!(m.thread.as_str(), "slack:T0001:C1:1515449522.000016");
    for to_others in ["<@U999> can you check this?", "<!here> anyone?", "<!subteam^S1> ping"] {
        assert!(msg(translate(&reply(to_others), &bot())).facts.addresses_others, "{to_others}");
    }
    assert!(ignored(translate(&reply("<@UBOT> again"), &bot())).contains("app_mention"));
}

#[test]
fn direct_messages_are_one_conversation_per_dm_or_dm_thread() {
    let dm = |thread_ts: Option<&str>| {
        let mut e = json!({"type": "message", "channel": "D024BE91L", "user": "U2147483697",
            "text": "Hello hello can you hear me?", "ts": "1355517523.000005", "channel_type": "im"});
        if let Some(t) = thread_ts {
            e["thread_ts"] = json!(t);
        }
        callback(e)
    };
    let m = msg(translate(&dm(None), &bot()));
    assert_eq!(m.facts.place, Place::new(PlaceKind::Dm, "D024BE91L"));
    assert_eq!(m.thread.as_str(), "slack:T0001:D024BE91L");
    let m = msg(translate(&dm(Some("1355517000.000001")), &bot()));
    assert_eq!(m.thread.as_str(), "slack:T0001:D024BE91L:1355517000.000001");
}

#[test]
fn top_level_channel_messages_are_reported_for_the_core_to_decide() {
    let top = |channel_type: &str| {
        callback(json!({"type": "message", "channel": "CSUP", "user": "U1",
        "text": "my order is late", "ts": "1.000100", "channel_type": channel_type}))
    };
    let m = msg(translate(&top("channel"), &bot()));
    assert_eq!(m.facts.place, Place::new(PlaceKind::Channel, "CSUP"));
    assert!(!m.facts.mentions_bot);
    assert_eq!(m.thread.as_str(), "slack:T0001:CSUP:1.000100");
    let m = msg(translate(&top("mpim"), &bot()));
    assert_eq!(m.facts.place, Place::new(PlaceKind::GroupDm, "CSUP"));
}

#[test]
fn commands_are_read_from_the_text_without_the_mention() {
    let said = |text: &str| {
        callback(json!({"type": "app_mention", "user": "U1", "text": text, "ts": "1.5",
        "channel": "C1"}))
    };
    assert_eq!(msg(translate(&said("<@UBOT> !new"), &bot())).facts.command, Some(Command::New));
    assert_eq!(msg(translate(&said("<@UBOT> /help"), &bot())).facts.command, Some(Command::Help));
    assert_eq!(msg(translate(&said("<@UBOT> new"), &bot())).facts.command, None);
}

#[test]
fn bots_edits_deletions_and_other_subtypes_are_not_questions() {
    let own =
        callback(json!({"type": "message", "channel": "D1", "user": "UBOT", "bot_id": "BBOT",
        "text": "Thinking…", "ts": "2.0", "channel_type": "im"}));
    assert_eq!(msg(translate(&own, &bot())).facts.speaker, Speaker::SelfBot);
    let other = callback(json!({"type": "message", "channel": "D1", "user": "U5", "bot_id": "B5",
        "text": "beep", "ts": "2.1", "channel_type": "im"}));
    assert_eq!(msg(translate(&other, &bot())).facts.speaker, Speaker::Bot);
    for subtype in ["message_changed", "message_deleted", "bot_message", "channel_join"] {
        let e =
            callback(json!({"type": "message", "subtype": subtype, "channel": "D1", "user": "U1",
            "text": "x", "ts": "3.0", "channel_type": "im", "hidden": true}));
        assert!(ignored(translate(&e, &bot())).contains("subtype"), "{subtype}");
    }
    let broadcast =
        callback(json!({"type": "message", "subtype": "thread_broadcast", "channel": "C1",
        "user": "U1", "text": "also", "ts": "4.0", "thread_ts": "1.0", "channel_type": "channel"}));
    let thread = Place::within(PlaceKind::Thread, "1.0", Some("C1".into()));
    assert_eq!(msg(translate(&broadcast, &bot())).facts.place, thread);
}

#[test]
fn reactions_name_the_reacted_message() {
    let body = callback(json!({
        "type": "reaction_added", "user": "U123ABC456", "reaction": "thumbsup",
        "item_user": "UBOT", "item": {"type": "message", "channel": "C123ABC456", "ts": "1464196127.000002"},
        "event_ts": "1465244570.336841"
    }));
    match translate(&body, &bot()) {
        Translated::Reaction(r) => {
            assert!(r.added);
            assert_eq!(r.emoji, "thumbsup");
            assert_eq!(r.message.as_str(), "slack:T0001:C123ABC456:1464196127.000002");
            assert_eq!(r.user.as_str(), "slack:T0001:U123ABC456");
            assert_eq!(r.user_kind, Speaker::Person);
        }
        other => panic!("{other:?}"),
    }
    let toned = callback(json!({"type": "reaction_added", "user": "U1",
        "reaction": "+1::skin-tone-3", "item": {"type": "message", "channel": "C1", "ts": "1.0"},
        "event_ts": "2.0"}));
    match translate(&toned, &bot()) {
        Translated::Reaction(r) => assert_eq!(r.emoji, "+1", "the skin tone is dropped"),
        other => panic!("{other:?}"),
    }
    let file = callback(json!({"type": "reaction_removed", "user": "U1", "reaction": "+1",
        "item": {"type": "file", "file": "F1"}, "event_ts": "1.0"}));
    assert!(ignored(translate(&file, &bot())).contains("other than a message"));
}

#[test]
fn malformed_payloads_are_ignored_not_errors() {
    for body in [
        json!(null),
        json!({}),
        json!({"type": "event_callback"}),
        json!([1, 2]),
        callback(json!({"type": "message"})),
        callback(json!({"type": "reaction_added", "user": 5})),
    ] {
        ignored(translate(&body, &bot()));
    }
}

#[test]
fn plain_text_makes_slack_markup_readable() {
    let table = [
        ("<@UBOT> hi", "hi"),
        ("ask <@U42> or <@U43|jane>", "ask @U42 or jane"),
        ("see <#C1|general>", "see #general"),
        ("<!here> help", "@here help"),
        (
            "go to <https://x.com|the site> or <https://y.com>",
            "go to the site (https://x.com) or https://y.com",
        ),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("unclosed <tag", "unclosed <tag"),
        ("line 1\nline 2", "line 1\nline 2"),
    ];
    for (input, expected) in table {
        assert_eq!(plain_text(input, "UBOT"), expected, "{input}");
    }
}

#[test]
fn permalinks_follow_slacks_format() {
    assert_eq!(
        permalink("https://acme.slack.com/", "C1", "1355517523.000005", None),
        "https://acme.slack.com/archives/C1/p1355517523000005"
    );
    assert_eq!(
        permalink("https://acme.slack.com/", "C1", "2.000002", Some("1.000001")),
        "https://acme.slack.com/archives/C1/p2000002?thread_ts=1.000001&cid=C1"
    );
}

/// A mention of the bot in `channel`, optionally inside a thread.
fn mention_in(channel: &str, thread_ts: Option<&str>) -> Value {
    let mut e = json!({"type": "app_mention", "user": "U1", "text": "<@UBOT> refunds?",
        "ts": "1.000200", "channel": channel});
    if let Some(t) = thread_ts {
        e["thread_ts"] = json!(t);
    }
    callback(e)
}

#[test]
fn direct_messages_are_places_of_their_own_even_in_an_app_mention() {
    // `app_mention` has no `channel_type`; the `D` of the id says it is a DM, which the
    // channel lists never apply to.
    let m = msg(translate(&mention_in("D024BE91L", None), &bot()));
    assert_eq!(m.facts.place, Place::new(PlaceKind::Dm, "D024BE91L"));
    let m = msg(translate(&mention_in("CALLOWED", Some("1.000100")), &bot()));
    let thread = Place::within(PlaceKind::Thread, "1.000100", Some("CALLOWED".into()));
    assert_eq!(m.facts.place, thread);
}
