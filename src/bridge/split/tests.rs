//! Table and property tests for the splitter.

use super::invariants::{chars, check_invariants, check_invariants_within};
use super::*;
use proptest::prelude::*;

#[test]
fn empty_and_blank_input_give_no_parts() {
    for text in ["", " ", "\n\n\t  \n"] {
        assert_eq!(split_message(text, 100), Vec::<String>::new(), "{text:?}");
    }
}

#[test]
fn short_text_is_one_part_trimmed() {
    assert_eq!(split_message("  hello\n\n", 100), ["hello"]);
    assert_eq!(split_message("exactly sixteen!", 16), ["exactly sixteen!"]);
}

#[test]
fn break_preference_table() {
    // (text, limit, expected parts)
    let cases: &[(&str, usize, &[&str])] = &[
        // A paragraph break in the second half beats a later line break.
        (
            "aaaaaaaaaaaa\n\nbbbb\ncc dd ee ff gg hh",
            20,
            &["aaaaaaaaaaaa", "bbbb\ncc dd ee ff gg", "hh"],
        ),
        // A paragraph break in the first half is too early: the line break wins.
        ("aa\n\nbbbbbbbbbbbb\ncccccc", 20, &["aa\n\nbbbbbbbbbbbb", "cccccc"]),
        // A sentence end beats a later word boundary.
        ("Hello there. General kenobi you are", 20, &["Hello there.", "General kenobi you", "are"]),
        // Word boundary, the last one that fits (the lookahead char may be the space).
        ("alpha beta gamma delta", 16, &["alpha beta gamma", "delta"]),
        // No whitespace: hard cut.
        ("abcdefghijklmnopqrstuvwxyz", 16, &["abcdefghijklmnop", "qrstuvwxyz"]),
        // Limits below the minimum are raised to it.
        ("abcdefghijklmnopqrstuvwxyz", 3, &["abcdefghijklmnop", "qrstuvwxyz"]),
        // Indentation after a line break is kept, whitespace at a word break dropped.
        ("first line here\n    indented code", 20, &["first line here", "    indented code"]),
    ];
    for &(text, max, want) in cases {
        assert_eq!(split_message(text, max), want, "{text:?} at {max}");
        check_invariants(text, max);
    }
}

#[test]
fn five_thousand_chars_of_paragraphs_at_3900_make_two_parts_at_a_paragraph() {
    let sentence = "Lorem ipsum dolor sit amet, consectetur elit. "; // 46 chars
    let paragraph = format!("{}{}", sentence.repeat(11).trim_end(), "\n\n");
    let text = paragraph.repeat(10);
    assert!((4_900..=5_100).contains(&chars(&text)));
    let parts = split_message(&text, 3_900);
    assert_eq!(parts.len(), 2);
    assert!(text.starts_with(&format!("{}\n\n", parts[0])), "not at a paragraph");
    assert!(parts[1].starts_with("Lorem"));
    check_invariants(&text, 3_900);
}

#[test]
fn forty_five_hundred_chars_at_1900_make_three_parts() {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(100);
    assert_eq!(chars(&text), 4_500);
    let parts = split_message(&text, 1_900);
    assert_eq!(parts.len(), 3, "{:?}", parts.iter().map(|p| chars(p)).collect::<Vec<_>>());
    for part in &parts[..2] {
        assert!(part.ends_with("dog."), "not at a sentence end: {part:?}");
    }
    check_invariants(&text, 1_900);
}

#[test]
fn code_block_straddling_the_limit_is_closed_and_reopened_with_its_info_string() {
    let mut text = "Run this script to deploy.\n\n```bash\n".to_owned();
    for i in 0..80 {
        text.push_str(&format!("echo \"line {i:03} of the script\"\n"));
    }
    text.push_str("```\n\nThat is all.");
    let parts = split_message(&text, 1_000);
    assert!(parts.len() >= 3, "{parts:?}");
    let mut repaired = 0;
    for pair in parts.windows(2) {
        if pair[0].ends_with("\n```") && pair[1].starts_with("```bash\n") {
            repaired += 1;
        }
    }
    assert!(repaired >= 1, "{parts:?}");
    // Independent check with a naive toggle: every part opens and closes evenly.
    for part in &parts {
        let fences = part.lines().filter(|l| l.trim_start().starts_with("```")).count();
        assert_eq!(fences % 2, 0, "{part}");
    }
    assert!(parts.last().unwrap().ends_with("That is all."));
    check_invariants(&text, 1_000);
}

#[test]
fn long_info_string_is_reopened_as_a_bare_fence() {
    let info = "x".repeat(30);
    let text = format!("```{info}\n{}```", "let a = 1;\n".repeat(10));
    let parts = split_parts(&text, 40);
    assert!(parts.len() > 1);
    for part in &parts[1..] {
        assert!(part.reopened && part.text.starts_with("```\n"), "{part:?}");
    }
    check_invariants(&text, 40);
}

#[test]
fn unicode_counts_chars_not_bytes() {
    let emoji = "😀 ".repeat(100);
    let parts = split_message(&emoji, 20);
    assert!(parts.iter().all(|p| chars(p) <= 20 && p.len() > 20), "{parts:?}");
    check_invariants(&emoji, 20);

    let cjk = "日本語".repeat(100);
    let parts = split_message(&cjk, 50);
    assert_eq!(parts.len(), 6);
    assert!(parts[..5].iter().all(|p| chars(p) == 50));
    assert_eq!(parts.concat(), cjk);
}

/// A limit of `chars` characters and `bytes` bytes, the same for every part.
fn both(chars: usize, bytes: usize) -> Limit {
    Limit { chars, bytes: Some(bytes) }
}

#[test]
fn byte_limit_table() {
    let sentence = "日本語のテキスト。"; // 9 chars, 27 bytes
    let family = "👨\u{200D}👩\u{200D}👧"; // one grapheme: 5 chars, 18 bytes
                                           // (text, limit, expected parts)
    let cases: Vec<(String, Limit, Vec<String>)> = vec![
        // ASCII: bytes == chars, so a byte limit as large changes nothing.
        (
            "alpha beta gamma delta".into(),
            both(16, 16),
            vec!["alpha beta gamma".into(), "delta".into()],
        ),
        // Emoji are 4 bytes: 64 bytes hold 16 of them, not the 100 characters allowed.
        ("😀".repeat(20), both(100, 64), vec!["😀".repeat(16), "😀".repeat(4)]),
        // CJK has no spaces: cut after a full stop, within 100 bytes (3 sentences = 81).
        (sentence.repeat(4), both(1_000, 100), vec![sentence.repeat(3), sentence.into()]),
        // CJK commas are word boundaries: no hard cut needed.
        (
            "東京、大阪、京都、名古屋、札幌、福岡、那覇、仙台、広島、金沢".into(),
            both(100, 64),
            vec!["東京、大阪、京都、名古屋、札幌、福岡、".into(), "那覇、仙台、広島、金沢".into()],
        ),
        // ZWJ sequences stay whole: 64 bytes hold 3 families (54 bytes), not 3.5.
        (family.repeat(5), both(100, 64), vec![family.repeat(3), family.repeat(2)]),
        // Flags are pairs of regional indicators (8 bytes): never split in the middle.
        ("🇯🇵🇫🇷🇩🇪🇺🇸🇧🇷🇮🇳🇨🇦🇲🇽🇰🇷".into(), both(100, 68), vec!["🇯🇵🇫🇷🇩🇪🇺🇸🇧🇷🇮🇳🇨🇦🇲🇽".into(), "🇰🇷".into()]),
        // Skin tones and variation selectors stay with their emoji.
        ("👍🏽".repeat(10), both(100, 64), vec!["👍🏽".repeat(8), "👍🏽".repeat(2)]),
        (
            "❤\u{FE0F}".repeat(20),
            both(100, 64),
            vec!["❤\u{FE0F}".repeat(10), "❤\u{FE0F}".repeat(10)],
        ),
    ];
    for (text, limit, want) in cases {
        assert_eq!(split_message_within(&text, &|_| limit), want, "{text:?} at {limit:?}");
        check_invariants_within(&text, limit);
    }
}

#[test]
fn a_fence_is_repaired_within_the_byte_limit() {
    let text = format!("```rust\n{}```\n終わり。", "let 名前 = \"値\"; // 説明\n".repeat(30));
    let limit = both(1_000, 200);
    let parts = split_message_within(&text, &|_| limit);
    assert!(parts.len() > 3, "{parts:?}");
    for part in &parts {
        assert!(part.len() <= 200, "{} bytes: {part}", part.len());
        assert_eq!(scan_fences(None, part), None, "unbalanced: {part}");
    }
    check_invariants_within(&text, limit);
}

#[test]
fn a_lower_limit_from_one_part_on_leaves_the_parts_before_it() {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(20);
    let before = split_message(&text, 100);
    let lowered =
        split_message_within(&text, &|i| if i < 2 { Limit::chars(100) } else { both(50, 50) });
    assert_eq!(lowered[..2], before[..2]);
    assert!(lowered[2..].iter().all(|p| p.len() <= 50), "{lowered:?}");
    assert!(lowered.len() > before.len());
}

#[test]
fn halving_a_limit_ends_at_the_minimums() {
    let mut limit = Limit::chars(3_900);
    let mut steps = 0;
    while let Some(lower) = limit.halved() {
        assert!(lower.chars < limit.chars || lower.bytes < limit.bytes.or(Some(usize::MAX)));
        limit = lower;
        steps += 1;
    }
    assert_eq!(limit, both(MIN_MAX_CHARS, MIN_MAX_BYTES));
    assert!(steps < 12, "{steps}");
    assert_eq!(Limit { chars: 3_900, bytes: Some(3_900) }.halved(), Some(both(1_950, 1_950)));
}

#[test]
fn a_ten_thousand_char_url_is_hard_cut() {
    let url = format!("https://example.com/{}", "a1b2c3".repeat(1_663));
    assert!(chars(&url) >= 9_990);
    let parts = split_message(&url, 2_000);
    assert_eq!(parts.len(), 5);
    assert!(parts[..4].iter().all(|p| chars(p) == 2_000));
    assert_eq!(parts.concat(), url);
}

#[test]
fn absurd_indentation_is_dropped_not_sent_as_blank_parts() {
    let text = format!("intro\n{}x", " ".repeat(100));
    check_invariants(&text, 16);
    assert_eq!(split_message(&text, 16), ["intro", "x"]);
}

#[test]
fn streaming_every_prefix_never_rewrites_a_finished_part() {
    let mut text = String::new();
    for i in 0..6 {
        text.push_str(&format!("Paragraph {i} says something. It goes on a bit!\n\n"));
    }
    text.push_str("```rust\nfn main() {\n    println!(\"hi\");\n}\n```\nDone 😀 日本.");
    for max in [16, 23, 40, 64] {
        let full = split_message(&text, max);
        for (end, _) in text.char_indices() {
            let parts = split_message(&text[..end], max);
            let finished = parts.len().saturating_sub(1);
            assert_eq!(parts[..finished], full[..finished], "prefix {end} at {max}");
        }
    }
}

/// Text built from pieces that exercise every kind of break and fences.
fn answer() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => "[a-z]{1,9}",
        2 => "[é日本語😀]{1,4}",
        1 => Just("👩\u{200D}💻".to_owned()),
        1 => Just("🇯🇵".to_owned()),
        1 => Just("。".to_owned()),
        4 => Just(" ".to_owned()),
        2 => Just(". ".to_owned()),
        1 => Just("! ".to_owned()),
        2 => Just("\n".to_owned()),
        2 => Just("\n\n".to_owned()),
        1 => Just("\n \t\n".to_owned()),
        1 => Just("\n    ".to_owned()),
        1 => Just("\n```bash\n".to_owned()),
        1 => Just("\n```\n".to_owned()),
        1 => Just("\n  ```py\n".to_owned()),
        1 => "[a-z0-9/:.]{20,90}",
    ];
    proptest::collection::vec(piece, 0..250).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold(text in answer(), max in 0usize..300) {
        check_invariants(&text, max);
    }

    #[test]
    fn invariants_hold_with_bytes(text in answer(), max in 0usize..300, bytes in 0usize..600) {
        check_invariants_within(&text, Limit { chars: max, bytes: Some(bytes) });
    }

    #[test]
    fn finished_parts_are_prefix_stable(
        text in answer(),
        more in answer(),
        max in 16usize..200,
    ) {
        let before = split_message(&text, max);
        let after = split_message(&format!("{text}{more}"), max);
        let finished = before.len().saturating_sub(1);
        prop_assert!(after.len() >= finished);
        prop_assert_eq!(&before[..finished], &after[..finished]);
    }

    #[test]
    fn balanced_input_gives_balanced_parts(text in answer(), max in 20usize..200) {
        // Close a fence the random text left open (all generated fences use 3 ticks).
        let text = match scan_fences(None, &text) {
            Some(_) => format!("{text}\n```"),
            None => text,
        };
        prop_assert_eq!(scan_fences(None, &text), None);
        for part in split_message(&text, max) {
            prop_assert_eq!(scan_fences(None, &part), None, "{}", part);
        }
    }
}
