//! Files attached to a question: which are read, how they join the question, and the
//! short lines that tell the asker about the others.
//!
//! People paste a log or a config file and ask about it. Text-like files (by name or
//! content type), up to [`MAX_FILE_BYTES`] each and [`MAX_FILES`] per message, are
//! fetched through [`ChatAdapter::fetch_file`](super::adapter::ChatAdapter::fetch_file)
//! and sent inside the question, each in a fenced block headed with its name, trimmed
//! so the whole stays within SiteAssist's content limit. Everything else (images, PDFs,
//! files over the size, a fourth file) is named in one short line under the answer, so
//! nobody wonders whether the bot saw it. The decisions are pure ([`plan`],
//! [`compose`], [`Notes::lines`]); [`prepare`] is the IO around them.

use super::adapter::FileError;
use super::event::InboundMessage;
use super::Inner;

/// The largest file read: a long log, far more than fits a question anyway (issue #14).
pub const MAX_FILE_BYTES: usize = 100 * 1024;
/// Files read per message; more would crowd out each other within the content limit.
pub const MAX_FILES: usize = 3;

/// Extensions of files read as text: documents, data, logs and common source code.
const TEXT_EXTENSIONS: &[&str] = &[
    "txt",
    "text",
    "md",
    "markdown",
    "rst",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "ndjson",
    "log",
    "yaml",
    "yml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "properties",
    "xml",
    "html",
    "htm",
    "css",
    "scss",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "vue",
    "svelte",
    "py",
    "rb",
    "php",
    "java",
    "kt",
    "kts",
    "scala",
    "go",
    "rs",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "cs",
    "swift",
    "m",
    "sh",
    "bash",
    "zsh",
    "ps1",
    "bat",
    "sql",
    "graphql",
    "proto",
    "lua",
    "pl",
    "r",
    "dart",
    "tf",
    "gradle",
    "diff",
    "patch",
    "env",
    "dockerfile",
];

/// Content types read as text besides `text/*`.
const TEXT_TYPES: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/javascript",
    "application/x-sh",
    "application/sql",
];

/// A file attached to a message, as its adapter describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The file name people see (`app.log`).
    pub name: String,
    /// The MIME type the platform reported, if any.
    pub content_type: Option<String>,
    /// The size in bytes the platform reported, if any: files over the limit are not
    /// fetched at all.
    pub size: Option<u64>,
    /// Where the adapter fetches it from. Only the adapter that minted it reads it, and
    /// it checks the host before sending any credential there.
    pub url: String,
}

impl Attachment {
    /// Whether it reads as text: a text extension or content type, and not declared
    /// an image, audio, video or font (whatever its name says).
    pub fn is_text(&self) -> bool {
        let mime = self.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
        let mime = mime.split(';').next().unwrap_or("").trim();
        if ["image/", "audio/", "video/", "font/"].iter().any(|p| mime.starts_with(p)) {
            return false;
        }
        let name = self.name.to_ascii_lowercase();
        let ext = name.rsplit_once('.').map_or(name.as_str(), |(_, e)| e);
        TEXT_EXTENSIONS.contains(&ext) || mime.starts_with("text/") || TEXT_TYPES.contains(&mime)
    }
}

/// What becomes of one attachment, before anything is fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Fetch it and include it.
    Read,
    /// Not text: named as not read.
    NotText,
    /// Text, but past the [`MAX_FILES`] read already.
    TooMany,
    /// Declared larger than [`MAX_FILE_BYTES`]: refused without fetching.
    TooLarge,
}

/// The plan for each attachment, in order. Pure.
pub fn plan(files: &[Attachment]) -> Vec<Plan> {
    let mut reading = 0;
    files
        .iter()
        .map(|f| {
            if !f.is_text() {
                Plan::NotText
            } else if f.size.is_some_and(|s| s > MAX_FILE_BYTES as u64) {
                Plan::TooLarge
            } else if reading >= MAX_FILES {
                Plan::TooMany
            } else {
                reading += 1;
                Plan::Read
            }
        })
        .collect()
}

/// The names of files in each situation the asker is told about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notes {
    /// Not text.
    pub not_text: Vec<String>,
    /// Past the per-message count.
    pub too_many: Vec<String>,
    /// Over the size limit.
    pub too_large: Vec<String>,
    /// Fetching failed (or the content was not text after all).
    pub failed: Vec<String>,
    /// Included, but cut to fit the question's limit.
    pub trimmed: Vec<String>,
}

impl Notes {
    /// One line per situation, in Markdown. Pure.
    pub fn lines(&self) -> Vec<String> {
        let names = |v: &[String]| {
            v.iter().map(|n| format!("`{}`", n.replace('`', "'"))).collect::<Vec<_>>().join(", ")
        };
        let kb = MAX_FILE_BYTES / 1024;
        [
            (&self.not_text, "Not read (only text files are):".to_string()),
            (&self.too_many, format!("Not read ({MAX_FILES} files per message at most):")),
            (&self.too_large, format!("Not read, larger than {kb} KB:")),
            (&self.failed, "Could not be read:".to_string()),
            (&self.trimmed, "Shortened to fit SiteAssist's 10,000-character limit:".to_string()),
        ]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, lead)| format!("📎 {lead} {}", names(v)))
        .collect()
    }
}

/// Length as SiteAssist counts it (UTF-16 units, as its JavaScript does).
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The longest prefix of `s` within `max` UTF-16 units.
fn prefix(s: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > max {
            return &s[..i];
        }
    }
    s
}

/// A fence longer than any run of backticks in `text`, so the block cannot end early.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Marks where a file was cut.
const CUT: &str = "\n[… shortened]";

/// The question with `files` (`(name, text)`, in order) after it, each in a fenced
/// block headed `File: name`, within `max` UTF-16 units. Files share what the question
/// leaves, in order (a short file leaves its unused share to the next); a file cut to
/// fit ends with a mark, and one with no room left is dropped. Returns the content and
/// the names of files cut or dropped. Pure.
pub fn compose(question: &str, files: &[(String, String)], max: usize) -> (String, Vec<String>) {
    let mut content = question.trim().to_string();
    let mut trimmed = Vec::new();
    for (i, (name, text)) in files.iter().enumerate() {
        let text = text.trim_end();
        let sep = if content.is_empty() { "" } else { "\n\n" };
        let f = fence(text);
        let frame = |body: &str| format!("{sep}File: {name}\n{f}\n{body}\n{f}");
        let share = max.saturating_sub(units(&content)) / (files.len() - i);
        let whole = frame(text);
        if units(&whole) <= share {
            content.push_str(&whole);
            continue;
        }
        trimmed.push(name.clone());
        let room = share.saturating_sub(units(&frame("")) + units(CUT));
        if room == 0 {
            continue;
        }
        content.push_str(&frame(&format!("{}{CUT}", prefix(text, room))));
    }
    (content, trimmed)
}

/// A question ready to send: the content with the files read, and the lines about the
/// rest for under the answer.
pub(super) struct Prepared {
    /// `content` for SiteAssist; empty when there is nothing to ask.
    pub content: String,
    /// The lines about files not read or shortened, in Markdown.
    pub notes: Vec<String>,
}

/// Reads `msg`'s files as [`plan`] says and composes its question. A file that fails
/// to fetch is named, and the question goes on without it.
pub(super) async fn prepare(inner: &Inner, msg: &InboundMessage) -> Prepared {
    let mut notes = Notes::default();
    let mut read = Vec::new();
    for (file, plan) in msg.attachments.iter().zip(plan(&msg.attachments)) {
        let name = file.name.clone();
        match plan {
            Plan::NotText => notes.not_text.push(name),
            Plan::TooMany => notes.too_many.push(name),
            Plan::TooLarge => notes.too_large.push(name),
            Plan::Read => match inner.adapter.fetch_file(file, MAX_FILE_BYTES).await {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) if !text.contains('\0') => read.push((name, text)),
                    _ => notes.not_text.push(name),
                },
                Err(FileError::TooLarge { .. }) => notes.too_large.push(name),
                Err(e) => {
                    tracing::info!(error = %e, "could not fetch an attached file");
                    notes.failed.push(name);
                }
            },
        }
    }
    let max = crate::siteassist::model::MAX_CONTENT_CHARS;
    let (content, trimmed) = compose(&msg.text, &read, max);
    notes.trimmed = trimmed;
    Prepared { content, notes: notes.lines() }
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
