//! The rules as one table: at least one row per rule per kind of place.

use super::*;
use Decision::{Answer, Help, NewConversation, TooLong};
use PlaceKind::{Channel, Dm, ForumPost, GroupDm, Thread};
use Trigger::{AutoRespond, Direct, FollowUp, Mention};

const AUTO: &str = "C_AUTO";
const FORUM: &str = "F_AUTO";
const PLAIN: &str = "C_PLAIN";
const PLAIN_FORUM: &str = "F_PLAIN";

fn rules() -> PlaceRules {
    PlaceRules {
        auto_respond: [AUTO.to_string(), FORUM.to_string()].into(),
        max_question_chars: 20,
        ..PlaceRules::default()
    }
}

fn ignore(why: Ignored) -> Decision {
    Decision::Ignore(why)
}

/// One row: a place, what is true of the message, its text, whether the thread has a
/// conversation, and the decision.
struct Row {
    place: Place,
    speaker: Speaker,
    mentions_bot: bool,
    addresses_others: bool,
    opens_thread: bool,
    text: &'static str,
    in_thread_of_bot: bool,
    attachments: usize,
    expected: Decision,
}

fn dm() -> Place {
    Place::new(Dm, "D1")
}
fn group() -> Place {
    Place::new(GroupDm, "G1")
}
fn channel(id: &str) -> Place {
    Place::new(Channel, id)
}
fn thread(parent: &str) -> Place {
    Place::within(Thread, "T1", Some(parent.to_string()))
}
fn post(forum: &str) -> Place {
    Place::within(ForumPost, "P1", Some(forum.to_string()))
}

/// A person's plain message.
fn row(place: Place, text: &'static str, expected: Decision) -> Row {
    Row {
        place,
        speaker: Speaker::Person,
        mentions_bot: false,
        addresses_others: false,
        opens_thread: false,
        text,
        in_thread_of_bot: false,
        attachments: 0,
        expected,
    }
}

impl Row {
    fn mention(self) -> Self {
        Self { mentions_bot: true, ..self }
    }
    fn addressing_others(self) -> Self {
        Self { addresses_others: true, ..self }
    }
    fn opening(self) -> Self {
        Self { opens_thread: true, ..self }
    }
    fn bots_thread(self) -> Self {
        Self { in_thread_of_bot: true, ..self }
    }
    fn with_files(self) -> Self {
        Self { attachments: 1, ..self }
    }
    fn by(self, speaker: Speaker) -> Self {
        Self { speaker, ..self }
    }
    fn facts(&self) -> Facts {
        Facts {
            place: self.place.clone(),
            speaker: self.speaker,
            mentions_bot: self.mentions_bot,
            addresses_others: self.addresses_others,
            opens_thread: self.opens_thread,
            command: Command::parse(self.text),
            attachments: self.attachments,
        }
    }
}

#[test]
fn the_rules_table() {
    let long = "x".repeat(21).leak();
    let table = vec![
        // 1. Who said it: the same in every place.
        row(dm(), "hi", ignore(Ignored::FromSelf)).by(Speaker::SelfBot),
        row(channel(PLAIN), "hi", ignore(Ignored::FromSelf)).mention().by(Speaker::SelfBot),
        row(dm(), "hi", ignore(Ignored::FromBot)).by(Speaker::Bot),
        row(thread(PLAIN), "hi", ignore(Ignored::FromBot)).mention().by(Speaker::Bot),
        row(channel(AUTO), "hi", ignore(Ignored::FromBot)).by(Speaker::Webhook),
        row(group(), "hi", ignore(Ignored::FromBot)).mention().by(Speaker::Webhook),
        row(channel(AUTO), "hi", ignore(Ignored::System)).by(Speaker::System),
        row(post(FORUM), "hi", ignore(Ignored::System)).opening().by(Speaker::System),
        // 2. Triggers, per place.
        row(dm(), "hi", Answer(Direct)),
        row(dm(), "hi @bob", Answer(Direct)).addressing_others(),
        row(group(), "hi", Answer(Mention)).mention(),
        row(group(), "hi", ignore(Ignored::NotForBot)),
        row(channel(PLAIN), "hi", Answer(Mention)).mention(),
        row(channel(PLAIN), "hi", ignore(Ignored::NotForBot)),
        row(channel(AUTO), "hi", Answer(AutoRespond)),
        row(channel(AUTO), "hi", Answer(Mention)).mention(),
        row(thread(PLAIN), "hi", Answer(Mention)).mention(),
        row(thread(PLAIN), "more", Answer(FollowUp)).bots_thread(),
        row(thread(PLAIN), "more", ignore(Ignored::NotForBot)),
        // A thread in an auto-respond channel is not answered unless the bot is in it.
        row(thread(AUTO), "more", ignore(Ignored::NotForBot)),
        row(post(FORUM), "help me", Answer(AutoRespond)).opening(),
        row(post(FORUM), "more", ignore(Ignored::NotForBot)),
        row(post(FORUM), "more", Answer(FollowUp)).bots_thread(),
        row(post(PLAIN_FORUM), "help me", ignore(Ignored::NotForBot)).opening(),
        row(post(PLAIN_FORUM), "help me", Answer(Mention)).opening().mention(),
        // 3. Addressed to someone else: only the triggers that need no mention yield.
        row(channel(AUTO), "hi @bob", ignore(Ignored::AddressedToOthers)).addressing_others(),
        row(channel(AUTO), "@bob see", Answer(Mention)).addressing_others().mention(),
        row(channel(PLAIN), "@bob see", Answer(Mention)).addressing_others().mention(),
        row(thread(PLAIN), "@bob?", ignore(Ignored::AddressedToOthers))
            .addressing_others()
            .bots_thread(),
        row(thread(PLAIN), "@bob?", Answer(Mention)).addressing_others().mention().bots_thread(),
        row(post(FORUM), "@bob?", ignore(Ignored::AddressedToOthers)).addressing_others().opening(),
        row(group(), "@bob?", Answer(Mention)).addressing_others().mention(),
        // 5. Commands, where the bot would answer.
        row(dm(), "/new", NewConversation),
        row(dm(), " !NEW ", NewConversation),
        row(dm(), "/help", Help),
        row(dm(), "!help", Help),
        row(dm(), "/news", Answer(Direct)),
        row(dm(), "new", Answer(Direct)),
        row(group(), "/new", NewConversation).mention(),
        row(group(), "/new", ignore(Ignored::NotForBot)),
        row(channel(PLAIN), "!new", Help).mention(),
        row(channel(PLAIN), "!help", Help).mention(),
        row(channel(PLAIN), "!new", ignore(Ignored::NotForBot)),
        row(channel(AUTO), "!new", Help),
        row(thread(PLAIN), "!new", NewConversation).bots_thread(),
        row(thread(PLAIN), "!new", NewConversation).mention(),
        row(thread(PLAIN), "!new", ignore(Ignored::NotForBot)),
        row(thread(PLAIN), "/help", Help).bots_thread(),
        row(post(FORUM), "!new", NewConversation).bots_thread(),
        row(post(FORUM), "/help", Help).opening(),
        // 6. Empty and over-long questions.
        row(dm(), "  ", ignore(Ignored::Empty)),
        row(group(), "", ignore(Ignored::Empty)).mention(),
        row(channel(PLAIN), "", ignore(Ignored::Empty)).mention(),
        row(channel(AUTO), " \n ", ignore(Ignored::Empty)),
        row(thread(PLAIN), "", ignore(Ignored::Empty)).mention(),
        row(thread(PLAIN), "", ignore(Ignored::Empty)).bots_thread(),
        row(post(FORUM), "", ignore(Ignored::Empty)).opening(),
        // Files alone are a question where text would be one, and nothing more.
        row(dm(), "", Answer(Direct)).with_files(),
        row(thread(PLAIN), "", Answer(Mention)).mention().with_files(),
        row(thread(PLAIN), "", Answer(FollowUp)).bots_thread().with_files(),
        row(channel(PLAIN), "", ignore(Ignored::NotForBot)).with_files(),
        row(dm(), long, TooLong { chars: 21 }),
        row(group(), long, TooLong { chars: 21 }).mention(),
        row(channel(AUTO), long, TooLong { chars: 21 }),
        row(thread(PLAIN), long, TooLong { chars: 21 }).bots_thread(),
        row(post(FORUM), long, TooLong { chars: 21 }).opening(),
        // Twenty characters fit; characters are counted, not bytes.
        row(dm(), "ééééééééééééééééééé?", Answer(Direct)),
        // An empty message that is not for the bot keeps that reason.
        row(channel(PLAIN), "", ignore(Ignored::NotForBot)),
        row(thread(PLAIN), "", ignore(Ignored::NotForBot)),
    ];
    for r in &table {
        let got = decide(&r.facts(), r.text, &rules(), r.in_thread_of_bot);
        assert_eq!(got, r.expected, "{:?} saying {:?}", r.facts(), r.text);
    }
    // Every kind of place and every rule has rows.
    for kind in [Dm, GroupDm, Channel, Thread, ForumPost] {
        let rows = table.iter().filter(|r| r.place.kind == kind).count();
        assert!(rows >= 8, "{kind:?} has {rows} rows");
    }
}

#[test]
fn channel_lists_screen_what_the_bot_would_do() {
    let lists = |allow: &[&str], deny: &[&str]| PlaceRules {
        channels: ChannelPolicy::new(allow, deny),
        ..rules()
    };
    let orphan = Place::within(Thread, "T1", None);
    // (place, mentions bot, bot's thread, allow, deny) -> refused by the lists
    type Ids = &'static [&'static str];
    let table: Vec<(Place, bool, bool, Ids, Ids, bool)> = vec![
        (channel(PLAIN), true, false, &[], &[], false),
        (channel(PLAIN), true, false, &[PLAIN], &[], false),
        (channel(PLAIN), true, false, &[AUTO], &[], true),
        (channel(PLAIN), true, false, &[], &[PLAIN], true),
        (channel(PLAIN), true, false, &[PLAIN], &[PLAIN], true),
        (channel(AUTO), false, false, &[], &[AUTO], true),
        // A thread goes by its own id and its parent's: either allowed is enough, either
        // denied refuses.
        (thread(PLAIN), false, true, &[PLAIN], &[], false),
        (thread(PLAIN), false, true, &["T1"], &[], false),
        (thread(PLAIN), false, true, &[AUTO], &[], true),
        (thread(PLAIN), true, false, &[], &[PLAIN], true),
        (thread(PLAIN), true, false, &[PLAIN], &["T1"], true),
        (orphan.clone(), true, false, &[PLAIN], &[], true),
        (orphan, true, false, &["T1"], &[], false),
        (post(FORUM), false, true, &[FORUM], &[], false),
        (post(FORUM), false, true, &[], &[FORUM], true),
        // A group DM is a place people can list; a 1:1 DM is not a channel.
        (group(), true, false, &[PLAIN], &[], true),
        (group(), true, false, &[], &["G1"], true),
        (dm(), false, false, &[PLAIN], &["D1"], false),
    ];
    for (place, mention, bots, allow, deny, refused) in table {
        let f = Facts { mentions_bot: mention, ..Facts::person(place) };
        let open = decide(&f, "hi", &rules(), bots);
        assert!(matches!(open, Answer(_)), "{f:?}");
        let expected = if refused { ignore(Ignored::ChannelNotAllowed) } else { open };
        assert_eq!(
            decide(&f, "hi", &lists(allow, deny), bots),
            expected,
            "{f:?} {allow:?} {deny:?}"
        );
        // Commands are screened too: `/new` in a denied thread is not the bot's business.
        let new = Facts { command: Some(Command::New), ..f.clone() };
        let got = decide(&new, "/new", &lists(allow, deny), bots);
        assert_eq!(got == ignore(Ignored::ChannelNotAllowed), refused, "{new:?}");
    }
    // What the bot would not do anyway keeps its reason.
    let plain = Facts::person(channel(PLAIN));
    assert_eq!(decide(&plain, "hi", &lists(&[], &[PLAIN]), false), ignore(Ignored::NotForBot));
}

#[test]
fn commands_are_whole_messages() {
    let table = [
        ("/new", Some(Command::New)),
        ("!new", Some(Command::New)),
        ("  /NEW\n", Some(Command::New)),
        ("/help", Some(Command::Help)),
        ("!Help", Some(Command::Help)),
        ("new", None),
        ("/new please", None),
        ("//new", None),
        ("!", None),
        ("", None),
    ];
    for (text, expected) in table {
        assert_eq!(Command::parse(text), expected, "{text:?}");
    }
}
