//! Files attached to a question (issue #14): text attachments are read from the CDN
//! (no token) and reach SiteAssist; the others are named in one line under the answer.

use super::*;

const LOG: &str = "2024-05-01 12:00:01 ERROR payment declined: card_expired\n";

#[tokio::test]
async fn a_log_is_read_an_image_and_a_huge_file_are_named_and_the_answer_still_comes() {
    let (fake, sim, mut bot) = setup(1).await;
    let log = fake.add_attachment("app.log", "text/plain; charset=utf-8", LOG.as_bytes().to_vec());
    let png = fake.add_attachment("shot.png", "image/png", b"\x89PNG\r\n\x1a\n".to_vec());
    let huge = fake.add_attachment("dump.txt", "text/plain", vec![b'x'; 5 * 1024 * 1024]);
    let id = fake.next_id();
    let mut d = Msg::mention(id, SUPPORT, "Why does checkout fail?").json();
    d["attachments"] = json!([log, png, huge]);
    fake.dispatch("MESSAGE_CREATE", d);
    assert_eq!(bot.message_outcome(id).await, QUEUED);

    fake.wait_until("the answer with its notes", WAIT, |r| {
        r.messages_in(id).last().is_some_and(|m| m.text().contains("Not read"))
    })
    .await;
    let shown = fake.read(|r| r.messages_in(id).last().unwrap().text().to_string());
    let asked = sim.sim.questions();
    assert_eq!(
        asked[0].content,
        format!("Why does checkout fail?\n\nFile: app.log\n```\n{}\n```", LOG.trim_end())
    );
    let answer = render(&answer_for(&asked[0].content));
    assert!(shown.starts_with(answer.trim_end()), "the answer, then the notes: {shown}");
    assert!(shown.contains("Not read (only text files are): `shot.png`"), "{shown}");
    assert!(shown.contains("Not read, larger than 100 KB: `dump.txt`"), "{shown}");
    // Discord says each size: only the log was downloaded, and with no token.
    let fetched = fake.read(|r| r.file_fetches.clone());
    assert_eq!(fetched, [("app.log".to_string(), None)]);
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn files_alone_get_a_line_not_silence() {
    let (fake, sim, mut bot) = setup(1).await;
    let png = fake.add_attachment("shot.png", "image/png", b"\x89PNG".to_vec());
    let id = fake.next_id();
    let mut d = Msg::dm(id, "").json();
    d["attachments"] = json!([png]);
    fake.dispatch("MESSAGE_CREATE", d);
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    reply_shown(&fake, DM, "📎 Not read (only text files are): `shot.png`").await;
    assert!(sim.sim.questions().is_empty(), "nothing to ask SiteAssist");
    assert!(fake.read(|r| r.file_fetches.is_empty()));
    bot.stop().await.unwrap();
}

#[tokio::test]
async fn a_file_off_the_cdn_is_not_fetched() {
    let (fake, sim, mut bot) = setup(1).await;
    let mut log = fake.add_attachment("app.log", "text/plain", LOG.as_bytes().to_vec());
    // Same fake server, but not under the configured CDN path.
    log["url"] = json!(format!("{}/api/v10/users/@me", fake.api_url));
    let id = fake.next_id();
    let mut d = Msg::dm(id, "What is this?").json();
    d["attachments"] = json!([log]);
    fake.dispatch("MESSAGE_CREATE", d);
    assert_eq!(bot.message_outcome(id).await, QUEUED);
    fake.wait_until("the answer with its notes", WAIT, |r| {
        r.messages_in(DM).last().is_some_and(|m| m.text().contains("Could not be read: `app.log`"))
    })
    .await;
    assert_eq!(sim.sim.questions()[0].content, "What is this?");
    assert_eq!(fake.read(|r| r.calls_of(Op::Me).len()), 1, "only the bot's own start-up call");
    bot.stop().await.unwrap();
}
