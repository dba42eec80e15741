//! JSON bodies for the error responses hyper writes by itself.
//!
//! When a request cannot be parsed at all — a head larger than the read buffer
//! (431), too many headers (431), a malformed request line (400) — hyper answers
//! before any middleware runs, with an empty body. [`JsonErrors`] wraps the
//! connection's I/O and rewrites exactly those responses: a `4xx`/`5xx` status line
//! whose head carries `content-length: 0`. Responses from the router never match,
//! since every error it sends has a JSON body (`layers::json_errors`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The connection's I/O, with hyper's own empty error responses given a JSON body.
#[derive(Debug)]
pub struct JsonErrors<IO> {
    inner: IO,
    /// A rewritten response being written: bytes, how many are written, and how many
    /// bytes of the caller's buffer it stands for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<IO> JsonErrors<IO> {
    /// Wraps `inner`.
    pub fn new(inner: IO) -> Self {
        JsonErrors {
            inner,
            pending: None,
        }
    }
}

/// The rewritten response for `head` if it is one of hyper's empty error responses.
pub fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let end = text.find("\r\n\r\n")?;
    if end + 4 != text.len() {
        return None; // a body follows: not an empty error response
    }
    let status_line = text.lines().next()?;
    let rest = status_line.strip_prefix("HTTP/1.")?.get(2..)?;
    let (code, reason) = rest.split_once(' ')?;
    if !(code.starts_with('4') || code.starts_with('5')) || code.len() != 3 {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let message = match code {
        "431" => "request head too large (nsprobe.max_header_bytes) or too many header fields",
        "400" => "malformed HTTP request",
        _ => reason,
    };
    let body = serde_json::json!({ "error": message }).to_string();
    let start = lower.find("\r\ncontent-length: 0\r\n")?;
    let old = "\r\ncontent-length: 0\r\n".len();
    let mut out = String::with_capacity(text.len() + body.len() + 64);
    out.push_str(text.get(..start)?);
    out.push_str("\r\ncontent-type: application/json\r\ncontent-length: ");
    out.push_str(&body.len().to_string());
    out.push_str("\r\n");
    out.push_str(text.get(start + old..)?);
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> JsonErrors<IO> {
    /// Writes what is left of a rewritten response; Ready(n) once all of it is out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, stands_for)) = &mut self.pending {
            if *written >= bytes.len() {
                let n = *stands_for;
                self.pending = None;
                return Poll::Ready(Ok(n));
            }
            let rest = bytes.get(*written..).unwrap_or_default();
            match Pin::new(&mut self.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.pending.is_none() {
            if let Some(bytes) = rewrite(buf) {
                me.pending = Some((bytes, 0, buf.len()));
            } else {
                return Pin::new(&mut me.inner).poll_write(cx, buf);
            }
        }
        me.poll_pending(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.pending.is_none() {
            let mut parts = bufs.iter().filter(|b| !b.is_empty());
            match (parts.next(), parts.next()) {
                (Some(only), None) => match rewrite(only) {
                    Some(bytes) => me.pending = Some((bytes, 0, only.len())),
                    None => return Pin::new(&mut me.inner).poll_write_vectored(cx, bufs),
                },
                _ => return Pin::new(&mut me.inner).poll_write_vectored(cx, bufs),
            }
        }
        me.poll_pending(cx)
    }

    /// As the wrapped stream: hyper then queues large bodies instead of copying them
    /// into its own buffer.
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = &mut *self;
        if me.pending.is_some() {
            match me.poll_pending(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_empty_errors_get_a_json_body() {
        let head = "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 26 Nov 2026 11:10:59 GMT\r\n\r\n";
        let out = String::from_utf8(rewrite(head.as_bytes()).expect("rewritten")).unwrap();
        let (h, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(h.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(h.contains("\r\ncontent-type: application/json\r\n"));
        assert!(h.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert!(h.contains("\r\nconnection: close"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("too large"));
        let bad = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let out = String::from_utf8(rewrite(bad.as_bytes()).unwrap()).unwrap();
        assert!(
            out.ends_with("{\"error\":\"malformed HTTP request\"}"),
            "{out}"
        );
    }

    #[test]
    fn everything_else_passes_unchanged() {
        for head in [
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\ncontent-length: 12\r\n\r\n",
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\nbody",
            "nsprobe_up 1\n",
            "",
        ] {
            assert_eq!(rewrite(head.as_bytes()), None, "{head}");
        }
    }
}
