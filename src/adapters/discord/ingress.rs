//! Gateway events → [`InboundEvent`]s for the core.
//!
//! serenity runs every event handler in a task of its own, so two events can reach
//! the handler in either order (serenity 0.12 `client/dispatch.rs` spawns one task per
//! event; events sent in a burst were seen swapped). The handler here only forwards
//! each event into one queue; one loop ([`Ingress::run`]) takes them in queue order,
//! reads and locates each, and hands it to [`Bridge::handle`], whose rules decide, in
//! the lane of the channel it lands in ([`super::lanes`]): one thread's events one
//! after another in queue order, different threads' at once. The loop owns the
//! bridge's handle and waits for its lanes, so when it stops nothing of the gateway
//! side holds the store any more.

use super::directory::{ChannelInfo, Directory, GuildInfo};
use super::egress::DiscordAdapter;
use super::ids;
use super::lanes::Lanes;
use super::reading;
use super::rest::Rest;
use crate::bridge::decide::{Command, Facts, Place, PlaceKind, Speaker};
use crate::bridge::event::{InboundEvent, InboundMessage, MessageContext, ReactionEvent};
use crate::bridge::files::Attachment;
use crate::bridge::{Bridge, Disposition, Ignored};
use futures_util::future::{BoxFuture, FutureExt};
use serenity::all::{
    CommandInteraction, ComponentInteraction, ConnectionStage, Context, EventHandler, Guild,
    GuildChannel, Interaction, Message, MessageType, PartialGuildChannel, Reaction, ReactionType,
    Ready, ShardStageUpdateEvent,
};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};

/// What the adapter did with one gateway event, for observers (logs, tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The gateway session is ready.
    Ready,
    /// A shard's connection came up (`true`) or went down and is reconnecting
    /// (`false`), with the stage it is in.
    Connection {
        /// The shard.
        shard: u32,
        /// Connected.
        up: bool,
        /// serenity's stage, for the readiness report.
        stage: String,
    },
    /// The shards this replica runs changed (`discord.shards = "auto"`): a shard handed
    /// to another replica is stopped on purpose and must not count as down.
    Shards {
        /// The shards it runs now.
        running: Vec<u32>,
    },
    /// A message was handled.
    Message {
        /// Its id.
        id: u64,
        /// What became of it.
        outcome: Outcome,
    },
    /// A slash command was run (and answered or deferred).
    Command {
        /// The interaction's id.
        interaction: u64,
        /// What became of it.
        outcome: Outcome,
    },
    /// A button on a bot message was pressed (and acknowledged).
    Button {
        /// The message the button is on.
        message: u64,
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
    /// The adapter did not hand it to the core, and why: a reaction without a user, or
    /// on a message that Discord says is not the bot's (no store lookup needed).
    Skipped(Ignored),
    /// The core took it: queued, answered with a note, or ignored (and why).
    Core(Disposition),
    /// The core failed (its store); the event is lost, as Discord does not redeliver.
    Failed(String),
}

/// A gateway event the loop handles.
pub(crate) enum GatewayEvent {
    Ready,
    Stage {
        shard: u32,
        up: bool,
        stage: String,
    },
    Guild(Box<Guild>),
    Channel(Box<GuildChannel>),
    ChannelGone(u64),
    Message(Box<Message>),
    Reaction(Box<Reaction>, bool),
    Button(Box<ComponentInteraction>),
    /// A command, what it invokes, and the message the `/ask` reply created.
    Command(Box<CommandInteraction>, super::commands::Invocation, Option<u64>),
}

/// Whether the core posts into the message's thread for `disposition`, so a thread
/// the egress was told to expect must stay expected.
pub(crate) fn posts_in_thread(disposition: Disposition) -> bool {
    matches!(
        disposition,
        Disposition::Queued
            | Disposition::NewConversation
            | Disposition::Help
            | Disposition::Ignored(Ignored::TooLong)
    )
}

/// A message read and located, ready for the core.
struct Prepared {
    inbound: InboundMessage,
    /// The message's id, for the log.
    id: u64,
    /// The channel it was written in.
    channel: u64,
    /// The channel the answer goes to (a new thread's id for a top-level message).
    post_channel: u64,
    /// The name of the thread the answer opens, when it opens one.
    thread_name: Option<String>,
}

/// Where a message or command was given (see [`Ingress::locate`]).
pub(crate) struct Located {
    pub(crate) place: Place,
    /// An answer here goes into a new thread started on the question.
    pub(crate) new_thread: bool,
    /// The channel's (or thread's) own name.
    pub(crate) name: Option<String>,
    /// The name people know the place by: a thread's parent channel, else its own.
    pub(crate) channel_name: Option<String>,
    pub(crate) guild: GuildInfo,
}

/// serenity's event handler: forwards into the loop's queue and returns at once.
pub(crate) struct Forwarder {
    pub(crate) tx: mpsc::UnboundedSender<GatewayEvent>,
    /// For acknowledging button presses at once, ahead of the queue. Set once the
    /// client exists (it is built from the client's HTTP), before the gateway starts.
    pub(crate) rest: Arc<std::sync::OnceLock<Arc<Rest>>>,
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
    async fn shard_stage_update(&self, _: Context, event: ShardStageUpdateEvent) {
        if let Some(up) = connection_change(event.old, event.new) {
            let shard = event.shard_id.0;
            self.send(GatewayEvent::Stage { shard, up, stage: event.new.to_string() });
        }
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
    async fn interaction_create(&self, _: Context, interaction: Interaction) {
        let Some(rest) = self.rest.get() else { return };
        // Answered before anything else: Discord gives 3 seconds.
        match interaction {
            Interaction::Component(press) => {
                if let Err(e) = rest.ack_press(press.id.get(), &press.token).await {
                    tracing::info!(error = %e.error, "could not acknowledge a button press");
                }
                self.send(GatewayEvent::Button(Box::new(press)));
            }
            Interaction::Command(command) => {
                if let Some((invocation, shown)) = super::interactions::answer(rest, &command).await
                {
                    self.send(GatewayEvent::Command(Box::new(command), invocation, shown));
                }
            }
            _ => {}
        }
    }
}

/// The ingress loop's state.
pub(crate) struct Ingress {
    pub(crate) bridge: Bridge,
    pub(crate) adapter: Arc<DiscordAdapter>,
    pub(crate) rest: Arc<Rest>,
    pub(crate) directory: Arc<Directory>,
    pub(crate) bot: u64,
    pub(crate) reports: broadcast::Sender<Handled>,
    /// How many events are handed to the core at once (1: one at a time, in arrival
    /// order).
    pub(crate) concurrency: usize,
}

/// Whether a shard's stage change brings its connection up (`Some(true)`), takes it
/// down (`Some(false)`: it left `Connected`), or neither (steps of a (re)connect).
pub(crate) fn connection_change(old: ConnectionStage, new: ConnectionStage) -> Option<bool> {
    match (old, new) {
        (ConnectionStage::Connected, ConnectionStage::Connected) => None,
        (_, ConnectionStage::Connected) => Some(true),
        (ConnectionStage::Connected, _) => Some(false),
        _ => None,
    }
}

/// Who wrote a message or reacted, for the core.
pub(crate) fn speaker(is_self: bool, is_bot: bool, is_webhook: bool) -> Speaker {
    match (is_self, is_bot, is_webhook) {
        (true, _, _) => Speaker::SelfBot,
        (false, true, _) => Speaker::Bot,
        (false, false, true) => Speaker::Webhook,
        (false, false, false) => Speaker::Person,
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
    /// Who wrote it: a system or command message counts as the system's.
    pub speaker: Speaker,
    /// It mentions the bot, directly or through the bot's role.
    pub mentions_bot: bool,
    /// It mentions someone else, a role or everyone.
    pub mentions_others: bool,
    /// The name to show for the author: server nickname, display name, or user name.
    pub author_name: String,
    /// The files attached.
    pub attachments: Vec<Attachment>,
}

impl MessageReading {
    /// The facts for the core, for a message at `place`; `opens_thread` when it is the
    /// first message of the thread or post it is in.
    pub(crate) fn facts(&self, place: Place, opens_thread: bool) -> Facts {
        Facts {
            place,
            speaker: self.speaker,
            mentions_bot: self.mentions_bot,
            addresses_others: self.mentions_others,
            opens_thread,
            command: Command::parse(&self.text),
            attachments: self.attachments.len(),
        }
    }
}

/// Reads `msg` for the bot `bot` (with its roles `bot_roles` in this guild).
/// `post_title` is the title of the forum post or thread that `msg` opens, if it opens
/// one: a post's title is half its question.
pub(crate) fn read_message(
    msg: &Message,
    bot: u64,
    bot_roles: &[u64],
    post_title: Option<&str>,
) -> MessageReading {
    let mentions_bot = msg.mentions.iter().any(|u| u.id.get() == bot)
        || msg.mention_roles.iter().any(|r| bot_roles.contains(&r.get()));
    let mentions_others = msg.mention_everyone
        || msg.mentions.iter().any(|u| u.id.get() != bot)
        || msg.mention_roles.iter().any(|r| !bot_roles.contains(&r.get()));
    let mut text = reading::strip_bot_mentions(&msg.content, bot, bot_roles);
    if let Some(title) = post_title {
        text = reading::forum_question(title, &text);
    }
    let user_content =
        matches!(msg.kind, MessageType::Regular | MessageType::InlineReply) && !msg.author.system;
    let author = speaker(msg.author.id.get() == bot, msg.author.bot, msg.webhook_id.is_some());
    MessageReading {
        text,
        // The bot's own echo stays its own, whatever its type.
        speaker: if user_content || author == Speaker::SelfBot { author } else { Speaker::System },
        mentions_bot,
        mentions_others,
        author_name: msg
            .member
            .as_ref()
            .and_then(|m| m.nick.clone())
            .or_else(|| msg.author.global_name.clone())
            .unwrap_or_else(|| msg.author.name.clone()),
        attachments: msg
            .attachments
            .iter()
            .map(|a| Attachment {
                name: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: Some(u64::from(a.size)),
                url: a.url.clone(),
            })
            .collect(),
    }
}

impl Ingress {
    /// Handles events until the queue closes or `stop` turns true: one at a time in
    /// arrival order when `concurrency` is 1 (the intake before lanes, kept for the
    /// load bench's comparison), else each in the lane of the channel it lands in
    /// (see [`super::lanes`]). At `stop`, events not yet started are dropped (Discord
    /// would not redeliver them either way) and those started finish.
    pub(crate) async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<GatewayEvent>,
        mut stop: watch::Receiver<bool>,
    ) {
        let concurrency = self.concurrency;
        let me = Arc::new(self);
        let mut lanes = Lanes::new(concurrency);
        loop {
            let (event, stopping) = tokio::select! {
                event = rx.recv() => (event, false),
                _ = stop.wait_for(|s| *s) => (None, true),
            };
            let Some(event) = event else {
                return if stopping { lanes.stop().await } else { lanes.drain().await };
            };
            if concurrency <= 1 {
                me.on(event).await;
            } else if let Some((lane, work)) = Arc::clone(&me).lane_work(event).await {
                lanes.push(lane, work);
            }
        }
    }

    /// The lane `event` belongs in and the work that hands it to the core, or `None`
    /// when it was handled here (what only updates the directory or reports, in
    /// arrival order). A message is located here, so the lane is the channel its
    /// answer goes to: a new thread's (the question's id) for a top-level message in a
    /// text channel, so questions in one channel run at once while a thread's
    /// follow-ups wait on the question that opened it.
    async fn lane_work(
        self: Arc<Self>,
        event: GatewayEvent,
    ) -> Option<(u64, BoxFuture<'static, ()>)> {
        let lane = match &event {
            GatewayEvent::Message(message) => {
                let prepared = self.prepare(message).await;
                let (lane, id) = (prepared.post_channel, message.id.get());
                let work = async move {
                    let outcome = self.deliver(prepared).await;
                    self.report(Handled::Message { id, outcome });
                };
                return Some((lane, work.boxed()));
            }
            GatewayEvent::Command(command, ..) => command.channel_id.get(),
            GatewayEvent::Button(press) => press.channel_id.get(),
            GatewayEvent::Reaction(reaction, _) => reaction.channel_id.get(),
            GatewayEvent::Ready
            | GatewayEvent::Stage { .. }
            | GatewayEvent::Guild(_)
            | GatewayEvent::Channel(_)
            | GatewayEvent::ChannelGone(_) => {
                self.on(event).await;
                return None;
            }
        };
        Some((lane, async move { self.on(event).await }.boxed()))
    }

    async fn on(&self, event: GatewayEvent) {
        match event {
            GatewayEvent::Ready => self.report(Handled::Ready),
            GatewayEvent::Stage { shard, up, stage } => {
                self.report(Handled::Connection { shard, up, stage })
            }
            GatewayEvent::Guild(guild) => self.learn_guild(&guild),
            GatewayEvent::Channel(channel) => self.learn_channel(&channel),
            GatewayEvent::ChannelGone(id) => self.directory.forget(id),
            GatewayEvent::Message(message) => {
                let outcome = self.message(&message).await;
                self.report(Handled::Message { id: message.id.get(), outcome });
            }
            GatewayEvent::Command(command, invocation, shown) => {
                let outcome = self.command(&command, invocation, shown).await;
                self.report(Handled::Command { interaction: command.id.get(), outcome });
            }
            GatewayEvent::Button(press) => {
                let message = press.message.id.get();
                let outcome = match super::interactions::press(&press) {
                    Some(press) => match self.bridge.handle(InboundEvent::Button(press)).await {
                        Ok(disposition) => Outcome::Core(disposition),
                        Err(e) => {
                            tracing::error!(error = %e, "could not handle a Discord button press");
                            Outcome::Failed(e.to_string())
                        }
                    },
                    None => Outcome::Skipped(Ignored::NotOurReply),
                };
                self.report(Handled::Button { message, outcome });
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

    /// Where `channel` is, as the rules see it: the place, whether an answer there
    /// opens a new thread (a text channel's top level), and the names people see.
    pub(crate) async fn locate(&self, guild: Option<u64>, channel: u64) -> Located {
        let info = match guild {
            Some(_) => self.directory.resolve(&self.rest, channel).await,
            None => None,
        };
        let parent = info.as_ref().and_then(|i| i.parent).and_then(|p| self.directory.channel(p));
        let (place, new_thread) = match (guild, &info) {
            (None, _) => (Place::new(PlaceKind::Dm, channel.to_string()), false),
            (Some(_), Some(info)) => info.place(channel, parent.as_ref()),
            (Some(_), None) => (Place::new(PlaceKind::Channel, channel.to_string()), false),
        };
        let name = info.as_ref().and_then(|i| i.name.clone());
        let channel_name = parent.and_then(|p| p.name).or_else(|| name.clone());
        let guild_info = guild.and_then(|g| self.directory.guild(g)).unwrap_or_default();
        Located { place, new_thread, name, channel_name, guild: guild_info }
    }

    async fn message(&self, msg: &Message) -> Outcome {
        let prepared = self.prepare(msg).await;
        self.deliver(prepared).await
    }

    /// Reads and locates `msg`: what the core is to be given, and where.
    async fn prepare(&self, msg: &Message) -> Prepared {
        let guild = msg.guild_id.map(|g| g.get());
        let channel = msg.channel_id.get();
        let Located { place, new_thread, name, channel_name, guild: guild_info } =
            self.locate(guild, channel).await;
        // A thread's or forum post's first message has the thread's id.
        let opens_thread = matches!(place.kind, PlaceKind::Thread | PlaceKind::ForumPost)
            && msg.id.get() == channel;
        let title = name.as_deref().filter(|_| opens_thread);
        let read = read_message(msg, self.bot, &guild_info.bot_roles, title);
        // A top-level message in a text channel is answered in a thread started on it,
        // which the egress creates before the first post into it.
        let post_channel = if new_thread { msg.id.get() } else { channel };
        let thread_name = new_thread.then(|| {
            reading::thread_name(
                &reading::readable(
                    &read.text,
                    |id| {
                        let u = msg.mentions.iter().find(|u| u.id.get() == id)?;
                        Some(u.global_name.clone().unwrap_or_else(|| u.name.clone()))
                    },
                    |id| self.directory.channel(id).and_then(|c| c.name),
                ),
                &read.author_name,
            )
        });
        let facts = read.facts(place, opens_thread);
        let inbound = InboundMessage {
            event_id: msg.id.get().to_string(),
            message: ids::message(channel, msg.id.get()),
            thread: ids::thread(guild, post_channel),
            channel: ids::channel(post_channel),
            workspace: guild.map(ids::workspace),
            author: ids::user(msg.author.id.get()),
            author_name: Some(read.author_name),
            facts,
            text: read.text,
            context: MessageContext {
                url: Some(reading::message_link(guild, channel, msg.id.get())),
                place_name: channel_name,
                workspace_name: guild.map(|_| guild_info.name.clone()).filter(|n| !n.is_empty()),
            },
            attachments: read.attachments,
        };
        Prepared { inbound, id: msg.id.get(), channel, post_channel, thread_name }
    }

    /// Hands a prepared message to the core.
    async fn deliver(&self, prepared: Prepared) -> Outcome {
        let Prepared { inbound, id, channel, post_channel, thread_name } = prepared;
        let expected = match thread_name {
            Some(name) if !self.bridge.will_ignore(&inbound) => {
                self.adapter.expect_thread(post_channel, channel, name)
            }
            _ => false,
        };
        match self.bridge.handle(InboundEvent::Message(Box::new(inbound))).await {
            Ok(disposition) => {
                if expected && !posts_in_thread(disposition) {
                    self.adapter.forget_thread(post_channel);
                }
                Outcome::Core(disposition)
            }
            Err(e) => {
                if expected {
                    self.adapter.forget_thread(post_channel);
                }
                tracing::error!(error = %e, message = id, "could not handle a Discord message");
                Outcome::Failed(e.to_string())
            }
        }
    }

    async fn reaction(&self, r: &Reaction, added: bool) -> Outcome {
        let Some(user) = r.user_id.map(|u| u.get()) else {
            return Outcome::Skipped(Ignored::System);
        };
        // Adds say whose message it is; skip the store lookup for others' messages.
        if r.message_author_id.is_some_and(|a| a.get() != self.bot) {
            return Outcome::Skipped(Ignored::NotOurReply);
        }
        let is_bot = r.member.as_ref().is_some_and(|m| m.user.bot);
        let event = ReactionEvent {
            // Discord gives reactions no delivery id, and the same user may add, remove
            // and add the same emoji again, which must not look like a redelivery. A
            // fresh id is safe: the core's feedback decision ignores repeats anyway.
            event_id: uuid::Uuid::new_v4().to_string(),
            message: ids::message(r.channel_id.get(), r.message_id.get()),
            user: ids::user(user),
            user_kind: speaker(user == self.bot, is_bot, false),
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
    fn stage_changes_that_move_the_connection() {
        use ConnectionStage::*;
        let table = [
            (Handshake, Connected, Some(true)),
            (Resuming, Connected, Some(true)),
            (Connected, Resuming, Some(false)),
            (Connected, Disconnected, Some(false)),
            (Connected, Connecting, Some(false)),
            (Connecting, Handshake, None),
            (Identifying, Disconnected, None),
            (Connected, Connected, None),
        ];
        for (old, new, expected) in table {
            assert_eq!(connection_change(old, new), expected, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn speakers() {
        assert_eq!(speaker(true, true, false), Speaker::SelfBot);
        assert_eq!(speaker(true, false, true), Speaker::SelfBot);
        assert_eq!(speaker(false, true, false), Speaker::Bot);
        assert_eq!(speaker(false, true, true), Speaker::Bot);
        assert_eq!(speaker(false, false, true), Speaker::Webhook);
        assert_eq!(speaker(false, false, false), Speaker::Person);
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
