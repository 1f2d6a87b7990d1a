//! Whether and how the bot answers a message, decided once for every platform.
//!
//! Adapters report facts ([`Facts`]: where a message was said, who said it, whom it
//! addresses, whether it is a command); [`decide`] turns them into one [`Decision`]:
//! an answer with its [`Trigger`], a note, or [`Ignored`] with the reason (the one
//! vocabulary of reasons for every platform and every step of the core). The
//! rules are the same on every platform; where a platform cannot express something its
//! adapter never reports that fact (Slack has no forum posts; Discord bots are never in
//! group DMs), and nothing here names a platform.
//!
//! The rules, in order:
//! 1. The bot's own messages, other bots', webhooks' and system messages are ignored.
//! 2. Triggers: a direct message; a mention of the bot (answered where it was said, in a
//!    new thread at a channel's top level); a top-level message in an auto-respond channel,
//!    or the opening message of a post in an auto-respond forum; a follow-up in a thread
//!    the bot is part of (it has a conversation). Anything else is not for the bot.
//! 3. A message that a trigger other than a mention or a DM would answer, but that
//!    mentions someone else, is for them: an auto-respond message to a colleague, or a
//!    thread reply to another person.
//! 4. The channel allow and deny lists turn what the bot would do into
//!    [`Ignored::ChannelNotAllowed`]; a 1:1 direct message is not a channel and is exempt.
//!    What the bot would not do anyway keeps its own reason.
//! 5. Commands (`/new`, `!new`, `/help`, `!help`) where the bot would answer: `new` starts
//!    a new conversation in a DM or thread (a channel's top level always starts one, so
//!    there it gets help), `help` gets help.
//! 6. A question with no text and no file is ignored (files alone are a question: the
//!    asker hears what was read of them); one longer than SiteAssist accepts is refused
//!    with a notice before anything is created.

use super::channels::ChannelPolicy;
use std::collections::HashSet;

/// What kind of place a message was said in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceKind {
    /// A conversation between one person and the bot. Every message is a question.
    Dm,
    /// A direct conversation of several people with the bot: like a channel, the bot
    /// answers when mentioned (Slack multi-person DMs; Discord bots cannot join them).
    GroupDm,
    /// A channel's top level.
    Channel,
    /// A thread in a channel (its parent is the channel).
    Thread,
    /// A post in a forum, itself a thread (its parent is the forum; Discord only).
    ForumPost,
}

/// Where a message was said: the platform's own ids, as people copy them into the
/// channel lists and auto-respond settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The kind of place.
    pub kind: PlaceKind,
    /// The place's id (channel, DM or thread id).
    pub id: String,
    /// The channel or forum a thread or post belongs to, when known.
    pub parent: Option<String>,
}

impl Place {
    /// A place without a parent.
    pub fn new(kind: PlaceKind, id: impl Into<String>) -> Self {
        Self { kind, id: id.into(), parent: None }
    }

    /// A thread or post in `parent` (`None` when the platform did not say).
    pub fn within(kind: PlaceKind, id: impl Into<String>, parent: Option<String>) -> Self {
        Self { kind, id: id.into(), parent }
    }

    fn ids(&self) -> Vec<&str> {
        std::iter::once(self.id.as_str()).chain(self.parent.as_deref()).collect()
    }
}

/// Who said it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaker {
    /// A person.
    Person,
    /// This bot (its own messages echoed back by the platform).
    SelfBot,
    /// Another bot or integration.
    Bot,
    /// A webhook (an integration posting without a bot user).
    Webhook,
    /// The platform itself: joins, pins, boosts, "thread created" notices.
    System,
}

/// A command the bot understands in a message's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start a new SiteAssist conversation in this DM or thread.
    New,
    /// Say how to use the bot.
    Help,
}

impl Command {
    /// The command a message's text (the bot's mention already removed) is, if any:
    /// `/new`, `!new`, `/help` or `!help`, in any case, alone on the message. `!` exists
    /// because Slack's and Discord's clients take a leading `/` for their own commands.
    pub fn parse(text: &str) -> Option<Self> {
        let word = text.trim().to_lowercase();
        match word.strip_prefix('/').or_else(|| word.strip_prefix('!'))? {
            "new" => Some(Self::New),
            "help" => Some(Self::Help),
            _ => None,
        }
    }
}

/// What an adapter knows about one message, free of platform types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Where it was said.
    pub place: Place,
    /// Who said it.
    pub speaker: Speaker,
    /// It mentions the bot (directly, or through a role that stands for the bot).
    pub mentions_bot: bool,
    /// It mentions another person, a role, or everyone: it may be addressed to them.
    pub addresses_others: bool,
    /// It opens the thread it is in (the first message of a forum post).
    pub opens_thread: bool,
    /// The command it is, from [`Command::parse`] on its text.
    pub command: Option<Command>,
    /// How many files are attached: a message of files alone is still a question.
    pub attachments: usize,
}

impl Facts {
    /// A person's message at `place` with no mentions and no command: the common case,
    /// for adapters to adjust and tests to build on.
    pub fn person(place: Place) -> Self {
        Self {
            place,
            speaker: Speaker::Person,
            mentions_bot: false,
            addresses_others: false,
            opens_thread: false,
            command: None,
            attachments: 0,
        }
    }
}

/// One platform's settings that the rules read (each adapter fills them from its config
/// section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceRules {
    /// Channels and forums where the bot answers without a mention.
    pub auto_respond: HashSet<String>,
    /// Where the bot may answer at all.
    pub channels: ChannelPolicy,
    /// Longest question, in characters, SiteAssist accepts.
    pub max_question_chars: usize,
}

impl Default for PlaceRules {
    fn default() -> Self {
        Self {
            auto_respond: HashSet::new(),
            channels: ChannelPolicy::default(),
            max_question_chars: crate::siteassist::model::MAX_CONTENT_CHARS,
        }
    }
}

/// Why the bot answers a message, as [`decide`] found it (for
/// logs; the answer is the same whatever the trigger).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The message mentions the bot.
    Mention,
    /// A direct message to the bot.
    Direct,
    /// A new top-level message in a channel where the bot answers everything, or the
    /// opening message of a post in such a forum.
    AutoRespond,
    /// A message in a thread the bot is part of.
    FollowUp,
}

/// Why an event needs nothing from the bot. An outcome, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The bot's own message or reaction, echoed back by the platform.
    FromSelf,
    /// Another bot, integration or webhook (bots answering bots loop forever).
    FromBot,
    /// A system message: a join, a pin, a boost, a "thread created" notice.
    System,
    /// A message no trigger applies to: a channel message without a mention outside
    /// the auto-respond channels, or a thread reply in a thread the bot is not part of.
    NotForBot,
    /// A message that only an auto-respond channel or a thread would make a question,
    /// but that mentions someone else: it is for them.
    AddressedToOthers,
    /// A message in a channel that the allow and deny lists exclude.
    ChannelNotAllowed,
    /// Nothing to ask: the bot's mention alone.
    Empty,
    /// Longer than SiteAssist accepts; the asker was told so.
    TooLong,
    /// A redelivery of an event or message already handled.
    Duplicate,
    /// A reaction or button press on a message that is not a bot reply.
    NotOurReply,
    /// A reaction that is not a feedback emoji.
    NotFeedbackEmoji,
    /// A reaction or button press from someone other than the asker (with
    /// `feedback_from = "asker"`).
    NotAsker,
    /// A reaction on a reply whose SiteAssist message is not known (yet).
    NoAssistantMessage,
    /// The bridge is shutting down and takes no new work.
    ShuttingDown,
    /// The thread's queue is full; the user was told to wait.
    ThreadBusy,
    /// The asker or the channel is over its question limit (told once, then silent).
    RateLimited,
    /// A Stop press on a reply that is not streaming (finished, or stopped already).
    NotStreaming,
}

impl Ignored {
    /// Every reason, for registering the metrics' label sets at start.
    pub const ALL: [Ignored; 17] = [
        Ignored::FromSelf,
        Ignored::FromBot,
        Ignored::System,
        Ignored::NotForBot,
        Ignored::AddressedToOthers,
        Ignored::ChannelNotAllowed,
        Ignored::Empty,
        Ignored::TooLong,
        Ignored::Duplicate,
        Ignored::NotOurReply,
        Ignored::NotFeedbackEmoji,
        Ignored::NotAsker,
        Ignored::NoAssistantMessage,
        Ignored::ShuttingDown,
        Ignored::ThreadBusy,
        Ignored::RateLimited,
        Ignored::NotStreaming,
    ];

    /// A short label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Ignored::FromSelf => "from_self",
            Ignored::FromBot => "from_bot",
            Ignored::System => "system",
            Ignored::NotForBot => "not_for_bot",
            Ignored::AddressedToOthers => "addressed_to_others",
            Ignored::ChannelNotAllowed => "channel_not_allowed",
            Ignored::Empty => "empty",
            Ignored::TooLong => "too_long",
            Ignored::Duplicate => "duplicate",
            Ignored::NotOurReply => "not_our_reply",
            Ignored::NotFeedbackEmoji => "not_feedback_emoji",
            Ignored::NotAsker => "not_asker",
            Ignored::NoAssistantMessage => "no_assistant_message",
            Ignored::ShuttingDown => "shutting_down",
            Ignored::ThreadBusy => "thread_busy",
            Ignored::RateLimited => "rate_limited",
            Ignored::NotStreaming => "not_streaming",
        }
    }
}

/// What the bot does with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Answer it, and why it is for the bot.
    Answer(Trigger),
    /// Forget the place's conversation; the next question starts a new one.
    NewConversation,
    /// Say how to use the bot.
    Help,
    /// Tell the asker the question is too long, and do nothing else.
    TooLong {
        /// The question's length in characters.
        chars: usize,
    },
    /// Nothing, and why.
    Ignore(Ignored),
}

/// Decides what the bot does with a message that says `text` (the bot's mention removed).
/// `in_thread_of_bot` tells whether the thread it is in has a conversation (the core
/// reads it from the store; it matters only for places that are threads). Pure.
pub fn decide(f: &Facts, text: &str, rules: &PlaceRules, in_thread_of_bot: bool) -> Decision {
    match f.speaker {
        Speaker::Person => {}
        Speaker::SelfBot => return Decision::Ignore(Ignored::FromSelf),
        Speaker::Bot | Speaker::Webhook => return Decision::Ignore(Ignored::FromBot),
        Speaker::System => return Decision::Ignore(Ignored::System),
    }
    let trigger = match trigger(f, rules, in_thread_of_bot) {
        Ok(trigger) => trigger,
        Err(why) => return Decision::Ignore(why),
    };
    if f.place.kind != PlaceKind::Dm && !rules.channels.permits(&f.place.ids()) {
        return Decision::Ignore(Ignored::ChannelNotAllowed);
    }
    match f.command {
        Some(Command::New) if f.place.kind == PlaceKind::Channel => return Decision::Help,
        Some(Command::New) => return Decision::NewConversation,
        Some(Command::Help) => return Decision::Help,
        None => {}
    }
    if text.trim().is_empty() && f.attachments == 0 {
        return Decision::Ignore(Ignored::Empty);
    }
    let chars = text.chars().count();
    if chars > rules.max_question_chars {
        return Decision::TooLong { chars };
    }
    Decision::Answer(trigger)
}

/// Why a message may be for the bot (rules 2 and 3), or why not.
fn trigger(f: &Facts, rules: &PlaceRules, in_thread_of_bot: bool) -> Result<Trigger, Ignored> {
    let auto = |id: Option<&str>| id.is_some_and(|id| rules.auto_respond.contains(id));
    let unless_addressed = |trigger| match f.addresses_others {
        true => Err(Ignored::AddressedToOthers),
        false => Ok(trigger),
    };
    match f.place.kind {
        PlaceKind::Dm => Ok(Trigger::Direct),
        _ if f.mentions_bot => Ok(Trigger::Mention),
        PlaceKind::GroupDm => Err(Ignored::NotForBot),
        PlaceKind::Channel if auto(Some(&f.place.id)) => unless_addressed(Trigger::AutoRespond),
        PlaceKind::Channel => Err(Ignored::NotForBot),
        PlaceKind::Thread | PlaceKind::ForumPost
            if f.opens_thread && auto(f.place.parent.as_deref()) =>
        {
            unless_addressed(Trigger::AutoRespond)
        }
        PlaceKind::Thread | PlaceKind::ForumPost if in_thread_of_bot => {
            unless_addressed(Trigger::FollowUp)
        }
        PlaceKind::Thread | PlaceKind::ForumPost => Err(Ignored::NotForBot),
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

#[cfg(test)]
mod ignored_tests {
    use super::Ignored;
    use std::collections::HashSet;

    #[test]
    fn all_lists_every_reason_once() {
        // Adding a variant breaks this match until it is added here, and to ALL.
        let counted = |i: Ignored| match i {
            Ignored::FromSelf
            | Ignored::FromBot
            | Ignored::System
            | Ignored::NotForBot
            | Ignored::AddressedToOthers
            | Ignored::ChannelNotAllowed
            | Ignored::Empty
            | Ignored::TooLong
            | Ignored::Duplicate
            | Ignored::NotOurReply
            | Ignored::NotFeedbackEmoji
            | Ignored::NotAsker
            | Ignored::NoAssistantMessage
            | Ignored::ShuttingDown
            | Ignored::ThreadBusy
            | Ignored::RateLimited
            | Ignored::NotStreaming => 1,
        };
        assert_eq!(Ignored::ALL.iter().map(|i| counted(*i)).sum::<usize>(), 17);
        let labels: HashSet<&str> = Ignored::ALL.iter().map(|i| i.as_str()).collect();
        assert_eq!(labels.len(), Ignored::ALL.len(), "distinct labels");
    }
}
