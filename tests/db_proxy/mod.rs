//! A TCP forwarder to PostgreSQL that a test switches off and on: the database going
//! away and coming back, as the bridge sees it, without touching the machine's server.
#![allow(dead_code)]

use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP forwarder on 127.0.0.1 that can be switched off and on. Off, it cuts every
/// forwarded connection and closes new ones as soon as they are accepted, which a
/// client sees as a database gone away; on, it forwards again.
pub struct Proxy {
    pub port: u16,
    up: watch::Sender<bool>,
}

impl Proxy {
    /// Forwards to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watching) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*watching.borrow() {
                    continue; // dropped: closed at once
                }
                let (target, mut watching) = (target.clone(), watching.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = watching.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { port, up }
    }

    /// A proxy for the database of `url` and `url` pointed at it.
    pub async fn in_front_of(url: &str) -> (Self, String) {
        let mut parsed = url::Url::parse(url).unwrap();
        let target = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432));
        let proxy = Self::start(target).await;
        parsed.set_host(Some("127.0.0.1")).unwrap();
        parsed.set_port(Some(proxy.port)).unwrap();
        (proxy, parsed.to_string())
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

/// `GET {base}/readyz`: its status and body.
pub async fn readyz(base: &str) -> (u16, String) {
    let r = reqwest::get(format!("{base}/readyz")).await.expect("the endpoint answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Polls `/readyz` until its status is `status` (at most 20 s): readiness lives in
/// another process, so a bounded poll is the only way to observe it. Returns how long
/// it took and the body.
pub async fn wait_ready_status(base: &str, status: u16) -> (Duration, String) {
    let start = Instant::now();
    loop {
        let (got, body) = readyz(base).await;
        if got == status {
            return (start.elapsed(), body);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "/readyz stayed {got}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
