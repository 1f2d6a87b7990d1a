//! Entry points of the fuzz targets in `fuzz/`, and their property-test twins.
//!
//! Each function takes arbitrary bytes, drives one decoder or renderer the way the
//! bridge does, and panics when an invariant breaks, so a fuzzer reports a wrong answer
//! as well as a crash. The fuzz targets are one-line wrappers; the unit tests below run
//! the same functions on random and on the committed corpus inputs, so the normal test
//! suite keeps them working between fuzzing sessions.
//!
//! Built only for tests and with the `fuzzing` feature: nothing here is API.

use crate::adapters::discord::ingress::{emoji_name, read_message};
use crate::adapters::discord::reading;
use crate::adapters::slack::ingress::{self as slack_ingress, BotIdentity, Translated};
use crate::adapters::slack::signature;
use crate::bridge::decide::{decide, Decision, Place, PlaceKind, PlaceRules};
use crate::bridge::split::invariants::check_invariants;
use crate::siteassist::stream::{decode, AnswerStream, Frame, StreamEvent};
use futures_util::{FutureExt, StreamExt};
use serde_json::Value;
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

/// The SSE / UI-message-stream decoder. The first byte says where the body is cut into
/// network reads; the rest is the body. Where the reads split must not change the
/// frames, and the streamed answer's end must keep the text it showed.
pub fn stream_decoder(data: &[u8]) {
    let Some((&seed, body)) = data.split_first() else { return };
    let whole = frames(vec![body.to_vec()]);
    let split = frames(cut(body, seed));
    assert_eq!(whole, split, "frames depend on where reads split");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(async {
        let reads =
            futures_util::stream::iter(cut(body, seed).into_iter().map(Ok::<_, Infallible>));
        let mut answer = AnswerStream::from_byte_stream(reads, Duration::from_secs(90));
        let mut shown = String::new();
        loop {
            match answer.next_event().await {
                StreamEvent::Text => shown = answer.text(),
                StreamEvent::End(end) => {
                    // The end carries at least what was shown: a partial answer is kept.
                    assert!(end.text.starts_with(&shown), "{shown:?} then {end:?}");
                    break;
                }
            }
        }
    });
}

/// Every frame (or decode error) of `reads`, in order. The reads are all ready, so the
/// stream finishes without a runtime.
fn frames(reads: Vec<Vec<u8>>) -> Vec<Result<Frame, String>> {
    let stream = futures_util::stream::iter(reads.into_iter().map(Ok::<_, Infallible>));
    decode(stream).collect::<Vec<_>>().now_or_never().expect("ready reads decode at once")
}

/// `body` cut into up to four reads at places derived from `seed`.
fn cut(body: &[u8], seed: u8) -> Vec<Vec<u8>> {
    let len = body.len();
    let mut cuts: Vec<usize> =
        (1..=3usize).map(|k| (usize::from(seed).wrapping_mul(k * 7919)) % (len + 1)).collect();
    cuts.sort_unstable();
    let mut reads = Vec::new();
    let mut from = 0;
    for at in cuts.into_iter().chain([len]) {
        reads.push(body[from..at].to_vec());
        from = at;
    }
    reads
}

/// The bot the Slack and Discord targets run as.
const SLACK_BOT: &str = "UBOT";
const DISCORD_BOT: u64 = 1_000;
const DISCORD_BOT_ROLE: u64 = 2_000;

/// Slack payload decoding: an Events API body, as the HTTP endpoint sees it, and the
/// same event through slack-morphism's typed Socket Mode payload serialised back, as
/// Socket Mode delivers it. Also the signature check on the raw bytes.
pub fn slack_payload(data: &[u8]) {
    let bot = BotIdentity { user_id: SLACK_BOT.into(), bot_id: Some("BBOT".into()) };
    // The signature check on these exact bytes: signed right, they verify; with any one
    // byte changed (or one added), they do not.
    let sign = |body: &[u8]| {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"secret").expect("any key length");
        mac.update(b"v0:1700000000:");
        mac.update(body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("v0={hex}")
    };
    let good = sign(data);
    assert_eq!(signature::verify("secret", "1700000000", data, &good, 1_700_000_000), Ok(()));
    let mut tampered = data.to_vec();
    match tampered.first_mut() {
        Some(b) => *b ^= 1,
        None => tampered.push(b'x'),
    }
    assert!(signature::verify("secret", "1700000000", &tampered, &good, 1_700_000_000).is_err());
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    check_slack(slack_ingress::translate(&body, &bot));
    let typed = serde_json::from_value::<slack_morphism::prelude::SlackPushEvent>(body);
    if let Ok(event) = typed {
        let again = serde_json::to_value(event).expect("a decoded event serialises");
        check_slack(slack_ingress::translate(&again, &bot));
    }
}

fn check_slack(translated: Translated) {
    match translated {
        Translated::Message { msg, channel, ts, .. } => {
            assert!(msg.thread.as_str().starts_with("slack:"), "{msg:?}");
            assert!(msg.message.as_str().ends_with(&format!(":{channel}:{ts}")), "{msg:?}");
            assert_eq!(msg.text, msg.text.trim(), "{msg:?}");
        }
        Translated::Reaction(r) => assert!(r.message.as_str().starts_with("slack:")),
        Translated::AssistantThread(_) | Translated::UrlVerification(_) | Translated::Ignore(_) => {
        }
    }
}

/// Discord payload decoding: a gateway frame decoded by serenity as the gateway client
/// does, then read by the adapter at every kind of place a message can be.
pub fn discord_payload(data: &[u8]) {
    use serenity::all::{Event, GatewayEvent};
    let Ok(frame) = serde_json::from_slice::<GatewayEvent>(data) else { return };
    let GatewayEvent::Dispatch(_, event) = frame else { return };
    match event {
        Event::MessageCreate(e) => {
            let msg = e.message;
            let channel = msg.channel_id.get().to_string();
            let rules = PlaceRules {
                auto_respond: HashSet::from([channel.clone()]),
                ..PlaceRules::default()
            };
            let places = [
                (Place::new(PlaceKind::Dm, &channel), false),
                (Place::within(PlaceKind::Thread, "1", Some(channel.clone())), false),
                (Place::within(PlaceKind::ForumPost, &channel, None), true),
                (Place::new(PlaceKind::Channel, &channel), false),
            ];
            for (place, opens) in places {
                let title = opens.then_some("Title");
                let read = read_message(&msg, DISCORD_BOT, &[DISCORD_BOT_ROLE], title);
                assert!(!read.text.contains(&format!("<@{DISCORD_BOT}>")), "{read:?}");
                assert_eq!(read.text, read.text.trim(), "{read:?}");
                let facts = read.facts(place, opens);
                if let Decision::Answer(_) = decide(&facts, &read.text, &rules, true) {
                    assert!(!read.text.is_empty());
                    let name = reading::thread_name(&read.text, &read.author_name);
                    let length = name.chars().count();
                    assert!((1..=reading::MAX_THREAD_NAME_CHARS).contains(&length), "{name:?}");
                }
            }
        }
        Event::ReactionAdd(e) => {
            let _ = emoji_name(&e.reaction.emoji);
        }
        Event::ReactionRemove(e) => {
            let _ = emoji_name(&e.reaction.emoji);
        }
        _ => {}
    }
}

/// The Markdown renderers: Slack's (links are ours, no text lost) and Discord's (no
/// live mention outside code, as Discord reads the rendered text).
pub fn markdown(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    crate::adapters::slack::format::invariants::assert_invariants(text);
    let discord = crate::adapters::discord::format::render(text);
    let prose = discord_prose(&discord);
    let user_or_role = prose.match_indices("<@").any(|(at, _)| {
        prose[at + 2..].starts_with(|c: char| c.is_ascii_digit() || c == '!' || c == '&')
    });
    assert!(!user_or_role, "<@…> left live in {discord:?} (prose: {prose:?})");
    for live in ["@everyone", "@here"] {
        assert!(!prose.contains(live), "{live} left live in {discord:?} (prose: {prose:?})");
    }
}

/// What Discord reads as prose in `text` (where it would highlight a mention), with
/// code and escaped characters blanked out. A model of Discord's parser written apart
/// from the renderer (so the check is not the renderer's own idea of code), after the
/// rules of discord-markdown / simple-markdown: `escape` (`\` before a character that
/// is not a letter, digit or space), `codeBlock` (```` ``` ````…```` ``` ```` anywhere,
/// not only at a line's start, with some non-newline content) and `inlineCode` (a run
/// of backticks, content that does not end in one, the same run again; the opening run
/// may give up backticks to find a match, as the regular expression backtracks; code
/// spans may cross lines).
fn discord_prose(text: &str) -> String {
    let mut prose = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some(escaped) = rest.strip_prefix('\\').and_then(|r| r.chars().next()) {
            if !escaped.is_ascii_alphanumeric() && !escaped.is_whitespace() {
                prose.push('\u{FFFD}');
                i += 1 + escaped.len_utf8();
                continue;
            }
        }
        if let Some(len) = code_block_len(rest).or_else(|| inline_code_len(rest)) {
            prose.push('\u{FFFD}');
            i += len;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        prose.push(c);
        i += c.len_utf8();
    }
    prose
}

/// The length of the code block `text` starts with, if it starts one.
fn code_block_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix("```")?;
    // The first closing fence with some non-newline content before it.
    (1..=body.len()).filter(|&k| body.is_char_boundary(k)).find_map(|k| {
        let closes = body[k..].starts_with("```");
        (closes && body[..k].chars().any(|c| c != '\n')).then_some(3 + k + 3)
    })
}

/// The length of the inline code span `text` starts with, if it starts one.
fn inline_code_len(text: &str) -> Option<usize> {
    let run = text.bytes().take_while(|&b| b == b'`').count();
    (1..=run).rev().find_map(|n| {
        let bytes = text.as_bytes();
        (n + 1..=bytes.len().saturating_sub(n)).find_map(|e| {
            let closes = bytes[e - 1] != b'`'
                && bytes[e..e + n].iter().all(|&b| b == b'`')
                && bytes.get(e + n) != Some(&b'`');
            closes.then_some(e + n)
        })
    })
}

/// The splitter: the first byte is the limit, the rest the answer. Checked once in
/// characters and once with a byte limit that binds before the characters do.
pub fn splitter(data: &[u8]) {
    let Some((&max, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    check_invariants(text, usize::from(max) * 4);
    let bytes = crate::bridge::split::Limit {
        chars: usize::from(max) * 4,
        bytes: Some(usize::from(max) * 2),
    };
    crate::bridge::split::invariants::check_invariants_within(text, bytes);
}

#[cfg(test)]
mod tests;
