//! What the bot does with a Discord message, decided in pure functions.
//!
//! The event handlers gather facts (where the message is, who it mentions) and these
//! functions decide; the core then applies its own rules on top (the bot's own and other
//! bots' messages, thread replies answered only in threads with a conversation,
//! de-duplication). Keeping the Discord-specific rules here makes them table-testable.

use crate::bridge::channels::ChannelPolicy;
use crate::bridge::event::Trigger;
use std::collections::HashSet;

/// Longest thread name Discord accepts.
pub const MAX_THREAD_NAME_CHARS: usize = 100;

/// Where a message was posted, as far as the decision cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// A direct message channel.
    Dm {
        /// The DM channel.
        channel: u64,
    },
    /// A thread, or a post in a forum (which is a thread too).
    Thread {
        /// The thread.
        id: u64,
        /// The channel or forum it belongs to, when known.
        parent: Option<u64>,
    },
    /// A text or announcement channel, where the bot can start a thread on a message.
    Threadable {
        /// The channel.
        id: u64,
    },
    /// Any other channel with messages (a voice channel's chat, a stage): no threads,
    /// so a mention is answered in place.
    Other {
        /// The channel.
        id: u64,
    },
}

/// The facts about one message that the decision needs.
#[derive(Clone, Debug)]
pub(crate) struct Facts<'a> {
    /// Where it was posted.
    pub place: Place,
    /// Its id (a forum post's first message has the id of the post).
    pub message_id: u64,
    /// A user's message (default or reply); false for system messages (joins, pins,
    /// boosts, thread-created notices) and application command messages.
    pub user_content: bool,
    /// It mentions the bot (directly or through the bot's role).
    pub mentions_bot: bool,
    /// It mentions another user, a role or `@everyone`/`@here`.
    pub mentions_others: bool,
    /// Its text with the bot's mention removed.
    pub text: &'a str,
}

/// Where the answer goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// In the channel (thread, post or DM) the message is in.
    InPlace(u64),
    /// In a new public thread started from the message (its id is the message's id).
    NewThread {
        /// The channel the message is in.
        parent: u64,
        /// The message, which becomes the thread's starter.
        message: u64,
    },
}

/// Why a message is not handed to the core at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A system message (join, pin, boost, thread created) or a command message.
    System,
    /// Nothing to ask: only the bot's mention, or only attachments.
    Empty,
    /// A channel message that neither mentions the bot nor is in an auto-respond channel.
    NotForBot,
    /// A message in an auto-respond channel addressed to someone else.
    AddressedToOthers,
    /// A message the bot would answer, in a channel (or a thread or post of one) that
    /// `discord.allow_channels` / `discord.deny_channels` exclude.
    ChannelNotAllowed,
}

/// What to do with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Nothing.
    Skip(Skip),
    /// `/new` or `!new` in a DM: forget the DM's conversation.
    ResetDm {
        /// The DM channel.
        channel: u64,
    },
    /// Hand it to the core.
    Answer {
        /// Why it may be for the bot.
        trigger: Trigger,
        /// Where the answer goes.
        target: Target,
    },
}

/// Decides what a message means for the bot. `auto_respond` holds the channel and forum
/// ids where the bot answers without a mention.
///
/// - In a DM everything is a question, and `/new` or `!new` starts a fresh conversation.
/// - In a text or announcement channel, a mention, or any message in an auto-respond
///   channel (unless it mentions someone else), gets a new thread.
/// - In a thread, a mention is answered; the first message of a post in an
///   auto-respond forum is answered; anything else is a follow-up that the core answers
///   only when the thread has a conversation.
pub(crate) fn route(f: &Facts<'_>, auto_respond: &HashSet<u64>) -> Route {
    if !f.user_content {
        return Route::Skip(Skip::System);
    }
    let answer = |trigger, target| Route::Answer { trigger, target };
    let route = match f.place {
        Place::Dm { channel } if is_new_command(f.text) => return Route::ResetDm { channel },
        Place::Dm { channel } => answer(Trigger::Direct, Target::InPlace(channel)),
        Place::Thread { id, .. } if f.mentions_bot => answer(Trigger::Mention, Target::InPlace(id)),
        // A forum post's first message has the post's id.
        Place::Thread { id, parent: Some(p) }
            if f.message_id == id && auto_respond.contains(&p) =>
        {
            answer(Trigger::AutoRespond, Target::InPlace(id))
        }
        Place::Thread { id, .. } => {
            answer(Trigger::ThreadReply { mentions_others: f.mentions_others }, Target::InPlace(id))
        }
        Place::Threadable { id } => {
            let target = Target::NewThread { parent: id, message: f.message_id };
            if f.mentions_bot {
                answer(Trigger::Mention, target)
            } else if !auto_respond.contains(&id) {
                Route::Skip(Skip::NotForBot)
            } else if f.mentions_others {
                Route::Skip(Skip::AddressedToOthers)
            } else {
                answer(Trigger::AutoRespond, target)
            }
        }
        Place::Other { id } if f.mentions_bot => answer(Trigger::Mention, Target::InPlace(id)),
        Place::Other { .. } => Route::Skip(Skip::NotForBot),
    };
    if matches!(route, Route::Answer { .. }) && f.text.trim().is_empty() {
        return Route::Skip(Skip::Empty);
    }
    route
}

/// Applies `discord.allow_channels` / `discord.deny_channels` to [`route`]'s decision for
/// a message at `place`: whatever the bot would do there becomes
/// [`Skip::ChannelNotAllowed`] when the lists exclude the place. A skip keeps its own
/// reason (the message was not for the bot anyway), and a DM is not a channel, so the
/// lists never apply to it.
///
/// A thread or forum post goes by its own id and its parent's, because people list
/// channels and forums, not threads: it is allowed when either is allowed and denied when
/// either is denied. A thread whose parent is unknown goes by its own id only, so an
/// allow list keeps it out.
pub(crate) fn screen(route: Route, place: Place, channels: &ChannelPolicy) -> Route {
    if matches!(route, Route::Skip(_)) {
        return route;
    }
    let ids: Vec<String> = match place {
        Place::Dm { .. } => return route,
        Place::Thread { id, parent } => {
            std::iter::once(id).chain(parent).map(|i| i.to_string()).collect()
        }
        Place::Threadable { id } | Place::Other { id } => vec![id.to_string()],
    };
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    if channels.permits(&ids) {
        route
    } else {
        Route::Skip(Skip::ChannelNotAllowed)
    }
}

/// Whether a DM asks for a new conversation.
pub(crate) fn is_new_command(text: &str) -> bool {
    matches!(text.trim().to_lowercase().as_str(), "/new" | "!new")
}

/// The message text without the bot's mentions (`<@id>`, `<@!id>` and the bot's roles
/// `<@&role>`), trimmed.
pub(crate) fn strip_bot_mentions(content: &str, bot: u64, bot_roles: &[u64]) -> String {
    let mut text = content.replace(&format!("<@{bot}>"), "").replace(&format!("<@!{bot}>"), "");
    for role in bot_roles {
        text = text.replace(&format!("<@&{role}>"), "");
    }
    // Spacing elsewhere is the user's (indented code, say), so only the ends are trimmed.
    text.trim().to_string()
}

/// The question of a forum post: its title, then its first message (a post's title is
/// often the whole question).
pub(crate) fn forum_question(title: &str, content: &str) -> String {
    match (title.trim(), content.trim()) {
        ("", c) => c.to_string(),
        (t, "") => t.to_string(),
        (t, c) => format!("{t}\n\n{c}"),
    }
}

/// A thread name from the question: one line, at most [`MAX_THREAD_NAME_CHARS`]
/// characters, cut at a word with an ellipsis; `Question from {author}` when the
/// question has no text.
pub(crate) fn thread_name(question: &str, author: &str) -> String {
    let one_line = question.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = if one_line.is_empty() { format!("Question from {author}") } else { one_line };
    if name.chars().count() <= MAX_THREAD_NAME_CHARS {
        return name;
    }
    let head: String = name.chars().take(MAX_THREAD_NAME_CHARS - 1).collect();
    let cut = match head.rfind(' ') {
        Some(i) if i >= MAX_THREAD_NAME_CHARS / 2 => head[..i].trim_end().to_string(),
        _ => head,
    };
    format!("{cut}…")
}

/// `#channel in Server` for the SiteAssist dashboard; `Discord DM` for a DM.
pub(crate) fn context_title(guild: Option<&str>, channel: Option<&str>) -> String {
    match (guild, channel) {
        (None, _) => "Discord DM".to_string(),
        (Some(g), Some(c)) => format!("#{c} in {g}"),
        (Some(g), None) => format!("Discord server {g}"),
    }
}

/// The link that opens a message in Discord.
pub(crate) fn message_link(guild: Option<u64>, channel: u64, message: u64) -> String {
    let guild = guild.map_or_else(|| "@me".to_string(), |g| g.to_string());
    format!("https://discord.com/channels/{guild}/{channel}/{message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Trigger::{AutoRespond, Direct, Mention, ThreadReply};

    const CHANNEL: u64 = 100;
    const AUTO: u64 = 200;
    const FORUM: u64 = 300;

    fn facts(place: Place, message_id: u64, bot: bool, others: bool, text: &str) -> Facts<'_> {
        Facts {
            place,
            message_id,
            user_content: true,
            mentions_bot: bot,
            mentions_others: others,
            text,
        }
    }

    #[test]
    fn routing_table() {
        let auto: HashSet<u64> = [AUTO, FORUM].into();
        let text = Place::Threadable { id: CHANNEL };
        let auto_text = Place::Threadable { id: AUTO };
        let thread = Place::Thread { id: 5, parent: Some(CHANNEL) };
        let post = Place::Thread { id: 7, parent: Some(FORUM) };
        let other_post = Place::Thread { id: 8, parent: Some(9) };
        let dm = Place::Dm { channel: 4 };
        let new_thread = |parent, message| Target::NewThread { parent, message };
        let answer = |trigger, target| Route::Answer { trigger, target };
        let reply = |others| ThreadReply { mentions_others: others };
        // (place, message id, mentions bot, mentions others, text) -> route
        let table = [
            (text, 1, true, false, "hi", answer(Mention, new_thread(CHANNEL, 1))),
            (text, 1, true, true, "hi", answer(Mention, new_thread(CHANNEL, 1))),
            (text, 1, false, false, "hi", Route::Skip(Skip::NotForBot)),
            (text, 1, true, false, "  ", Route::Skip(Skip::Empty)),
            (auto_text, 2, false, false, "hi", answer(AutoRespond, new_thread(AUTO, 2))),
            (auto_text, 2, false, true, "hi @bob", Route::Skip(Skip::AddressedToOthers)),
            (auto_text, 2, true, true, "hi", answer(Mention, new_thread(AUTO, 2))),
            (thread, 6, false, false, "more", answer(reply(false), Target::InPlace(5))),
            (thread, 6, false, true, "@bob?", answer(reply(true), Target::InPlace(5))),
            (thread, 6, true, false, "more", answer(Mention, Target::InPlace(5))),
            (post, 7, false, false, "help", answer(AutoRespond, Target::InPlace(7))),
            (post, 70, false, false, "more", answer(reply(false), Target::InPlace(7))),
            (other_post, 8, false, false, "help", answer(reply(false), Target::InPlace(8))),
            (other_post, 8, true, false, "help", answer(Mention, Target::InPlace(8))),
            (dm, 3, false, false, "hello", answer(Direct, Target::InPlace(4))),
            (dm, 3, false, false, "/new", Route::ResetDm { channel: 4 }),
            (dm, 3, false, false, " !NEW ", Route::ResetDm { channel: 4 }),
            (dm, 3, false, false, "", Route::Skip(Skip::Empty)),
            (Place::Other { id: 9 }, 3, true, false, "q", answer(Mention, Target::InPlace(9))),
            (Place::Other { id: 9 }, 3, false, false, "q", Route::Skip(Skip::NotForBot)),
        ];
        for (place, id, bot, others, text, expected) in table {
            let f = facts(place, id, bot, others, text);
            assert_eq!(route(&f, &auto), expected, "{f:?}");
        }
    }

    #[test]
    fn system_messages_are_skipped_everywhere() {
        for place in [Place::Dm { channel: 1 }, Place::Threadable { id: AUTO }] {
            let f = Facts { user_content: false, ..facts(place, 1, true, false, "hi") };
            assert_eq!(route(&f, &[AUTO].into()), Route::Skip(Skip::System));
        }
    }

    #[test]
    fn channel_lists_screen_what_the_bot_would_do() {
        const THREAD: u64 = 5;
        let auto: HashSet<u64> = [AUTO, FORUM].into();
        let policy = |allow: &[u64], deny: &[u64]| {
            ChannelPolicy::new(allow.iter().map(u64::to_string), deny.iter().map(u64::to_string))
        };
        let text = Place::Threadable { id: CHANNEL };
        let thread = Place::Thread { id: THREAD, parent: Some(CHANNEL) };
        let orphan = Place::Thread { id: THREAD, parent: None };
        let post = Place::Thread { id: 7, parent: Some(FORUM) };
        let other = Place::Other { id: CHANNEL };
        let dm = Place::Dm { channel: 4 };
        let not_allowed = Route::Skip(Skip::ChannelNotAllowed);
        // (place, text, mentions bot, allow, deny) -> skipped for the channel lists
        type Ids = &'static [u64];
        let table: &[(Place, &str, bool, Ids, Ids, bool)] = &[
            (text, "hi", true, &[], &[], false),
            (text, "hi", true, &[CHANNEL], &[], false),
            (text, "hi", true, &[AUTO], &[], true),
            (text, "hi", true, &[], &[CHANNEL], true),
            (text, "hi", true, &[CHANNEL], &[CHANNEL], true),
            (other, "hi", true, &[AUTO], &[], true),
            (other, "hi", true, &[CHANNEL], &[], false),
            // A thread counts as its parent: the parent listed is enough, either way.
            (thread, "more", false, &[CHANNEL], &[], false),
            (thread, "more", false, &[THREAD], &[], false),
            (thread, "more", false, &[AUTO], &[], true),
            (thread, "more", true, &[], &[CHANNEL], true),
            (thread, "more", true, &[], &[THREAD], true),
            (thread, "more", true, &[CHANNEL], &[THREAD], true),
            (orphan, "more", true, &[CHANNEL], &[], true),
            (orphan, "more", true, &[THREAD], &[], false),
            // A post in an auto-respond forum, when the forum is allowed or denied.
            (post, "help", false, &[FORUM], &[], false),
            (post, "help", false, &[], &[FORUM], true),
            // DMs are not channels.
            (dm, "hello", false, &[CHANNEL], &[4], false),
            (dm, "/new", false, &[CHANNEL], &[4], false),
        ];
        for (place, text, bot, allow, deny, skipped) in table {
            let f = facts(*place, 7, *bot, false, text);
            let routed = route(&f, &auto);
            assert!(matches!(routed, Route::Answer { .. } | Route::ResetDm { .. }), "{f:?}");
            let screened = screen(routed, *place, &policy(allow, deny));
            let expected = if *skipped { not_allowed } else { routed };
            assert_eq!(screened, expected, "{f:?}, allow {allow:?}, deny {deny:?}");
        }
        // What the bot would not do anyway keeps its reason.
        let plain = route(&facts(text, 1, false, false, "hi"), &auto);
        assert_eq!(screen(plain, text, &policy(&[], &[CHANNEL])), Route::Skip(Skip::NotForBot));
    }

    #[test]
    fn bot_mentions_are_removed() {
        let table = [
            ("<@42> how do I reset?", "how do I reset?"),
            ("hey <@!42> what\n  now", "hey  what\n  now"),
            ("<@&7> prices?", "prices?"),
            ("<@43> is not me", "<@43> is not me"),
            ("<@42>", ""),
        ];
        for (content, expected) in table {
            assert_eq!(strip_bot_mentions(content, 42, &[7]), expected, "{content}");
        }
    }

    #[test]
    fn thread_names_fit_discord() {
        assert_eq!(
            thread_name("How do I\nreset   my password?", "ann"),
            "How do I reset my password?"
        );
        assert_eq!(thread_name("   ", "ann"), "Question from ann");
        let long = "word ".repeat(40);
        let name = thread_name(&long, "ann");
        assert!(name.chars().count() <= MAX_THREAD_NAME_CHARS, "{name}");
        assert!(name.ends_with("word…"), "{name}");
        let unbroken = "x".repeat(150);
        let name = thread_name(&unbroken, "ann");
        assert_eq!(name.chars().count(), MAX_THREAD_NAME_CHARS);
        assert!(name.ends_with('…'));
        let emoji = "🙂".repeat(120);
        assert_eq!(thread_name(&emoji, "a").chars().count(), MAX_THREAD_NAME_CHARS);
        assert_eq!(thread_name(&"y".repeat(100), "a"), "y".repeat(100));
    }

    #[test]
    fn context_for_the_dashboard() {
        assert_eq!(context_title(Some("Acme"), Some("support")), "#support in Acme");
        assert_eq!(context_title(Some("Acme"), None), "Discord server Acme");
        assert_eq!(context_title(None, Some("x")), "Discord DM");
        assert_eq!(message_link(Some(1), 2, 3), "https://discord.com/channels/1/2/3");
        assert_eq!(message_link(None, 2, 3), "https://discord.com/channels/@me/2/3");
        assert_eq!(forum_question("Login broken", "since today"), "Login broken\n\nsince today");
        assert_eq!(forum_question("Login broken", " "), "Login broken");
    }
}
