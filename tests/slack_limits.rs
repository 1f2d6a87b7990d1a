//! Slack's length limits measured the way Slack measures them, and group DMs: the real
//! Slack adapter and core against the fake Slack (which refuses over-long text by
//! characters and UTF-8 bytes and records any such text as a violation) and the
//! SiteAssist simulator, all on 127.0.0.1.
#![cfg(feature = "slack")]

mod fake_slack;
mod slack_socket;
mod support;

use fake_slack::{FailKind, FakeSlack};
use siteassist_bridge::adapters::slack::format::to_slack;
use siteassist_bridge::simulator::answer_for;
use slack_socket::SocketBridge;

const CHANNEL: &str = "C0SUPPORT";
const USER: &str = "U0ALICE";

/// The bot's messages in the thread under `ts` once the last one ends with `end`.
async fn wait_for_end(slack: &FakeSlack, channel: &str, ts: &str, end: &str) -> Vec<String> {
    slack
        .wait_until("the answer's last part", |f| {
            f.messages_in_thread(channel, ts).last().is_some_and(|(_, t)| t.ends_with(end))
        })
        .await;
    slack.messages_in_thread(channel, ts).into_iter().map(|(_, t)| t).collect()
}

/// Whether `line` is a fence line (CommonMark: up to 3 spaces, then ```).
fn is_fence(line: &str) -> bool {
    line.trim_start_matches(' ').starts_with("```") && line.len() - line.trim_start().len() <= 3
}

/// Checks that `parts` are the answer `expected` split: each has balanced fences, and
/// with the fence lines the splitter added at a cut removed (a closing line ending one
/// part and the reopening line starting the next), they join to `expected` (whitespace at
/// the cuts aside, which the splitter drops).
#[track_caller]
fn assert_parts_join_to(parts: &[String], expected: &str) {
    let mut texts: Vec<Vec<&str>> = parts.iter().map(|p| p.split('\n').collect()).collect();
    for (i, lines) in texts.iter().enumerate() {
        let fences = lines.iter().filter(|l| is_fence(l)).count();
        assert_eq!(fences % 2, 0, "unbalanced fences in part {i}: {}", parts[i]);
    }
    for i in 0..texts.len().saturating_sub(1) {
        let added = texts[i].last().is_some_and(|l| is_fence(l))
            && texts[i + 1].first().is_some_and(|l| is_fence(l))
            && {
                // An added pair only where the original has no fence at that place: the
                // original's fences are one opening and one closing line.
                let closing_then_opening =
                    texts[..=i].iter().flatten().filter(|l| is_fence(l)).count() % 2 == 0;
                closing_then_opening
            };
        if added {
            texts[i].pop();
            texts[i + 1].remove(0);
        }
    }
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let joined: String = texts.iter().map(|l| l.join("\n")).collect::<Vec<_>>().join("\n");
    assert_eq!(squeeze(&joined), squeeze(expected), "the parts do not join to the answer");
}

/// The issue's must-show: a 6,000-character answer of emoji and CJK text reaches the
/// user whole through Slack's byte limit. The fake refuses (and records) any text over
/// 4,000 bytes, so "no violation" is "no msg_too_long ever reached Slack's user".
#[tokio::test(flavor = "multi_thread")]
async fn a_6000_character_answer_of_emoji_and_cjk_arrives_whole_within_the_byte_limit() {
    let sim = support::simulator(0).await;
    let slack = FakeSlack::start().await;
    let bridge = SocketBridge::start(&slack, &sim).await;
    let q = "an answer with emoji, please";
    let answer = to_slack(&answer_for(q));
    assert!(answer.chars().count() >= 6_000 && answer.len() > 15_000, "{}", answer.len());
    let ts = "1700003000.000100";
    let mention = format!("<@UBOT> {q}");
    slack.send_socket_event(fake_slack::app_mention("EvMb", CHANNEL, USER, &mention, ts, None));
    let last_line = answer.trim_end().rsplit('\n').next().unwrap().to_string();
    wait_for_end(&slack, CHANNEL, ts, &last_line).await;
    bridge.settle(CHANNEL, ts).await;
    let parts: Vec<String> =
        slack.messages_in_thread(CHANNEL, ts).into_iter().map(|(_, t)| t).collect();
    // 16 KB in messages of at most 3,900 bytes: at least five, though only about 1,500
    // characters a message.
    assert!(parts.len() >= 5, "{} parts", parts.len());
    for part in &parts {
        assert!(part.len() <= 3_900, "{} bytes", part.len());
    }
    assert_parts_join_to(&parts, &answer);
    // The code block was longer than a message: it was closed and reopened at a cut.
    assert!(parts.iter().any(|p| p.starts_with("```")), "the fence was never repaired");
    let refused: Vec<_> =
        slack.calls().into_iter().filter(|c| c.error.as_deref() == Some("msg_too_long")).collect();
    assert!(refused.is_empty(), "{refused:?}");
    for call in slack.calls_to("chat.update").iter().chain(&slack.calls_to("chat.postMessage")) {
        assert_eq!(call.params["parse"], "none", "{} without parse: none", call.method);
    }
    bridge.stop().await;
}

/// Regression: Slack answered `msg_too_long` to a `chat.update` within the bridge's
/// limits, which the core took for "message gone": it posted the part anew, leaving the
/// refused message as a stale partial answer beside a second copy. Now the refused
/// message is kept as a (shorter) finished part and the answer continues after it, once.
#[tokio::test(flavor = "multi_thread")]
async fn msg_too_long_on_an_update_keeps_the_message_and_continues_once() {
    let sim = support::simulator(3).await;
    let slack = FakeSlack::start().await;
    let bridge = SocketBridge::start(&slack, &sim).await;
    let q = "Tell me everything";
    let answer = to_slack(&answer_for(q));
    let ts = "1700003100.000100";
    let mention = format!("<@UBOT> {q}");
    slack.send_socket_event(fake_slack::app_mention("EvTl", CHANNEL, USER, &mention, ts, None));
    // Once the first words show, the next update (fit by the bridge's count) is refused.
    slack
        .wait_until("the first words", |f| {
            f.messages_in_thread(CHANNEL, ts).first().is_some_and(|(_, t)| t.len() > 40)
        })
        .await;
    let first_ts = slack.messages_in_thread(CHANNEL, ts)[0].0.clone();
    slack.fail_next("chat.update", FailKind::Error("msg_too_long"));
    let last_line = answer.trim_end().rsplit('\n').next().unwrap().to_string();
    wait_for_end(&slack, CHANNEL, ts, &last_line).await;
    bridge.settle(CHANNEL, ts).await;
    assert_eq!(slack.queued_failures(), 0, "the refusal was met");
    let refused = slack.calls_to("chat.update");
    let refused: Vec<_> =
        refused.iter().filter(|c| c.error.as_deref() == Some("msg_too_long")).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    let messages = slack.messages_in_thread(CHANNEL, ts);
    assert_eq!(messages[0].0, first_ts, "the refused message is kept, not replaced");
    let parts: Vec<String> = messages.iter().map(|(_, t)| t.clone()).collect();
    // The "everything" answer is two messages at 3,900; the refused one became a part
    // of at most half that, so the answer takes three or more.
    assert!(parts.len() >= 3, "{parts:#?}");
    assert_parts_join_to(&parts, &answer);
    let posts = slack.calls_to("chat.postMessage").iter().filter(|c| c.error.is_none()).count();
    assert_eq!(posts, parts.len(), "one post per part: nothing posted twice");
    bridge.stop().await;
}

/// Group DMs: a follow-up in a group DM thread (`message.mpim`, no mention) continues
/// the conversation the mention started, as in a channel.
#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_in_a_group_dm_thread_reaches_the_core() {
    let sim = support::simulator(0).await;
    let slack = FakeSlack::start().await;
    let bridge = SocketBridge::start(&slack, &sim).await;
    let group = "G0GROUPDM";
    let ts = "1700003200.000100";
    let q = "How do refunds work?";
    let mention = format!("<@UBOT> {q}");
    slack.send_socket_event(fake_slack::app_mention("EvG1", group, USER, &mention, ts, None));
    let first = to_slack(&answer_for(q));
    wait_for_end(&slack, group, ts, &first).await;
    let q2 = "and how do I reset my password?";
    let follow_up =
        fake_slack::mpim_message("EvG2", group, USER, q2, "1700003201.000100", Some(ts));
    slack.send_socket_event(follow_up);
    wait_for_end(&slack, group, ts, &to_slack(&answer_for(q2))).await;
    bridge.settle(group, ts).await;
    assert_eq!(sim.sim.conversation_count(), 1, "the follow-up joined the conversation");
    assert_eq!(sim.sim.message_posts(), 2);
    bridge.stop().await;
}
