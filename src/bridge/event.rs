//! What adapters hand to the core: platform events translated into one vocabulary.

use super::decide::{Facts, PlaceKind, Speaker};
use super::ids::{ChannelKey, MessageRef, ThreadKey, UserKey, WorkspaceKey};

/// An event from a platform, already translated by its adapter.
#[derive(Clone, Debug)]
pub enum InboundEvent {
    /// Someone wrote something the bot may answer.
    Message(Box<InboundMessage>),
    /// Someone added or removed a reaction on some message.
    Reaction(ReactionEvent),
    /// Someone pressed one of the bot's buttons.
    Button(ButtonPress),
}

/// A user message, translated.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    /// The platform's id for this delivery, used for de-duplication (Slack `event_id`,
    /// a Discord message id, a console counter). Redeliveries of the same event carry
    /// the same id; a redelivery with a new id is still caught by [`Self::message`].
    pub event_id: String,
    /// The user's message itself.
    pub message: MessageRef,
    /// The thread the answer goes to (one thread = one SiteAssist conversation).
    pub thread: ThreadKey,
    /// The channel, for the shared per-channel edit budget and allow/deny lists.
    pub channel: ChannelKey,
    /// The workspace or server, for per-workspace budgets.
    pub workspace: Option<WorkspaceKey>,
    /// The author.
    pub author: UserKey,
    /// Display name of the author, when the platform gave one.
    pub author_name: Option<String>,
    /// What the adapter knows about the message: where, who, whom it addresses. The
    /// core decides from these whether and how to answer.
    pub facts: Facts,
    /// The text with the bot mention removed.
    pub text: String,
    /// Where the question was asked, for the SiteAssist dashboard.
    pub context: MessageContext,
    /// The files attached to it, in the order the platform lists them.
    pub attachments: Vec<super::files::Attachment>,
}

/// Where a question came from, as people name it; sent to SiteAssist as `pageContext`
/// (the dashboard shows it next to the question), its title built by [`Self::title`].
#[derive(Clone, Debug, Default)]
pub struct MessageContext {
    /// A link to the message or thread (Slack permalink, Discord message link).
    pub url: Option<String>,
    /// The channel's name (a thread's or post's parent channel or forum), when known.
    pub place_name: Option<String>,
    /// The workspace's or server's name, when known.
    pub workspace_name: Option<String>,
}

impl MessageContext {
    /// The page title SiteAssist shows for a question asked on `platform` (`Slack`) at a
    /// place of `kind` by `asker`, the same on every platform: `Slack #support in Acme,
    /// asked by Alice`, `Discord direct message, asked by Bob`. (SiteAssist's visitor
    /// API takes no name, so the asker's name travels here.)
    pub fn title(&self, platform: &str, kind: PlaceKind, asker: Option<&str>) -> String {
        let mut title = match (kind, self.place_name.as_deref()) {
            (PlaceKind::Dm, _) => format!("{platform} direct message"),
            (PlaceKind::GroupDm, _) => format!("{platform} group message"),
            (_, Some(name)) => format!("{platform} #{name}"),
            (_, None) => format!("{platform} channel"),
        };
        if let (false, Some(workspace)) = (kind == PlaceKind::Dm, &self.workspace_name) {
            title.push_str(&format!(" in {workspace}"));
        }
        if let Some(asker) = asker {
            title.push_str(&format!(", asked by {asker}"));
        }
        title
    }
}

/// A press on a button under a bot message (see [`super::controls`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ButtonPress {
    /// The platform's id for this press (Discord's interaction id, Slack's action
    /// timestamp with the message), for de-duplication: a replayed press is ignored.
    pub event_id: String,
    /// The bot message the button is on.
    pub message: MessageRef,
    /// Who pressed it.
    pub user: UserKey,
    /// What the button asks for.
    pub action: super::controls::ButtonAction,
}

/// A reaction added to or removed from a message.
#[derive(Clone, Debug)]
pub struct ReactionEvent {
    /// The platform's delivery id, for de-duplication.
    pub event_id: String,
    /// The message that was reacted to.
    pub message: MessageRef,
    /// Who reacted.
    pub user: UserKey,
    /// Whether the reacting user is a bot (including this one).
    pub user_kind: Speaker,
    /// The emoji as the platform names it: a shortcode without colons (`+1`, `thumbsup`),
    /// a Unicode emoji (`👍`), or a custom emoji's name.
    pub emoji: String,
    /// True when added, false when removed.
    pub added: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_titles_read_the_same_on_every_platform() {
        let at = |place: Option<&str>, workspace: Option<&str>| MessageContext {
            url: None,
            place_name: place.map(Into::into),
            workspace_name: workspace.map(Into::into),
        };
        let table = [
            (
                at(Some("support"), Some("Acme")),
                PlaceKind::Channel,
                Some("Alice"),
                "Slack #support in Acme, asked by Alice",
            ),
            (
                at(Some("support"), None),
                PlaceKind::Thread,
                Some("Alice"),
                "Slack #support, asked by Alice",
            ),
            (at(Some("help"), Some("Acme")), PlaceKind::ForumPost, None, "Slack #help in Acme"),
            (at(None, Some("Acme")), PlaceKind::Channel, None, "Slack channel in Acme"),
            (
                at(None, Some("Acme")),
                PlaceKind::Dm,
                Some("Bob"),
                "Slack direct message, asked by Bob",
            ),
            (
                at(None, Some("Acme")),
                PlaceKind::GroupDm,
                Some("Bob"),
                "Slack group message in Acme, asked by Bob",
            ),
        ];
        for (context, kind, asker, expected) in table {
            assert_eq!(context.title("Slack", kind, asker), expected, "{context:?} {kind:?}");
        }
    }
}
