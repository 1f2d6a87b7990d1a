//! Payloads as Slack's Events API documentation shows them.

use super::*;
use serde_json::json;

fn rules(auto: &[&str]) -> Rules {
    Rules {
        bot: BotIdentity { user_id: "UBOT".into(), bot_id: Some("BBOT".into()) },
        auto_respond: auto.iter().map(|s| s.to_string()).collect(),
    }
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
    match translate(&body, &rules(&[])) {
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
    let m = msg(translate(&body, &rules(&[])));
    assert_eq!(m.trigger, Trigger::Mention);
    assert_eq!(m.thread.as_str(), "slack:T0001:C123ABC456:1515449522.000016");
    assert_eq!(m.message.as_str(), "slack:T0001:C123ABC456:1515449522.000016");
    assert_eq!(m.text, "how do I reset my password?");
    assert_eq!(m.author.as_str(), "slack:T0001:U061F7AUR");
    assert_eq!(m.author_kind, AuthorKind::Human);
    assert_eq!(m.event_id, "Ev0001");
}

#[test]
fn a_mention_inside_a_thread_answers_in_that_thread() {
    let body = callback(json!({
        "type": "app_mention", "user": "U1", "text": "<@UBOT> and refunds?",
        "ts": "1515449600.000020", "thread_ts": "1515449522.000016", "channel": "C1"
    }));
    assert_eq!(
        msg(translate(&body, &rules(&[]))).thread.as_str(),
        "slack:T0001:C1:1515449522.000016"
    );
}

#[test]
fn thread_replies_without_a_mention_are_follow_ups_unless_addressed_to_someone_else() {
    let reply = |text: &str| {
        callback(json!({
            "type": "message", "channel": "C1", "user": "U1", "text": text,
            "ts": "1515449700.000030", "thread_ts": "1515449522.000016", "channel_type": "channel"
        }))
    };
    let m = msg(translate(&reply("and shipping?"), &rules(&[])));
    assert_eq!(m.trigger, Trigger::ThreadReply { mentions_others: false });
    assert_eq!(m.thread.as_str(), "slack:T0001:C1:1515449522.000016");
    let m = msg(translate(&reply("<@U999> can you check this?"), &rules(&[])));
    assert_eq!(m.trigger, Trigger::ThreadReply { mentions_others: true });
    assert!(ignored(translate(&reply("<@UBOT> again"), &rules(&[]))).contains("app_mention"));
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
    let m = msg(translate(&dm(None), &rules(&[])));
    assert_eq!(m.trigger, Trigger::Direct);
    assert_eq!(m.thread.as_str(), "slack:T0001:D024BE91L");
    let m = msg(translate(&dm(Some("1355517000.000001")), &rules(&[])));
    assert_eq!(m.thread.as_str(), "slack:T0001:D024BE91L:1355517000.000001");
}

#[test]
fn auto_respond_channels_answer_top_level_messages_only() {
    let top = callback(json!({"type": "message", "channel": "CSUP", "user": "U1",
        "text": "my order is late", "ts": "1.000100", "channel_type": "channel"}));
    let m = msg(translate(&top, &rules(&["CSUP"])));
    assert_eq!(m.trigger, Trigger::AutoRespond);
    assert_eq!(m.thread.as_str(), "slack:T0001:CSUP:1.000100");
    assert!(ignored(translate(&top, &rules(&[]))).contains("not addressed"));
}

#[test]
fn bots_edits_deletions_and_other_subtypes_are_not_questions() {
    let own =
        callback(json!({"type": "message", "channel": "D1", "user": "UBOT", "bot_id": "BBOT",
        "text": "Thinking…", "ts": "2.0", "channel_type": "im"}));
    assert_eq!(msg(translate(&own, &rules(&[]))).author_kind, AuthorKind::SelfBot);
    let other = callback(json!({"type": "message", "channel": "D1", "user": "U5", "bot_id": "B5",
        "text": "beep", "ts": "2.1", "channel_type": "im"}));
    assert_eq!(msg(translate(&other, &rules(&[]))).author_kind, AuthorKind::OtherBot);
    for subtype in ["message_changed", "message_deleted", "bot_message", "channel_join"] {
        let e =
            callback(json!({"type": "message", "subtype": subtype, "channel": "D1", "user": "U1",
            "text": "x", "ts": "3.0", "channel_type": "im", "hidden": true}));
        assert!(ignored(translate(&e, &rules(&[]))).contains("subtype"), "{subtype}");
    }
    let broadcast =
        callback(json!({"type": "message", "subtype": "thread_broadcast", "channel": "C1",
        "user": "U1", "text": "also", "ts": "4.0", "thread_ts": "1.0", "channel_type": "channel"}));
    assert_eq!(
        msg(translate(&broadcast, &rules(&[]))).trigger,
        Trigger::ThreadReply { mentions_others: false }
    );
}

#[test]
fn reactions_name_the_reacted_message() {
    let body = callback(json!({
        "type": "reaction_added", "user": "U123ABC456", "reaction": "thumbsup",
        "item_user": "UBOT", "item": {"type": "message", "channel": "C123ABC456", "ts": "1464196127.000002"},
        "event_ts": "1465244570.336841"
    }));
    match translate(&body, &rules(&[])) {
        Translated::Reaction(r) => {
            assert!(r.added);
            assert_eq!(r.emoji, "thumbsup");
            assert_eq!(r.message.as_str(), "slack:T0001:C123ABC456:1464196127.000002");
            assert_eq!(r.user.as_str(), "slack:T0001:U123ABC456");
            assert_eq!(r.user_kind, AuthorKind::Human);
        }
        other => panic!("{other:?}"),
    }
    let file = callback(json!({"type": "reaction_removed", "user": "U1", "reaction": "+1",
        "item": {"type": "file", "file": "F1"}, "event_ts": "1.0"}));
    assert!(ignored(translate(&file, &rules(&[]))).contains("other than a message"));
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
        ignored(translate(&body, &rules(&[])));
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

fn screened(body: &Value, auto: &[&str], allow: &[&str], deny: &[&str]) -> Translated {
    screen(translate(body, &rules(auto)), &ChannelPolicy::new(allow, deny))
}

#[test]
fn channel_lists_decide_which_channels_are_answered() {
    let top = mention_in("CALLOWED", None);
    let in_thread = mention_in("CALLOWED", Some("1.000100"));
    let follow_up = callback(json!({"type": "message", "channel": "CALLOWED", "user": "U1",
        "text": "and shipping?", "ts": "1.000300", "thread_ts": "1.000100",
        "channel_type": "channel"}));
    let auto = callback(json!({"type": "message", "channel": "CALLOWED", "user": "U1",
        "text": "my order is late", "ts": "1.000400", "channel_type": "channel"}));
    // (payload, allow, deny) -> answered; every payload is in channel CALLOWED.
    let table: &[(&Value, &[&str], &[&str], bool)] = &[
        (&top, &[], &[], true),
        (&top, &["CALLOWED"], &[], true),
        (&top, &["COTHER"], &[], false),
        (&top, &[], &["CALLOWED"], false),
        (&top, &[], &["COTHER"], true),
        (&top, &["CALLOWED"], &["CALLOWED"], false),
        (&in_thread, &["CALLOWED"], &[], true),
        (&in_thread, &[], &["CALLOWED"], false),
        (&follow_up, &["CALLOWED"], &[], true),
        (&follow_up, &["COTHER"], &[], false),
        (&auto, &["CALLOWED"], &[], true),
        (&auto, &[], &["CALLOWED"], false),
    ];
    for (i, (body, allow, deny, answered)) in table.iter().enumerate() {
        match screened(body, &["CALLOWED"], allow, deny) {
            Translated::Message { channel, .. } => {
                assert!(answered, "row {i}: answered");
                assert_eq!(channel, "CALLOWED");
            }
            Translated::Ignore(why) => {
                assert!(!answered, "row {i}: ignored ({why})");
                assert_eq!(why, CHANNEL_NOT_ALLOWED, "row {i}");
            }
            other => panic!("row {i}: {other:?}"),
        }
    }
}

#[test]
fn other_reasons_to_ignore_keep_their_own_reason() {
    // Not for the bot anyway: the log says so, not "channel not allowed".
    let chatter = callback(json!({"type": "message", "channel": "CDENIED", "user": "U1",
        "text": "lunch?", "ts": "1.000500", "channel_type": "channel"}));
    assert!(ignored(screened(&chatter, &[], &[], &["CDENIED"])).contains("not addressed"));
}

#[test]
fn direct_messages_and_reactions_pass_the_channel_lists() {
    let dm = callback(json!({"type": "message", "channel": "D024BE91L", "user": "U1",
        "text": "hello", "ts": "1.000600", "channel_type": "im"}));
    // An allow list that does not name the DM, even a deny list that does: DMs pass.
    for (allow, deny) in [(&["CALLOWED"][..], &[][..]), (&[], &["D024BE91L"])] {
        assert_eq!(msg(screened(&dm, &[], allow, deny)).trigger, Trigger::Direct);
    }
    // A mention in a DM (no channel_type on app_mention) passes as well.
    let dm_mention = mention_in("D024BE91L", None);
    assert_eq!(msg(screened(&dm_mention, &[], &["CALLOWED"], &[])).trigger, Trigger::Mention);
    // Feedback on an answer in a channel excluded since still counts.
    let reaction = callback(json!({"type": "reaction_added", "user": "U1", "reaction": "+1",
        "item": {"type": "message", "channel": "CDENIED", "ts": "1.000700"}, "event_ts": "2.0"}));
    assert!(matches!(
        screened(&reaction, &[], &["CALLOWED"], &["CDENIED"]),
        Translated::Reaction(_)
    ));
    let check = json!({"token": "x", "challenge": "abc", "type": "url_verification"});
    assert!(matches!(
        screened(&check, &[], &[], &["CDENIED"]),
        Translated::UrlVerification(c) if c == "abc"
    ));
}
