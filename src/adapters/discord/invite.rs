//! The install kit: the OAuth2 invite URL with exactly the permissions the bot uses, and
//! the gateway intents it asks for.

/// View Channel (1 << 10): see the channels it answers in.
pub(crate) const VIEW_CHANNEL: u64 = 1 << 10;
/// Send Messages (1 << 11): answers in channels and DMs.
pub(crate) const SEND_MESSAGES: u64 = 1 << 11;
/// Send Messages in Threads (1 << 38): answers go into threads and forum posts.
pub(crate) const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
/// Create Public Threads (1 << 35): a mention opens a thread on the question.
pub(crate) const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
/// Read Message History (1 << 16): needed to start a thread on an existing message.
pub(crate) const READ_MESSAGE_HISTORY: u64 = 1 << 16;
/// Add Reactions (1 << 6): the ✅ the bot adds to a question it passed to a person of
/// the support team (handoff).
pub(crate) const ADD_REACTIONS: u64 = 1 << 6;

/// Every permission the bot uses, and nothing else: `309237713984`.
pub const PERMISSIONS: u64 = VIEW_CHANNEL
    | SEND_MESSAGES
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS;

/// The OAuth2 scopes: a bot user, and its slash commands (`/ask`, `/new`, `/help`),
/// space-separated as OAuth2 wants them (`%20` in the URL).
pub const SCOPE: &str = "bot applications.commands";

/// Gateway intents: Guilds (channels, threads and forums reach the bot's directory),
/// Guild Messages, Guild Message Reactions, Direct Messages, Direct Message Reactions and
/// the privileged Message Content (without it, messages arrive without text).
pub const INTENT_BITS: u64 = 1 | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 13) | MESSAGE_CONTENT;

/// The privileged Message Content intent (1 << 15).
pub const MESSAGE_CONTENT: u64 = 1 << 15;

/// The intents to identify with: [`INTENT_BITS`], without Message Content when
/// `discord.message_content` is off.
pub fn intent_bits(message_content: bool) -> u64 {
    if message_content {
        INTENT_BITS
    } else {
        INTENT_BITS & !MESSAGE_CONTENT
    }
}

/// The URL a server admin opens to add the bot with exactly [`PERMISSIONS`].
///
/// The application id is on the developer portal (General Information → Application
/// ID), or is read from the bot token by [`application_id_from_token`]: for every bot
/// the application id is also the bot user's id, and a token's first segment is that id
/// in base64.
pub fn invite_url(application_id: u64) -> String {
    format!(
        "https://discord.com/oauth2/authorize?client_id={application_id}&scope={}&permissions={PERMISSIONS}",
        SCOPE.replace(' ', "%20")
    )
}

/// The application (bot user) id encoded in a bot token's first segment, if the token
/// has the usual `base64(id).timestamp.hmac` form.
pub fn application_id_from_token(token: &str) -> Option<u64> {
    let token = token.trim().strip_prefix("Bot ").unwrap_or(token.trim());
    let first = token.split('.').next()?;
    let bytes = decode_base64(first)?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

/// Decodes standard or URL-safe base64, padded or not. Small on purpose: this is its
/// only use, and it never sees untrusted input larger than a token segment.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.is_empty() || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serenity::all::{GatewayIntents, Permissions};

    #[test]
    fn permissions_are_exactly_the_six_used() {
        let expected = Permissions::VIEW_CHANNEL
            | Permissions::SEND_MESSAGES
            | Permissions::SEND_MESSAGES_IN_THREADS
            | Permissions::CREATE_PUBLIC_THREADS
            | Permissions::READ_MESSAGE_HISTORY
            | Permissions::ADD_REACTIONS;
        assert_eq!(PERMISSIONS, expected.bits());
        assert_eq!(PERMISSIONS, 309_237_713_984);
        assert_eq!(
            invite_url(1234),
            "https://discord.com/oauth2/authorize?client_id=1234&scope=bot%20applications.commands&permissions=309237713984"
        );
    }

    #[test]
    fn intents_match_serenity() {
        let expected = GatewayIntents::GUILDS
            | GatewayIntents::GUILD_MESSAGES
            | GatewayIntents::GUILD_MESSAGE_REACTIONS
            | GatewayIntents::DIRECT_MESSAGES
            | GatewayIntents::DIRECT_MESSAGE_REACTIONS
            | GatewayIntents::MESSAGE_CONTENT;
        assert_eq!(INTENT_BITS, expected.bits());
    }

    #[test]
    fn application_id_from_a_token() {
        // base64("1234567890123456789") with and without padding, and URL-safe.
        assert_eq!(
            application_id_from_token("MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GxYzAb.signature"),
            Some(1_234_567_890_123_456_789)
        );
        assert_eq!(
            application_id_from_token("Bot MTIzNDU2Nzg5MDEyMzQ1Njc4OQ==.x.y"),
            Some(1_234_567_890_123_456_789)
        );
        assert_eq!(application_id_from_token("NDI.x.y"), Some(42));
        for bad in ["", "not base64!.x.y", "aGVsbG8.x.y", "A.b.c"] {
            assert_eq!(application_id_from_token(bad), None, "{bad}");
        }
    }
}
