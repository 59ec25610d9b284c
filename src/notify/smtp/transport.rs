//! One mail over one SMTP connection, every wait bounded.
//!
//! lettre's `AsyncSmtpTransport` bounds only the TCP connect: once connected, a server
//! that never answers holds it forever. So kad drives lettre's `AsyncSmtpConnection`
//! (the transport's own building block: EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA with
//! dot-stuffing) over a stream that fails any read or write making no progress for
//! `smtp_connect_timeout`, which is keepalived's rule for each reply. With implicit TLS
//! lettre must open the connection itself, so there only the connect is bounded that
//! way; the whole-mail bound ([`MAIL_DEADLINE_FACTOR`]) covers everything else.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::DEFAULT_MECHANISMS;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Sleep};

use super::relay::{Relay, Security};

/// A whole mail — name resolution, connect, TLS, AUTH, the dialogue up to the server's
/// answer to the message — gets at most this many `smtp_connect_timeout`s (2 minutes
/// with the default 30 s). Each step is bounded by one timeout already; this stops a
/// server that answers every step just in time from holding the queue longer.
pub const MAIL_DEADLINE_FACTOR: u32 = 4;

/// The step a delivery failed at, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resolve,
    Connect,
    Greeting,
    StartTls,
    Auth,
    Transfer,
    Deadline,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Resolve => "resolving the server name",
            Step::Connect => "connecting",
            Step::Greeting => "greeting/EHLO",
            Step::StartTls => "STARTTLS",
            Step::Auth => "AUTH",
            Step::Transfer => "MAIL/RCPT/DATA",
            Step::Deadline => "whole mail",
        })
    }
}

/// A failed delivery: where, and what the server (or the network) said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub step: Step,
    pub detail: String,
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.detail)
    }
}

fn failed(step: Step, detail: impl fmt::Display) -> DeliveryError {
    DeliveryError {
        step,
        detail: detail.to_string(),
    }
}

/// Sends `message` (headers and body, without the final dot) to the relay.
pub async fn deliver(relay: &Relay, message: &[u8]) -> Result<(), DeliveryError> {
    let limit = relay.timeout * MAIL_DEADLINE_FACTOR;
    let mut connection = match timeout(limit, transfer(relay, message)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(failed(
                Step::Deadline,
                format!("not finished within {}s", limit.as_secs()),
            ))
        }
    };
    // The server has taken the mail: a QUIT that goes wrong changes nothing.
    let _ = timeout(relay.timeout, connection.quit()).await;
    Ok(())
}

async fn transfer(relay: &Relay, message: &[u8]) -> Result<AsyncSmtpConnection, DeliveryError> {
    let hello = ClientId::Domain(relay.helo.clone());
    let addresses = resolve(relay).await?;
    let mut connection = match &relay.security {
        Security::Plain | Security::StartTls(_) => {
            let stream = connect(&addresses, relay.timeout).await?;
            let stream = Box::new(DeadlineStream::new(stream, relay.timeout));
            AsyncSmtpConnection::connect_with_transport(stream, &hello)
                .await
                .map_err(|e| failed(Step::Greeting, e))?
        }
        Security::Implicit(tls) => AsyncSmtpConnection::connect_tokio1(
            &addresses[..],
            Some(relay.timeout),
            &hello,
            Some(tls.clone()),
            None,
        )
        .await
        .map_err(|e| failed(Step::Greeting, e))?,
    };
    if let Security::StartTls(tls) = &relay.security {
        connection
            .starttls(tls.clone(), &hello)
            .await
            .map_err(|e| failed(Step::StartTls, e))?;
    }
    if let Some(credentials) = &relay.credentials {
        connection
            .auth(DEFAULT_MECHANISMS, credentials)
            .await
            .map_err(|e| failed(Step::Auth, e))?;
    }
    connection
        .send(&relay.envelope, message)
        .await
        .map_err(|e| failed(Step::Transfer, e))?;
    Ok(connection)
}

async fn resolve(relay: &Relay) -> Result<Vec<SocketAddr>, DeliveryError> {
    let host = relay.server.host.as_str();
    let lookup = tokio::net::lookup_host((host, relay.server.port));
    let addresses: Vec<SocketAddr> = match timeout(relay.timeout, lookup).await {
        Ok(Ok(addresses)) => addresses.collect(),
        Ok(Err(e)) => {
            return Err(failed(
                Step::Resolve,
                format!("cannot resolve '{host}': {e}"),
            ))
        }
        Err(_) => {
            return Err(failed(
                Step::Resolve,
                format!(
                    "cannot resolve '{host}': no answer within {}s",
                    relay.timeout.as_secs()
                ),
            ))
        }
    };
    if addresses.is_empty() {
        return Err(failed(Step::Resolve, format!("'{host}' has no address")));
    }
    Ok(addresses)
}

/// Tries each address in turn, as keepalived would try its single resolved one.
async fn connect(addresses: &[SocketAddr], limit: Duration) -> Result<TcpStream, DeliveryError> {
    let mut errors = Vec::new();
    for address in addresses {
        match timeout(limit, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => errors.push(format!("{address}: {e}")),
            Err(_) => errors.push(format!("{address}: no answer within {}s", limit.as_secs())),
        }
    }
    Err(failed(Step::Connect, errors.join("; ")))
}

/// A TCP stream whose reads and writes fail with `TimedOut` after `limit` without
/// progress. A new timer starts with each operation that has to wait.
#[derive(Debug)]
struct DeadlineStream {
    inner: TcpStream,
    limit: Duration,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineStream {
    fn new(inner: TcpStream, limit: Duration) -> DeadlineStream {
        DeadlineStream {
            inner,
            limit,
            read_timer: None,
            write_timer: None,
        }
    }
}

/// Passes a ready result through, or fails once the operation has waited `limit`.
fn bounded<T>(
    result: Poll<io::Result<T>>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Duration,
    cx: &mut Context<'_>,
    waiting_for: &str,
) -> Poll<io::Result<T>> {
    if result.is_ready() {
        *timer = None;
        return result;
    }
    let expiry = timer.get_or_insert_with(|| Box::pin(sleep(limit)));
    match expiry.as_mut().poll(cx) {
        Poll::Ready(()) => {
            *timer = None;
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no {waiting_for} within {}s", limit.as_secs()),
            )))
        }
        Poll::Pending => Poll::Pending,
    }
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        bounded(
            result,
            &mut this.read_timer,
            this.limit,
            cx,
            "reply from the server",
        )
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        bounded(
            result,
            &mut this.write_timer,
            this.limit,
            cx,
            "room to send to the server",
        )
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        bounded(
            result,
            &mut this.write_timer,
            this.limit,
            cx,
            "room to send to the server",
        )
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for DeadlineStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let mut stream = DeadlineStream::new(client, Duration::from_secs(2));

        server.write_all(b"220 hi\r\n").await.unwrap();
        let mut buf = [0u8; 8];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"220 hi\r\n");

        let e = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), "no reply from the server within 2s");
    }
}
