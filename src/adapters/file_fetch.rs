//! Fetching a file attached to a message, for the adapters' `fetch_file`.
//!
//! The address comes from the platform's event, and on Slack the bot token goes with
//! the request, so the address is checked before anything is sent: it must be on the
//! platform's file host as configured (`slack.files_url`, `discord.cdn_url`; the tests
//! point them at their fakes). Redirects are not followed (a credential must not travel
//! on to another host), and the body is read only up to the limit. Errors never carry
//! the address (Discord's are signed) or the token.

use crate::bridge::adapter::FileError;
use crate::secret::Secret;
use futures_util::StreamExt;
use std::time::Duration;
use url::Url;

/// A file that takes longer than this to arrive is left out of the question.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// A platform's file host, and the credential that goes only there.
pub(crate) struct FileHost {
    client: reqwest::Client,
    /// `None` when the configured URL does not parse (`validate` refuses that at
    /// start): then nothing is fetched.
    base: Option<Url>,
    bearer: Option<Secret>,
}

impl FileHost {
    /// Files under `base`, fetched with `bearer` (Slack's bot token) when given. The
    /// client follows no redirects and gives up after a whole-request timeout.
    pub(crate) fn new(base: &str, bearer: Option<Secret>) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { client, base: Url::parse(base).ok(), bearer }
    }

    /// The file at `url`, at most `max_bytes` (see [`fetch`]).
    pub(crate) async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FileError> {
        let base = self.base.as_ref().ok_or_else(|| {
            FileError::NotAllowed("the file host setting is not a URL".to_string())
        })?;
        fetch(&self.client, url, base, self.bearer.as_ref(), max_bytes).await
    }
}

/// Whether `url` is under `base`: same scheme, host and port, path within base's path,
/// http or https only. Pure.
pub(crate) fn allowed(url: &str, base: &Url) -> Result<Url, FileError> {
    let not = |why: &str| FileError::NotAllowed(why.to_string());
    let url = Url::parse(url).map_err(|_| not("not a URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(not("not http(s)"));
    }
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    let base_path = base.path();
    let within = url.path().starts_with(base_path)
        && (base_path.ends_with('/') || url.path()[base_path.len()..].starts_with('/'));
    let no_credentials = url.username().is_empty() && url.password().is_none();
    if !(same_origin && within && no_credentials) {
        return Err(not("not on the platform's file host"));
    }
    Ok(url)
}

/// GETs `url` (checked against `base`) with `bearer` as its credential, if any, reading
/// at most `max_bytes`.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    base: &Url,
    bearer: Option<&Secret>,
    max_bytes: usize,
) -> Result<Vec<u8>, FileError> {
    let url = allowed(url, base)?;
    let mut req = client.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token.expose());
    }
    let failed = |e: reqwest::Error| FileError::Failed(e.without_url().to_string());
    let response = req.send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FileError::Failed(format!("HTTP {status}")));
    }
    let too_large = FileError::TooLarge { limit: max_bytes };
    if response.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(failed)?;
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_platforms_file_host_is_fetched_from() {
        let slack = Url::parse("https://files.slack.com/").unwrap();
        let fake = Url::parse("http://127.0.0.1:4000/files").unwrap();
        let table = [
            (&slack, "https://files.slack.com/files-pri/T1-F1/app.log", true),
            (&slack, "http://files.slack.com/files-pri/T1-F1/app.log", false),
            (&slack, "https://files.slack.com.evil.example/x", false),
            (&slack, "https://evil.example/files.slack.com/x", false),
            (&slack, "https://files.slack.com:8443/x", false),
            (&slack, "https://user@files.slack.com/x", false),
            (&slack, "https://:pw@files.slack.com/x", false),
            (&slack, "file:///etc/passwd", false),
            (&slack, "not a url", false),
            (&fake, "http://127.0.0.1:4000/files/F1/app.log", true),
            (&fake, "http://127.0.0.1:4000/filesystem/x", false),
            (&fake, "http://127.0.0.1:4001/files/x", false),
            (&fake, "http://localhost:4000/files/x", false),
        ];
        for (base, url, ok) in table {
            assert_eq!(allowed(url, base).is_ok(), ok, "{url} under {base}");
        }
    }
}
