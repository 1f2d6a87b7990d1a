//! SiteAssist Markdown → Slack "mrkdwn" (the `text` of a Slack message).
//!
//! Slack's mrkdwn is not Markdown: `*bold*`, `_italic_`, `~strike~`, `<url|label>` links,
//! no headings, lists or tables, and `&`, `<`, `>` are control characters that must be
//! escaped (see <https://api.slack.com/reference/surfaces/formatting>). [`to_slack`] walks
//! pulldown-cmark's events (never regexes, so nesting and code are handled the way a
//! CommonMark renderer sees them) and writes the closest Slack equivalent.
//!
//! Choices worth knowing:
//! - **Every `<` in the output opens a link we built** from an `http(s)`/`mailto` URL. All
//!   input text is escaped, so an answer cannot forge `<!channel>` or `<@U…>` mentions.
//! - **Emphasis glued to a word** (`foo**bar**baz`) gets a zero-width space (U+200B) on
//!   that side: Slack only honours markers at word boundaries, and keeping the emphasis
//!   (invisibly) says more than dropping it.
//! - **Tables** become a padded monospaced block inside ```` ``` ````: for 2–4 short columns
//!   this keeps rows and columns scannable, where "Header: value" lines triple the height.
//!   Links inside a table are shown as `label (url)`, since code blocks are not linked.
//! - **Streaming prefixes**: pulldown-cmark closes whatever is open at the end of input, so
//!   an unfinished fence renders as a closed code block; an unmatched `**` stays literal
//!   text until its closer arrives.

use pulldown_cmark::{Alignment, Event, LinkType, Options, Parser, Tag, TagEnd};

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod invariants;
#[cfg(test)]
mod tests;

/// Deeper lists are not indented further: nobody reads them, and a pathological answer
/// (`- - - - …`) would otherwise make the output grow with the square of the nesting.
const MAX_INDENT_LEVELS: usize = 8;

/// Inserted between an emphasis marker and an adjacent word character (see module docs).
const ZWSP: char = '\u{200B}';

/// Converts SiteAssist Markdown (CommonMark + GFM tables/strikethrough) into Slack mrkdwn.
///
/// Pure and total: it is called on every streamed prefix of an answer, so any input,
/// however truncated, yields sensible text and never panics. The output has no trailing
/// whitespace.
pub fn to_slack(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    let mut renderer = Renderer::default();
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.finish()
}

/// One inline element of the block being collected; rendered when the block ends, because
/// word-boundary and line-break decisions need to see the neighbours.
enum Piece {
    /// Input text: escaped, and bare `http(s)://` URLs become links.
    Text(String),
    /// Input text shown as is (escaped), never linked: inline HTML, unsafe links.
    Literal(String),
    /// A code span's content.
    Code(String),
    /// A link with an allowed scheme; the label is plain text.
    Link { url: String, label: String },
    /// Opens a Slack marker (`*`, `_`, `~`).
    Open(&'static str),
    /// Closes the innermost open marker with this text.
    Close(&'static str),
    /// A soft or hard line break.
    Break,
}

/// A block that contributes a prefix to every line inside it.
enum Container {
    Quote,
    /// A list; for an ordered list, the number of its next item.
    List(Option<u64>),
    /// `marker` includes the item's indentation; later lines get as many spaces instead.
    Item {
        marker: String,
        started: bool,
    },
}

/// A link or image whose label is being collected.
struct LinkState {
    url: String,
    kind: LinkType,
    label: String,
    /// Links/images nested inside the label (an image inside a link) add only their text.
    depth: usize,
}

#[derive(Default)]
struct Renderer {
    out: String,
    containers: Vec<Container>,
    /// How many containers the last emitted block shares with the current stack: decides
    /// whether a blank line (and with which quote prefix) separates the next block.
    common: usize,
    pieces: Vec<Piece>,
    link: Option<LinkState>,
    /// A code (`true`) or HTML block being collected verbatim.
    raw: Option<(bool, String)>,
    /// Column alignments and rows of cells (plain text) of a table being collected.
    table: Option<(Vec<Alignment>, Vec<Vec<String>>)>,
}

impl Renderer {
    fn event(&mut self, event: Event<'_>) {
        let piece = match event {
            Event::Start(tag) => return self.start(tag),
            Event::End(tag) => return self.end(tag),
            Event::Rule => {
                self.flush();
                return self.emit("———", false);
            }
            Event::Text(t) => return self.text(&t),
            Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => Piece::Code(t.into()),
            Event::Html(t) | Event::InlineHtml(t) => Piece::Literal(t.into()),
            Event::FootnoteReference(label) => Piece::Literal(format!("[{label}]")),
            Event::SoftBreak | Event::HardBreak => Piece::Break,
            Event::TaskListMarker(done) => {
                Piece::Literal(if done { "[x] " } else { "[ ] " }.into())
            }
        };
        self.push(piece);
    }

    /// Adds an inline piece, or only its text while a raw block or a link label is open
    /// (labels are plain text in Slack, so markers inside them are dropped).
    fn push(&mut self, piece: Piece) {
        let sink = match (&mut self.raw, &mut self.link) {
            (Some((_, text)), _) => text,
            (None, Some(link)) => &mut link.label,
            (None, None) => return self.pieces.push(piece),
        };
        match piece {
            Piece::Text(t) | Piece::Literal(t) | Piece::Code(t) => sink.push_str(&t),
            Piece::Break => sink.push(' '),
            Piece::Link { .. } | Piece::Open(_) | Piece::Close(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        use Tag::{Emphasis, Image, Link, Strikethrough, Strong};
        if !matches!(tag, Emphasis | Strong | Strikethrough | Link { .. } | Image { .. }) {
            self.flush();
        }
        match tag {
            Tag::Emphasis => self.push(Piece::Open("_")),
            // Slack has no headings: the line is bold (and bold inside it is muted).
            Tag::Strong | Tag::Heading { .. } => self.push(Piece::Open("*")),
            Tag::Strikethrough => self.push(Piece::Open("~")),
            Tag::Link { link_type, dest_url, .. } | Tag::Image { link_type, dest_url, .. } => {
                match &mut self.link {
                    Some(link) => link.depth += 1,
                    None => {
                        let (url, label) = (dest_url.to_string(), String::new());
                        self.link = Some(LinkState { url, kind: link_type, label, depth: 0 });
                    }
                }
            }
            Tag::CodeBlock(_) => self.raw = Some((true, String::new())),
            Tag::HtmlBlock => self.raw = Some((false, String::new())),
            Tag::BlockQuote(_) => self.containers.push(Container::Quote),
            Tag::List(start) => {
                // `- - x`: the outer item's marker gets a line of its own.
                if let Some(Container::Item { started: false, .. }) = self.containers.last() {
                    self.emit("", false);
                }
                self.containers.push(Container::List(start));
            }
            Tag::Item => {
                let marker = self.next_marker();
                self.containers.push(Container::Item { marker, started: false });
            }
            Tag::FootnoteDefinition(label) => {
                let marker = escape(&format!("[{label}]: "));
                self.containers.push(Container::Item { marker, started: false });
            }
            Tag::Table(align) => self.table = Some((align, Vec::new())),
            Tag::TableHead | Tag::TableRow => {
                if let Some((_, rows)) = &mut self.table {
                    rows.push(Vec::new());
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis => self.push(Piece::Close("_")),
            TagEnd::Strong => self.push(Piece::Close("*")),
            TagEnd::Strikethrough => self.push(Piece::Close("~")),
            TagEnd::TableHead | TagEnd::TableRow => {}
            TagEnd::Link | TagEnd::Image => self.end_link(),
            TagEnd::Heading(_) => {
                self.push(Piece::Close("*"));
                self.flush();
            }
            TagEnd::CodeBlock | TagEnd::HtmlBlock => self.end_raw(),
            TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item | TagEnd::FootnoteDefinition => {
                self.flush();
                // An empty item (`2.` at the end of a streamed prefix) still shows its marker.
                if let Some(Container::Item { started: false, .. }) = self.containers.last() {
                    self.emit("", false);
                }
                self.containers.pop();
                self.common = self.common.min(self.containers.len());
            }
            TagEnd::TableCell => {
                let cell = plain(&std::mem::take(&mut self.pieces));
                if let Some(row) = self.table.as_mut().and_then(|(_, rows)| rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::Table => self.end_table(),
            _ => self.flush(),
        }
    }

    fn text(&mut self, text: &str) {
        if self.raw.is_some() || self.link.is_some() {
            return self.push(Piece::Text(text.to_string()));
        }
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                self.pieces.push(Piece::Break);
            }
            match self.pieces.last_mut() {
                // pulldown-cmark splits text at `&`, `[`...; a URL may span events.
                Some(Piece::Text(last)) => last.push_str(part),
                _ if part.is_empty() => {}
                _ => self.pieces.push(Piece::Text(part.to_string())),
            }
        }
    }

    fn end_link(&mut self) {
        let Some(mut link) = self.link.take() else { return };
        if link.depth > 0 {
            link.depth -= 1;
            self.link = Some(link);
            return;
        }
        let label = link.label.split_whitespace().collect::<Vec<_>>().join(" ");
        let url =
            if link.kind == LinkType::Email { format!("mailto:{}", link.url) } else { link.url };
        let autolink = matches!(link.kind, LinkType::Autolink | LinkType::Email);
        // `<https://evil|x>` typed as an autolink would render with a forged label: show it.
        let piece = if is_linkable(&url) && !(autolink && url.contains('|')) {
            Piece::Link { url, label }
        } else if autolink {
            Piece::Literal(format!("<{label}>"))
        } else if label.is_empty() || label == url {
            Piece::Literal(url)
        } else {
            Piece::Literal(format!("{label} ({url})"))
        };
        self.pieces.push(piece);
    }

    fn end_raw(&mut self) {
        let Some((code, text)) = self.raw.take() else { return };
        let body = text.strip_suffix('\n').unwrap_or(&text);
        if code {
            self.emit(&code_block(&escape(body)), true);
        } else if !body.trim().is_empty() {
            self.emit(escape(body).trim_end(), false);
        }
    }

    /// A padded monospaced table in a code block, with a separator under the header row.
    fn end_table(&mut self) {
        let Some((align, rows)) = self.table.take() else { return };
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max())
            .map(|w| w.unwrap_or(0).max(1))
            .collect();
        let mut lines = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            let cells = widths.iter().enumerate().map(|(c, &width)| {
                let cell = row.get(c).map_or("", String::as_str);
                let gap = width.saturating_sub(cell.chars().count());
                let left = match align.get(c) {
                    Some(Alignment::Right) => gap,
                    Some(Alignment::Center) => gap / 2,
                    _ => 0,
                };
                format!("{}{cell}{}", " ".repeat(left), " ".repeat(gap - left))
            });
            lines.push(cells.collect::<Vec<_>>().join(" | ").trim_end().to_string());
            if r == 0 {
                lines.push(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
            }
        }
        self.emit(&code_block(&escape(&lines.join("\n"))), true);
    }

    /// Renders the collected inline pieces (a paragraph, heading or tight item) as a block.
    fn flush(&mut self) {
        if self.table.is_some() || self.pieces.is_empty() {
            return;
        }
        let text = render_inline(&std::mem::take(&mut self.pieces));
        let text = text.trim_matches('\n');
        if !text.trim().is_empty() {
            self.emit(text, false);
        }
    }

    /// The marker of a new item of the innermost list: bullets by depth, 4 spaces a level.
    /// Indentation stops growing after [`MAX_INDENT_LEVELS`].
    fn next_marker(&mut self) -> String {
        let inside_quote =
            self.containers.iter().rev().take_while(|c| !matches!(c, Container::Quote));
        let level =
            inside_quote.filter(|c| matches!(c, Container::List(_))).count().saturating_sub(1);
        let marker = match self.containers.last_mut() {
            Some(Container::List(Some(n))) => {
                let marker = format!("{n}. ");
                *n = n.saturating_add(1);
                marker
            }
            _ => ["• ", "◦ ", "▪ "][level.min(2)].to_string(),
        };
        format!("{}{marker}", "    ".repeat(level.min(MAX_INDENT_LEVELS)))
    }

    /// The prefix of the next line: `> ` per quote, and the marker (first line) or the
    /// indentation of the innermost item (per quote level). Code lines after the fence take
    /// only the quote prefixes, so the code is not shifted inside its block.
    fn line_prefix(&mut self, quotes_only: bool) -> String {
        let mut parts = Vec::new();
        let mut covered = quotes_only;
        for container in self.containers.iter_mut().rev() {
            match container {
                Container::Quote => {
                    parts.push("> ".to_string());
                    covered = quotes_only;
                }
                Container::Item { marker, started } if !covered => {
                    covered = true;
                    let width = marker.chars().count();
                    parts.push(if *started { " ".repeat(width) } else { marker.clone() });
                    *started = true;
                }
                _ => {}
            }
        }
        parts.reverse();
        parts.concat()
    }

    /// Writes one block of already-escaped lines. Blocks are separated by one blank line,
    /// except inside lists, where every item and nested block starts on the next line.
    fn emit(&mut self, text: &str, code: bool) {
        if !self.out.is_empty() {
            let common = &self.containers[..self.common.min(self.containers.len())];
            let in_list = common.iter().any(|c| !matches!(c, Container::Quote));
            if !in_list {
                self.out.push('\n');
                self.out.push_str("> ".repeat(common.len()).trim_end());
            }
        }
        for (i, line) in text.split('\n').enumerate() {
            let prefix = self.line_prefix(code && i > 0);
            if !self.out.is_empty() {
                self.out.push('\n');
            }
            if line.is_empty() {
                self.out.push_str(prefix.trim_end());
            } else {
                self.out.push_str(&prefix);
                self.out.push_str(line);
            }
        }
        self.common = self.containers.len();
    }

    fn finish(mut self) -> String {
        self.flush();
        self.end_raw();
        self.end_table();
        self.out.truncate(self.out.trim_end().len());
        self.out
    }
}

/// Wraps escaped text in a Slack code block. A ```` ``` ```` inside would end the block
/// early (Slack has no escape for it), so such runs get a zero-width space.
fn code_block(body: &str) -> String {
    if body.is_empty() {
        return "```\n```".to_string();
    }
    format!("```\n{}\n```", body.replace("```", "``\u{200B}`"))
}

/// Table cells and other places without formatting: text only, links as `label (url)`.
fn plain(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) | Piece::Literal(t) | Piece::Code(t) => out.push_str(t),
            Piece::Link { url, label } if label.is_empty() || label == url => out.push_str(url),
            Piece::Link { url, label } => out.push_str(&format!("{label} ({url})")),
            Piece::Break => out.push(' '),
            Piece::Open(_) | Piece::Close(_) => {}
        }
    }
    out.trim().to_string()
}

/// An emphasis marker on the stack while rendering a block.
struct Mark {
    marker: &'static str,
    /// Written to the output (markers open lazily, before the first visible character).
    emitted: bool,
    /// Nested inside the same marker (bold in a heading): Slack cannot nest it, so skip.
    muted: bool,
    /// Matched by the run of `Close` pieces being handled.
    closing: bool,
}

/// Renders pieces to mrkdwn. Markers open lazily right before the first non-space
/// character (so empty or whitespace-led emphasis never shows stray `*`), are closed and
/// reopened around line breaks (Slack markers do not span lines), and several markers
/// opening at one spot are ordered `*`, `_`, `~` so `***x***` becomes `*_x_*`.
fn render_inline(pieces: &[Piece]) -> String {
    let mut out = String::new();
    let mut stack: Vec<Mark> = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Open(marker) => {
                let muted = stack.iter().any(|m| m.marker == *marker);
                stack.push(Mark { marker, emitted: false, muted, closing: false });
            }
            Piece::Close(_) => {
                while let Some(Piece::Close(marker)) = pieces.get(i) {
                    let open = stack.iter_mut().rev().find(|m| m.marker == *marker && !m.closing);
                    if let Some(mark) = open {
                        mark.closing = true;
                    }
                    i += 1;
                }
                // Close everything from the lowest closing mark up (keeps nesting valid);
                // marks above it that stay open reopen before the next character.
                let lowest = stack.iter().position(|m| m.closing).unwrap_or(stack.len());
                let mut wrote = false;
                for mark in stack[lowest..].iter_mut().rev() {
                    if mark.emitted {
                        out.push_str(mark.marker);
                        mark.emitted = false;
                        wrote = true;
                    }
                }
                stack.retain(|m| !m.closing);
                if wrote && next_char(&pieces[i..]).is_some_and(char::is_alphanumeric) {
                    out.push(ZWSP);
                }
                continue;
            }
            Piece::Break => {
                close_all(&mut out, &mut stack);
                out.push('\n');
            }
            Piece::Text(t) | Piece::Literal(t) => {
                let start = t.find(|c: char| !c.is_whitespace()).unwrap_or(t.len());
                out.push_str(&t[..start]);
                if start < t.len() {
                    open_pending(&mut out, &mut stack, false);
                }
                if matches!(pieces[i], Piece::Text(_)) {
                    push_text_linking_urls(&mut out, &t[start..]);
                } else {
                    escape_into(&mut out, &t[start..]);
                }
            }
            Piece::Code(code) => {
                open_pending(&mut out, &mut stack, true);
                out.push('`');
                escape_into(&mut out, code);
                out.push('`');
                if next_char(&pieces[i + 1..]).is_some_and(char::is_alphanumeric) {
                    out.push(ZWSP);
                }
            }
            Piece::Link { url, label } => {
                open_pending(&mut out, &mut stack, false);
                push_link(&mut out, url, label);
            }
        }
        i += 1;
    }
    close_all(&mut out, &mut stack);
    out
}

/// Writes the markers waiting for content; `marked` says the content itself starts with a
/// marker (a code span), which also needs a word boundary.
fn open_pending(out: &mut String, stack: &mut [Mark], marked: bool) {
    let first = stack.iter().position(|m| !m.emitted && !m.muted).unwrap_or(stack.len());
    let pending = &mut stack[first..];
    // Stable, so a muted duplicate stays inside the mark it duplicates.
    pending.sort_by_key(|m| ["*", "_", "~"].iter().position(|k| *k == m.marker));
    let glued = out.chars().next_back().is_some_and(char::is_alphanumeric);
    if glued && (marked || pending.iter().any(|m| !m.muted)) {
        out.push(ZWSP);
    }
    for mark in pending.iter_mut().filter(|m| !m.muted) {
        out.push_str(mark.marker);
        mark.emitted = true;
    }
}

fn close_all(out: &mut String, stack: &mut [Mark]) {
    for mark in stack.iter_mut().rev().filter(|m| m.emitted) {
        out.push_str(mark.marker);
        mark.emitted = false;
    }
}

/// The first character the pieces will show, if on the same line.
fn next_char(pieces: &[Piece]) -> Option<char> {
    for piece in pieces {
        match piece {
            Piece::Open(_) | Piece::Close(_) => {}
            Piece::Text(t) | Piece::Literal(t) if t.is_empty() => {}
            Piece::Text(t) | Piece::Literal(t) => return t.chars().next(),
            Piece::Code(_) => return Some('`'),
            Piece::Link { .. } => return Some('<'),
            Piece::Break => return None,
        }
    }
    None
}

/// Only these become clickable: anything else (`javascript:`, relative paths, or text
/// that would read as a Slack command like `!channel`) is shown as text.
fn is_linkable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "mailto:"].iter().any(|s| lower.starts_with(s) && lower.len() > s.len())
}

/// `<url|label>`, or `<url>` when the label adds nothing.
fn push_link(out: &mut String, url: &str, label: &str) {
    out.push('<');
    for c in url.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            c if "<>|\"".contains(c) || c.is_whitespace() || c.is_control() => {
                c.to_string().bytes().for_each(|b| out.push_str(&format!("%{b:02X}")));
            }
            c => out.push(c),
        }
    }
    if !label.is_empty() && label != url {
        out.push('|');
        // A `|` would still be shown, but a label must never look like link syntax.
        escape_into(out, &label.replace('|', "\u{2223}"));
    }
    out.push('>');
}

/// Escapes text and turns bare `http(s)://` URLs into `<url>` links.
fn push_text_linking_urls(out: &mut String, mut text: &str) {
    while let Some((start, end)) = find_url(text) {
        escape_into(out, &text[..start]);
        push_link(out, &text[start..end], "");
        text = &text[end..];
    }
    escape_into(out, text);
}

/// The byte range of the first bare URL: starts at a word boundary, ends before space or
/// `<>"|`` ` ``, without trailing punctuation or an unbalanced `)`.
fn find_url(text: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("http") {
        let start = from + found;
        from = start + 4;
        let scheme = ["https://", "http://"].into_iter().find(|s| lower[start..].starts_with(s));
        let boundary = text[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let (Some(scheme), true) = (scheme, boundary) else { continue };
        let rest = &text[start..];
        let mut url = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '|' | '`'))
            .map_or(rest, |end| &rest[..end]);
        // Counted once: trimming is linear even for a URL followed by many dots.
        let (opens, mut closes) = (url.matches('(').count(), url.matches(')').count());
        while let Some(c) = url.chars().next_back() {
            match c {
                ')' if closes > opens => closes -= 1,
                c if ".,:;!?'*_~".contains(c) => {}
                _ => break,
            }
            url = &url[..url.len() - 1];
        }
        if url.len() > scheme.len() {
            return Some((start, start + url.len()));
        }
    }
    None
}

/// The sources line: `Sources: <url|Title> · [2] <url|Title>` (a title without a link
/// as text). A label cannot hold `|`, so one in a title becomes `¦`.
pub fn sources_line(sources: &[crate::bridge::sources::Cited]) -> String {
    let items: Vec<String> = sources
        .iter()
        .map(|s| {
            let marker = s.marker.as_ref().map(|m| format!("[{}] ", escape(m))).unwrap_or_default();
            let title = escape(&s.title).replace('|', "¦");
            match s.url.as_deref().filter(|u| is_linkable(u)) {
                Some(url) => format!("{marker}<{}|{title}>", escape(url).replace('|', "%7C")),
                None => format!("{marker}{title}"),
            }
        })
        .collect();
    format!("Sources: {}", items.join(" · "))
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}
