//! A TCP proxy in front of a server, for connection-loss tests: [`Proxy::cut`]
//! closes every connection through it and refuses new ones until
//! [`Proxy::restore`], as a network drop or a server restart would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    /// Bumped by each cut: connections opened before it close.
    generation: watch::Sender<usize>,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let down = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (generation, _) = watch::channel(0usize);
        let task = tokio::spawn({
            let (down, accepted, generation) = (down.clone(), accepted.clone(), generation.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        // Refused: closed as soon as it opens.
                        drop(client);
                        continue;
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let mut cut = generation.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                        // Dropping both sockets closes them mid-conversation.
                    });
                }
            }
        });
        Proxy {
            addr,
            down,
            generation,
            accepted,
            task,
        }
    }

    /// The port clients connect to instead of the server's.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted (and forwarded) so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}

/// The server address in a `postgres://user@host:port/db` URL.
pub fn upstream(url: &str) -> SocketAddr {
    use std::net::ToSocketAddrs;
    let authority = host_port(url);
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:5432")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("no address for {with_port}"))
}

/// `url` with its host and port replaced by the proxy's.
pub fn through(url: &str, port: u16) -> String {
    url.replacen(host_port(url), &format!("127.0.0.1:{port}"), 1)
}

fn host_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_to_the_proxy() {
        let url = "postgres://postgres:pw@127.0.0.1:5432/amboy_test_1";
        assert_eq!(upstream(url), "127.0.0.1:5432".parse().unwrap());
        assert_eq!(
            through(url, 6000),
            "postgres://postgres:pw@127.0.0.1:6000/amboy_test_1"
        );
        assert_eq!(upstream("postgres://localhost/db").port(), 5432);
    }
}
