//! Gateway events → [`InboundEvent`]s for the core.
//!
//! serenity runs every event handler in a task of its own, so two events can be handled
//! in either order. The handler here only forwards each event into one queue; a single
//! loop ([`Ingress::run`]) takes them in arrival order, gathers facts, lets
//! [`decide`](super::decide) choose, and hands the result to [`Bridge::handle`]. The
//! loop owns the bridge's handle, so when it stops nothing of the gateway side holds
//! the store any more.

use super::decide::{self, Facts, Place, Route, Skip, Target};
use super::directory::{ChannelInfo, Directory, GuildInfo};
use super::egress::DiscordAdapter;
use super::ids;
use super::rest::Rest;
use crate::bridge::event::{
    AuthorKind, InboundEvent, InboundMessage, MessageContext, ReactionEvent,
};
use crate::bridge::{Bridge, Disposition};
use serenity::all::{
    Context, EventHandler, Guild, GuildChannel, Message, MessageType, PartialGuildChannel,
    Reaction, ReactionType, Ready,
};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};

/// What the adapter did with one gateway event, for observers (logs, tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The gateway session is ready.
    Ready,
    /// A message was handled.
    Message {
        /// Its id.
        id: u64,
        /// What became of it.
        outcome: Outcome,
    },
    /// A reaction was added or removed.
    Reaction {
        /// The message reacted to.
        message: u64,
        /// Added (true) or removed.
        added: bool,
        /// What became of it.
        outcome: Outcome,
    },
}

/// What became of a message or reaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The adapter did not hand it to the core, and why.
    Skipped(Skip),
    /// The core took it: queued or ignored (and why).
    Core(Disposition),
    /// `/new` in a DM: the DM's next question starts a new conversation.
    NewConversation,
    /// The core failed (its store); the event is lost, as Discord does not redeliver.
    Failed(String),
}

/// A gateway event the loop handles.
pub(crate) enum GatewayEvent {
    Ready,
    Guild(Box<Guild>),
    Channel(Box<GuildChannel>),
    ChannelGone(u64),
    Message(Box<Message>),
    Reaction(Box<Reaction>, bool),
}

/// serenity's event handler: forwards into the loop's queue and returns at once.
pub(crate) struct Forwarder {
    pub(crate) tx: mpsc::UnboundedSender<GatewayEvent>,
}

impl Forwarder {
    fn send(&self, event: GatewayEvent) {
        // A closed queue means the adapter is stopping; the event is not needed.
        let _ = self.tx.send(event);
    }
}

#[serenity::async_trait]
impl EventHandler for Forwarder {
    async fn ready(&self, _: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "Discord gateway ready");
        self.send(GatewayEvent::Ready);
    }
    async fn guild_create(&self, _: Context, guild: Guild, _: Option<bool>) {
        self.send(GatewayEvent::Guild(Box::new(guild)));
    }
    async fn channel_create(&self, _: Context, channel: GuildChannel) {
        self.send(GatewayEvent::Channel(Box::new(channel)));
    }
    async fn channel_update(&self, _: Context, _: Option<GuildChannel>, new: GuildChannel) {
        self.send(GatewayEvent::Channel(Box::new(new)));
    }
    async fn channel_delete(&self, _: Context, channel: GuildChannel, _: Option<Vec<Message>>) {
        self.send(GatewayEvent::ChannelGone(channel.id.get()));
    }
    async fn thread_create(&self, _: Context, thread: GuildChannel) {
        self.send(GatewayEvent::Channel(Box::new(thread)));
    }
    async fn thread_update(&self, _: Context, _: Option<GuildChannel>, new: GuildChannel) {
        self.send(GatewayEvent::Channel(Box::new(new)));
    }
    async fn thread_delete(
        &self,
        _: Context,
        thread: PartialGuildChannel,
        _: Option<GuildChannel>,
    ) {
        self.send(GatewayEvent::ChannelGone(thread.id.get()));
    }
    async fn message(&self, _: Context, message: Message) {
        self.send(GatewayEvent::Message(Box::new(message)));
    }
    async fn reaction_add(&self, _: Context, reaction: Reaction) {
        self.send(GatewayEvent::Reaction(Box::new(reaction), true));
    }
    async fn reaction_remove(&self, _: Context, reaction: Reaction) {
        self.send(GatewayEvent::Reaction(Box::new(reaction), false));
    }
}

/// The ingress loop's state.
pub(crate) struct Ingress {
    pub(crate) bridge: Bridge,
    pub(crate) adapter: Arc<DiscordAdapter>,
    pub(crate) rest: Arc<Rest>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) bot: u64,
    pub(crate) auto_respond: HashSet<u64>,
    /// `discord.allow_channels` / `discord.deny_channels`: where messages are answered.
    pub(crate) channels: crate::bridge::channels::ChannelPolicy,
    pub(crate) reports: broadcast::Sender<Handled>,
}

/// The author's kind for the core: itself, another bot or a webhook, or a person.
pub(crate) fn author_kind(is_self: bool, is_bot: bool, is_webhook: bool) -> AuthorKind {
    if is_self {
        AuthorKind::SelfBot
    } else if is_bot || is_webhook {
        AuthorKind::OtherBot
    } else {
        AuthorKind::Human
    }
}

/// How a reaction's emoji is named for the core: the Unicode emoji, or a custom emoji's
/// name (so custom server emoji can be configured as like or dislike).
pub(crate) fn emoji_name(emoji: &ReactionType) -> String {
    match emoji {
        ReactionType::Unicode(s) => s.clone(),
        ReactionType::Custom { name: Some(name), .. } => name.clone(),
        ReactionType::Custom { id, .. } => id.to_string(),
        _ => String::new(),
    }
}

/// What a message says, read from the gateway payload alone (no lookups), so it can be
/// tested and fuzzed on raw JSON.
#[derive(Clone, Debug)]
pub(crate) struct MessageReading {
    /// The question: the text without the bot's mentions; a forum post's first message
    /// prefixed with the post's title.
    pub text: String,
    /// A user's message (default or reply), not a system or command message.
    pub user_content: bool,
    /// It mentions the bot, directly or through the bot's role.
    pub mentions_bot: bool,
    /// It mentions someone else, a role or everyone.
    pub mentions_others: bool,
    /// Who wrote it, for the core.
    pub author_kind: AuthorKind,
    /// The name to show for the author: server nickname, display name, or user name.
    pub author_name: String,
    /// The message id.
    pub id: u64,
}

impl MessageReading {
    /// The facts [`decide::route`] needs, for a message at `place`.
    pub(crate) fn facts(&self, place: Place) -> Facts<'_> {
        Facts {
            place,
            message_id: self.id,
            user_content: self.user_content,
            mentions_bot: self.mentions_bot,
            mentions_others: self.mentions_others,
            text: &self.text,
        }
    }
}

/// Reads `msg` for the bot `bot` (with its roles `bot_roles` in this guild), posted at
/// `place`; `thread_title` is the name of the thread or forum post it is in, if known.
pub(crate) fn read_message(
    msg: &Message,
    bot: u64,
    bot_roles: &[u64],
    place: Place,
    thread_title: Option<&str>,
) -> MessageReading {
    let mentions_bot = msg.mentions.iter().any(|u| u.id.get() == bot)
        || msg.mention_roles.iter().any(|r| bot_roles.contains(&r.get()));
    let mentions_others = msg.mention_everyone
        || msg.mentions.iter().any(|u| u.id.get() != bot)
        || msg.mention_roles.iter().any(|r| !bot_roles.contains(&r.get()));
    let mut text = decide::strip_bot_mentions(&msg.content, bot, bot_roles);
    if let (Place::Thread { id, .. }, Some(title)) = (place, thread_title) {
        // A forum post's first message has the post's id; its title is half the question.
        if id == msg.id.get() {
            text = decide::forum_question(title, &text);
        }
    }
    MessageReading {
        text,
        user_content: matches!(msg.kind, MessageType::Regular | MessageType::InlineReply)
            && !msg.author.system,
        mentions_bot,
        mentions_others,
        author_kind: author_kind(
            msg.author.id.get() == bot,
            msg.author.bot,
            msg.webhook_id.is_some(),
        ),
        author_name: msg
            .member
            .as_ref()
            .and_then(|m| m.nick.clone())
            .or_else(|| msg.author.global_name.clone())
            .unwrap_or_else(|| msg.author.name.clone()),
        id: msg.id.get(),
    }
}

impl Ingress {
    /// Handles events in arrival order until the queue closes or `stop` turns true.
    pub(crate) async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<GatewayEvent>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let event = tokio::select! {
                event = rx.recv() => event,
                _ = stop.wait_for(|s| *s) => None,
            };
            let Some(event) = event else { return };
            self.on(event).await;
        }
    }

    async fn on(&self, event: GatewayEvent) {
        match event {
            GatewayEvent::Ready => self.report(Handled::Ready),
            GatewayEvent::Guild(guild) => self.learn_guild(&guild),
            GatewayEvent::Channel(channel) => self.learn_channel(&channel),
            GatewayEvent::ChannelGone(id) => self.directory.forget(id),
            GatewayEvent::Message(message) => {
                let outcome = self.message(&message).await;
                self.report(Handled::Message { id: message.id.get(), outcome });
            }
            GatewayEvent::Reaction(reaction, added) => {
                let outcome = self.reaction(&reaction, added).await;
                let message = reaction.message_id.get();
                self.report(Handled::Reaction { message, added, outcome });
            }
        }
    }

    fn report(&self, handled: Handled) {
        tracing::debug!(?handled, "Discord event handled");
        let _ = self.reports.send(handled);
    }

    fn learn_guild(&self, guild: &Guild) {
        let bot_roles = guild
            .roles
            .values()
            .filter(|r| r.tags.bot_id.is_some_and(|b| b.get() == self.bot))
            .map(|r| r.id.get())
            .collect();
        self.directory
            .learn_guild(guild.id.get(), GuildInfo { name: guild.name.clone(), bot_roles });
        for channel in guild.channels.values().chain(&guild.threads) {
            self.learn_channel(channel);
        }
    }

    fn learn_channel(&self, channel: &GuildChannel) {
        let raw = super::rest::RawChannel {
            kind: u8::from(channel.kind),
            parent_id: channel.parent_id.map(|p| p.get().to_string()),
            name: Some(channel.name.clone()),
        };
        self.directory.learn(channel.id.get(), ChannelInfo::from_raw(&raw));
    }

    async fn message(&self, msg: &Message) -> Outcome {
        let guild = msg.guild_id.map(|g| g.get());
        let channel = msg.channel_id.get();
        let info = match guild {
            Some(_) => self.directory.resolve(&self.rest, channel).await,
            None => None,
        };
        let place = match (guild, &info) {
            (None, _) => Place::Dm { channel },
            (Some(_), Some(info)) => info.place(channel),
            (Some(_), None) => Place::Other { id: channel },
        };
        let guild_info = guild.and_then(|g| self.directory.guild(g)).unwrap_or_default();
        let title = info.as_ref().and_then(|i| i.name.as_deref());
        let read = read_message(msg, self.bot, &guild_info.bot_roles, place, title);
        let (author_kind, author_name, text) =
            (read.author_kind, read.author_name.clone(), read.text.clone());
        let route = decide::route(&read.facts(place), &self.auto_respond);
        // Reported (and logged at debug) as `Skipped(ChannelNotAllowed)` by `on`.
        let (trigger, target) = match decide::screen(route, place, &self.channels) {
            Route::Skip(why) => return Outcome::Skipped(why),
            Route::ResetDm { .. } if author_kind != AuthorKind::Human => {
                return Outcome::Skipped(Skip::NotForBot)
            }
            Route::ResetDm { channel } => return self.reset_dm(channel).await,
            Route::Answer { trigger, target } => (trigger, target),
        };
        let (post_channel, new_thread) = match target {
            Target::InPlace(c) => (c, None),
            Target::NewThread { parent, message } => (message, Some(parent)),
        };
        let channel_name = match (place, &info) {
            (Place::Thread { parent: Some(p), .. }, _) => self
                .directory
                .channel(p)
                .and_then(|i| i.name)
                .or_else(|| info.as_ref().and_then(|i| i.name.clone())),
            (_, Some(i)) => i.name.clone(),
            _ => None,
        };
        let inbound = InboundMessage {
            event_id: msg.id.get().to_string(),
            message: ids::message(channel, msg.id.get()),
            thread: ids::thread(guild, post_channel),
            channel: ids::channel(post_channel),
            workspace: guild.map(ids::workspace),
            author: ids::user(msg.author.id.get()),
            author_name: Some(author_name.clone()),
            author_kind,
            text: text.clone(),
            trigger,
            context: MessageContext {
                url: Some(decide::message_link(guild, channel, msg.id.get())),
                title: Some(decide::context_title(
                    guild.map(|_| guild_info.name.as_str()).filter(|n| !n.is_empty()),
                    channel_name.as_deref(),
                )),
            },
        };
        let expected = match new_thread {
            Some(parent) => {
                let name = decide::thread_name(&text, &author_name);
                self.adapter.expect_thread(post_channel, parent, name)
            }
            None => false,
        };
        match self.bridge.handle(InboundEvent::Message(inbound)).await {
            Ok(disposition) => {
                if expected && disposition != Disposition::Queued {
                    self.adapter.forget_thread(post_channel);
                }
                Outcome::Core(disposition)
            }
            Err(e) => {
                if expected {
                    self.adapter.forget_thread(post_channel);
                }
                tracing::error!(error = %e, message = msg.id.get(), "could not handle a Discord message");
                Outcome::Failed(e.to_string())
            }
        }
    }

    /// `/new` in a DM: forget the conversation and say so.
    async fn reset_dm(&self, channel: u64) -> Outcome {
        let thread = ids::thread(None, channel);
        if let Err(e) = self.bridge.reset_thread(&thread).await {
            tracing::error!(error = %e, "could not reset a DM conversation");
            return Outcome::Failed(e.to_string());
        }
        let note = "Started a new conversation. What would you like to ask?";
        if let Err(e) = self.adapter.post_note(&thread, note).await {
            tracing::warn!(error = %e, "could not confirm a new DM conversation");
        }
        Outcome::NewConversation
    }

    async fn reaction(&self, r: &Reaction, added: bool) -> Outcome {
        let Some(user) = r.user_id.map(|u| u.get()) else {
            return Outcome::Skipped(Skip::System);
        };
        // Adds say whose message it is; skip the store lookup for others' messages.
        if r.message_author_id.is_some_and(|a| a.get() != self.bot) {
            return Outcome::Skipped(Skip::NotForBot);
        }
        let is_bot = r.member.as_ref().is_some_and(|m| m.user.bot);
        let event = ReactionEvent {
            // Discord gives reactions no delivery id, and the same user may add, remove
            // and add the same emoji again, which must not look like a redelivery. A
            // fresh id is safe: the core's feedback decision ignores repeats anyway.
            event_id: uuid::Uuid::new_v4().to_string(),
            message: ids::message(r.channel_id.get(), r.message_id.get()),
            user: ids::user(user),
            user_kind: author_kind(user == self.bot, is_bot, false),
            emoji: emoji_name(&r.emoji),
            added,
        };
        match self.bridge.handle(InboundEvent::Reaction(event)).await {
            Ok(disposition) => Outcome::Core(disposition),
            Err(e) => {
                tracing::error!(error = %e, "could not handle a Discord reaction");
                Outcome::Failed(e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serenity::model::id::EmojiId;

    #[test]
    fn author_kinds() {
        assert_eq!(author_kind(true, true, false), AuthorKind::SelfBot);
        assert_eq!(author_kind(false, true, false), AuthorKind::OtherBot);
        assert_eq!(author_kind(false, false, true), AuthorKind::OtherBot);
        assert_eq!(author_kind(false, false, false), AuthorKind::Human);
    }

    #[test]
    fn emoji_names() {
        assert_eq!(emoji_name(&ReactionType::Unicode("👍".into())), "👍");
        let custom = |name: Option<&str>| ReactionType::Custom {
            animated: false,
            id: EmojiId::new(77),
            name: name.map(str::to_string),
        };
        assert_eq!(emoji_name(&custom(Some("approved"))), "approved");
        assert_eq!(emoji_name(&custom(None)), "77");
    }
}
