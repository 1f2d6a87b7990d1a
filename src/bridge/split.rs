//! Splitting a long rendered answer into messages that fit a platform's limit.
//!
//! Platforms cap message length (Discord 2,000 characters, Slack about 4,000), and
//! answers can be longer, so the reply continues in new messages. A platform may count
//! in UTF-8 bytes as well as characters (Slack's `msg_too_long`), where emoji and CJK
//! text reach the limit three or four times sooner, so a [`Limit`] has both. Each part
//! is rendered on its own by the platform, which drives the rules of [`split_message`]:
//!
//! - **Natural breaks.** A cut is chosen, in order of preference, at the last paragraph
//!   break (blank line), line break, sentence end or word boundary in the allowed
//!   window (a CJK full stop `。！？` ends a sentence without a space after it, and
//!   `，、` count as word boundaries, since CJK text has no spaces), and only then is a
//!   word hard-cut, preferably not inside a grapheme cluster (see [`joins`]). Paragraph, line and sentence breaks are
//!   only taken in the second half of the window (otherwise a part could be a few words
//!   long just because a paragraph ended early); word boundaries anywhere, because
//!   cutting inside a token (a URL, an identifier) corrupts it, while a short part only
//!   costs one more message.
//! - **Code fences stay balanced.** A part never ends inside an open ```` ``` ```` block:
//!   the part is closed with a fence line and the next part reopens the block with the
//!   same opening line (info string included), so both halves still render as code.
//!   Room for those added lines is reserved, so the limit still holds.
//! - **Prefix stability.** The core streams: it splits the answer-so-far on every edit
//!   and must never rewrite a message it has already finished. So every part except the
//!   last depends only on the text it covers (and on its own limit): a cut is decided
//!   from at most the next `avail` characters plus one character of lookahead (`avail`
//!   = what fits of the limit's characters and bytes after the reopened fence line), and
//!   whether more text follows that is never consulted beyond "does the rest fit".
//!   Because a part's limit may depend on its index ([`split_message_within`]), the
//!   core can lower the limit from one part on (after a platform refused it as too
//!   long) without changing the parts before it.
//!
//! Whitespace at a cut is dropped: trailing whitespace of a part, and leading whitespace
//! of the next one up to and including its last line break (the indentation of the next
//! line is kept, it matters in code and lists).

/// Limits below this are raised to it: a part must have room for a reopened and a
/// closed code fence and still carry some text, or splitting could not make progress.
pub const MIN_MAX_CHARS: usize = 16;

/// Byte limits below this are raised to it: room for [`MIN_MAX_CHARS`] characters of
/// four bytes each (the longest a UTF-8 `char` is).
pub const MIN_MAX_BYTES: usize = 4 * MIN_MAX_CHARS;

/// How long one message may be: at most `chars` characters and, where the platform
/// also counts bytes, at most `bytes` bytes of UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Most characters (Unicode scalar values) in a message.
    pub chars: usize,
    /// Most UTF-8 bytes in a message; `None` where the platform only counts characters.
    pub bytes: Option<usize>,
}

impl Limit {
    /// A limit in characters only.
    pub const fn chars(chars: usize) -> Self {
        Self { chars, bytes: None }
    }

    /// Whether `text` is within this limit (raised to the minimums, as the splitter
    /// raises it).
    pub fn fits(&self, text: &str) -> bool {
        let (chars, bytes) = self.effective();
        text.len() <= bytes && text.chars().count() <= chars
    }

    /// Half this limit (characters and bytes), for a reply the platform refused as too
    /// long though it was within the limit; `None` when it is at the minimums already,
    /// so lowering cannot go on for ever.
    pub fn halved(self) -> Option<Self> {
        let (chars, bytes) = self.effective();
        if chars <= MIN_MAX_CHARS && bytes <= MIN_MAX_BYTES {
            return None;
        }
        Some(Self {
            chars: (chars / 2).max(MIN_MAX_CHARS),
            // A limit without bytes gets one: the platform measured something the
            // characters did not.
            bytes: Some((bytes.min(4 * chars) / 2).max(MIN_MAX_BYTES)),
        })
    }

    /// The limit as the splitter applies it: `(chars, bytes)`, raised to the minimums.
    fn effective(&self) -> (usize, usize) {
        let bytes = self.bytes.map_or(usize::MAX, |b| b.max(MIN_MAX_BYTES));
        (self.chars.max(MIN_MAX_CHARS), bytes)
    }
}

/// Splits `text` into parts of at most `max_chars` characters (Unicode scalar values,
/// as the platforms count; a `char` is never cut, grapheme clusters may be).
///
/// Returns no parts for empty or whitespace-only text. `max_chars` below
/// [`MIN_MAX_CHARS`] is treated as [`MIN_MAX_CHARS`]. See the [module docs](self) for
/// where cuts go, how code fences are repaired and the prefix-stability guarantee the
/// streaming core relies on.
///
/// A fence the text itself leaves open stays open in the last part: that is how the
/// answer looks unsplit too (Markdown runs an unclosed block to the end), and while
/// streaming it is usually about to close.
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    split_message_within(text, &|_| Limit::chars(max_chars))
}

/// [`split_message`] with a [`Limit`] per part: part `i` is at most `limit_at(i)`
/// (characters and bytes; a `char` is never cut, and a hard cut avoids the inside of a
/// grapheme cluster where it can, see [`joins`]). Each part depends only on the text it
/// covers and its own limit, so lowering the limit from part `i` on leaves parts
/// before `i` as they were.
pub fn split_message_within(text: &str, limit_at: &dyn Fn(usize) -> Limit) -> Vec<String> {
    split_parts_within(text, limit_at).into_iter().map(|part| part.text).collect()
}

/// One message of a split answer, with what the splitter added to it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Part {
    /// The message text, added fence lines included.
    text: String,
    /// Whether the first line is a reopened fence added by the splitter.
    reopened: bool,
    /// Whether the last line is a closing fence added by the splitter.
    closed: bool,
}

/// An open code fence.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fence {
    /// The line that opened it (trailing whitespace trimmed), used to reopen it.
    line: String,
    /// Its number of backticks: a closing line needs at least as many.
    ticks: usize,
}

/// What one part may hold besides the fence line it reopens.
#[derive(Clone, Copy)]
struct Room {
    /// Characters left for the part's text and its closing fence.
    chars: usize,
    /// Bytes left for the same.
    bytes: usize,
}

/// Where one part ends.
struct Cut {
    /// Byte length of the part's text within the rest (trailing whitespace excluded).
    content_end: usize,
    /// Byte offset in the rest where the next part's text starts (before whitespace skip).
    resume: usize,
    /// The fence to close at the end of this part and reopen at the start of the next.
    repair: Option<Fence>,
}

/// Outcome of trying one cut position.
enum Attempt {
    /// The cut fits.
    Fits(Cut),
    /// The part (with its closing fence) would be too long; an earlier cut may fit.
    TooLong,
    /// Nothing but whitespace before this position; no earlier cut can do better.
    Empty,
}

/// The splitter proper at one limit for every part (the table tests read its parts).
#[cfg(test)]
fn split_parts(text: &str, max_chars: usize) -> Vec<Part> {
    split_parts_within(text, &|_| Limit::chars(max_chars))
}

/// The splitter proper; [`split_message_within`] drops the bookkeeping tests use.
fn split_parts_within(text: &str, limit_at: &dyn Fn(usize) -> Limit) -> Vec<Part> {
    let mut parts = Vec::new();
    // Trailing whitespace never needs a message of its own. Trimming the end is
    // prefix-stable: the trimmed text is a prefix of any extension's trimmed text.
    let mut rest = skip_break_whitespace(text.trim_end());
    let mut open: Option<Fence> = None;
    while !rest.is_empty() {
        let limit = limit_at(parts.len());
        let (max, max_bytes) = limit.effective();
        // `repairable` keeps a reopened line within half of both limits.
        let room = Room {
            chars: max - open.as_ref().map_or(0, |f| f.line.chars().count() + 1),
            bytes: max_bytes - open.as_ref().map_or(0, |f| f.line.len() + 1),
        };
        let mut head = String::new();
        if let Some(fence) = &open {
            head.push_str(&fence.line);
            head.push('\n');
        }
        // The only question asked about text beyond the window: does the rest fit?
        if rest.len() <= room.bytes && rest.char_indices().nth(room.chars).is_none() {
            head.push_str(rest);
            parts.push(Part { text: head, reopened: open.is_some(), closed: false });
            break;
        }
        // Every cut position whose text fits both counts, the last one being the
        // lookahead character too. The rest does not fit, so the last one exists.
        let window: Vec<(usize, char)> = rest
            .char_indices()
            .take(room.chars + 1)
            .take_while(|&(offset, _)| offset <= room.bytes)
            .collect();
        match choose_cut(rest, &window, room, open.as_ref(), limit) {
            Some(cut) => {
                head.push_str(&rest[..cut.content_end]);
                if let Some(fence) = &cut.repair {
                    head.push('\n');
                    head.push_str(&"`".repeat(fence.ticks));
                }
                parts.push(Part {
                    text: head,
                    reopened: open.is_some(),
                    closed: cut.repair.is_some(),
                });
                open = cut.repair;
                rest = skip_break_whitespace(&rest[cut.resume..]);
            }
            // No cut leaves text before it: the rest starts with indentation as long as
            // the window (absurd). Drop that whitespace: a part of only spaces carries
            // nothing, and platforms reject blank messages anyway.
            None => rest = rest.trim_start(),
        }
    }
    parts
}

/// Picks the cut for a rest that does not fit. `window` holds the cut positions that fit
/// `room` (the first characters of `rest` with their byte offsets); the last is
/// lookahead only. `None` means every cut that fits would leave only whitespace before
/// it.
fn choose_cut(
    rest: &str,
    window: &[(usize, char)],
    room: Room,
    open: Option<&Fence>,
    limit: Limit,
) -> Option<Cut> {
    let avail = window.len() - 1;
    let ch = |i: usize| window[i].1;
    let attempt = |p: usize| try_cut(rest, window[p].0, room, open, limit);
    let half = avail / 2;
    let is_paragraph = |p: usize| {
        ch(p) == '\n'
            && window[p + 1..].iter().map(|&(_, c)| c).find(|&c| !matches!(c, ' ' | '\t' | '\r'))
                == Some('\n')
    };
    let is_line = |p: usize| ch(p) == '\n';
    let is_sentence = |p: usize| {
        p > 0
            && ((ch(p).is_whitespace() && matches!(ch(p - 1), '.' | '!' | '?'))
                || matches!(ch(p - 1), '。' | '！' | '？'))
    };
    let is_word = |p: usize| ch(p).is_whitespace() || (p > 0 && matches!(ch(p - 1), '，' | '、'));
    let kinds: [(&dyn Fn(usize) -> bool, usize); 4] =
        [(&is_paragraph, half), (&is_line, half), (&is_sentence, half), (&is_word, 1)];
    for (is_break, lowest) in kinds {
        for p in (lowest.max(1)..=avail).rev().filter(|&p| is_break(p)) {
            match attempt(p) {
                Attempt::Fits(cut) => return Some(cut),
                Attempt::TooLong => {}
                Attempt::Empty => break,
            }
        }
    }
    // Hard cut: as late as the closing fence (if any) allows, outside a grapheme
    // cluster if one such cut fits, else anywhere.
    for keep_clusters in [true, false] {
        for p in (1..=avail).rev() {
            if keep_clusters && joins(window[p - 1].1, window[p].1, &window[..p]) {
                continue;
            }
            match attempt(p) {
                Attempt::Fits(cut) => return Some(cut),
                Attempt::TooLong => {}
                Attempt::Empty => return None,
            }
        }
    }
    None
}

/// Whether a cut between `before` and `after` would fall inside a grapheme cluster, by
/// a cheap subset of Unicode's rules (UAX #29) that covers what answers hold: an
/// emoji's modifiers, variation selectors, keycaps and tags, ZWJ sequences (👩‍💻),
/// flags (pairs of regional indicators; `preceding` is the text before the cut, to
/// count them) and combining marks. Hangul syllables and Indic conjuncts are not
/// covered: a full segmenter would be a dependency for a cut that is rare anyway (only
/// text without spaces or punctuation is hard-cut).
fn joins(before: char, after: char, preceding: &[(usize, char)]) -> bool {
    let extends = |c: char| {
        matches!(c,
            '\u{200D}' // zero-width joiner
            | '\u{FE00}'..='\u{FE0F}' // variation selectors
            | '\u{1F3FB}'..='\u{1F3FF}' // skin tones
            | '\u{20E3}' // combining keycap
            | '\u{E0020}'..='\u{E007F}' // tags (subdivision flags)
            | '\u{0300}'..='\u{036F}' // combining diacritical marks
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
            | '\u{3099}' | '\u{309A}') // kana voicing marks
    };
    let regional = |c: char| ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
    if extends(after) || before == '\u{200D}' {
        return true;
    }
    // Inside a flag when an odd number of regional indicators precede the cut.
    regional(before)
        && regional(after)
        && preceding.iter().rev().take_while(|&&(_, c)| regional(c)).count() % 2 == 1
}

/// Tries a part made of `rest[..end]` (trailing whitespace trimmed), the next part
/// resuming at `end`. The part fits if its text plus the closing fence it needs fits in
/// `room`.
fn try_cut(rest: &str, end: usize, room: Room, open: Option<&Fence>, limit: Limit) -> Attempt {
    let content = rest[..end].trim_end();
    if content.is_empty() {
        return Attempt::Empty;
    }
    let repair = scan_fences(open.cloned(), content).and_then(|f| repairable(f, limit));
    // The closing fence is a line break and backticks: as many bytes as characters.
    let close = repair.as_ref().map_or(0, |f| f.ticks + 1);
    if content.chars().count() + close > room.chars || content.len() + close > room.bytes {
        return Attempt::TooLong;
    }
    Attempt::Fits(Cut { content_end: content.len(), resume: end, repair })
}

/// How a fence open at a cut is repaired, or `None` if it cannot be.
///
/// The reopened line plus the closing line may take at most half the limit (in
/// characters and in bytes), so a part always keeps room for text. A long info string
/// falls back to a bare fence (the code stays code, only the highlighting hint is
/// lost); a fence too long even for that (possible only with tiny limits or dozens of
/// backticks) is left unrepaired.
fn repairable(fence: Fence, limit: Limit) -> Option<Fence> {
    let (max, max_bytes) = limit.effective();
    let (room, room_bytes) = (max / 2, max_bytes / 2);
    let close = fence.ticks + 1;
    let reopen = (fence.line.chars().count() + 1, fence.line.len() + 1);
    if reopen.0 + close <= room && reopen.1 + close <= room_bytes {
        Some(fence)
    } else if 2 * close <= room.min(room_bytes) {
        Some(Fence { line: "`".repeat(fence.ticks), ticks: fence.ticks })
    } else {
        None
    }
}

/// The fence open after reading `text` line by line, starting with `open`.
///
/// The model is CommonMark's for backtick fences: up to 3 spaces of indentation, then at
/// least 3 backticks; an opening line's info string has no backtick; a closing line has
/// at least as many backticks as the opening and nothing else. Each part is read as a
/// standalone text, because that is how the platform renders it. Tilde fences are not
/// treated as fences (the chat platforms do not render them).
fn scan_fences(mut open: Option<Fence>, text: &str) -> Option<Fence> {
    for line in text.split('\n') {
        open = match open {
            None => opening_fence(line),
            Some(fence) if closes(&fence, line) => None,
            still_open => still_open,
        };
    }
    open
}

/// A line's backtick run (if it is at least 3 long, after at most 3 spaces) and what
/// follows it.
fn fence_ticks(line: &str) -> Option<(usize, &str)> {
    let body = line.trim_start_matches(' ');
    if line.len() - body.len() > 3 {
        return None;
    }
    let after = body.trim_start_matches('`');
    let ticks = body.len() - after.len();
    (ticks >= 3).then_some((ticks, after))
}

/// The fence `line` opens, if it is an opening fence line.
fn opening_fence(line: &str) -> Option<Fence> {
    let (ticks, info) = fence_ticks(line)?;
    (!info.contains('`')).then(|| Fence { line: line.trim_end().to_owned(), ticks })
}

/// Whether `line` closes `fence`.
fn closes(fence: &Fence, line: &str) -> bool {
    matches!(fence_ticks(line), Some((ticks, after)) if ticks >= fence.ticks && after.trim().is_empty())
}

/// Drops the whitespace at the start of a part: all of it if it holds no line break,
/// else up to and including the last line break (keeping the next line's indentation).
/// Whitespace-only text becomes empty.
fn skip_break_whitespace(text: &str) -> &str {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return trimmed;
    }
    let run = &text[..text.len() - trimmed.len()];
    match run.rfind('\n') {
        Some(i) => &text[i + 1..],
        None => trimmed,
    }
}

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod invariants;
#[cfg(test)]
mod tests;
