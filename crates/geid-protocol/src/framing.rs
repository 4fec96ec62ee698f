//! Native-messaging framing: a 32-bit length in native byte order, then UTF-8 JSON.
//!
//! Chrome and Firefox use the same framing on the host's stdin/stdout. Limits are geid's own:
//! 64 KiB from the browser (the largest legitimate request, `sign` with a certificate, is a few
//! KiB) and 1 MiB towards the browser (the browsers' own ceiling). An oversized frame from the
//! browser is skipped, so the stream stays in step and the host can answer with an error.

use std::io::{self, Read, Write};

/// Largest frame accepted from the browser (browser → host).
pub const MAX_INCOMING_FRAME: usize = 64 * 1024;
/// Largest frame sent to the browser (host → browser).
pub const MAX_OUTGOING_FRAME: usize = 1024 * 1024;

/// A framing failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream ended inside the 4-byte length.
    #[error("stream ended inside a frame length ({got} of 4 bytes)")]
    TruncatedLength {
        /// Bytes of the length read.
        got: usize,
    },
    /// The stream ended inside a frame body.
    #[error("stream ended inside a frame body ({got} of {expected} bytes)")]
    TruncatedBody {
        /// The announced length.
        expected: usize,
        /// Bytes read.
        got: usize,
    },
    /// The frame exceeds the limit. When reading, the body has been skipped and the stream is
    /// still usable.
    #[error("frame of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The announced or actual length.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// An I/O error other than a clean end of stream.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// `true` when the stream can no longer be used (truncation or I/O failure); `false` when
    /// only this frame was refused.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, FrameError::TooLarge { .. })
    }
}

/// Reads up to `buf.len()` bytes, stopping early only at end of stream; returns bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads one frame. Returns `Ok(None)` at a clean end of stream (between frames).
pub fn read_frame<R: Read>(r: &mut R, limit: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len_buf = [0u8; 4];
    match read_full(r, &mut len_buf)? {
        0 => return Ok(None),
        4 => {}
        got => return Err(FrameError::TruncatedLength { got }),
    }
    let len = u32::from_ne_bytes(len_buf) as usize;
    if len > limit {
        let skipped = io::copy(&mut r.take(len as u64), &mut io::sink())? as usize;
        if skipped < len {
            return Err(FrameError::TruncatedBody {
                expected: len,
                got: skipped,
            });
        }
        return Err(FrameError::TooLarge { len, limit });
    }
    let mut body = vec![0u8; len];
    let got = read_full(r, &mut body)?;
    if got < len {
        return Err(FrameError::TruncatedBody { expected: len, got });
    }
    Ok(Some(body))
}

/// Writes one frame and flushes. Refuses payloads over `limit` without writing anything.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8], limit: usize) -> Result<(), FrameError> {
    let len = check_len(payload, limit)?;
    w.write_all(&len.to_ne_bytes())?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(())
}

fn check_len(payload: &[u8], limit: usize) -> Result<u32, FrameError> {
    if payload.len() > limit {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            limit,
        });
    }
    u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len(),
        limit: u32::MAX as usize,
    })
}

/// Encodes a frame into a new buffer.
pub fn encode_frame(payload: &[u8], limit: usize) -> Result<Vec<u8>, FrameError> {
    let len = check_len(payload, limit)?;
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Async framing over tokio's `AsyncRead` / `AsyncWrite`, with the same rules.
#[cfg(feature = "tokio")]
pub mod nonblocking {
    use super::{check_len, FrameError};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            match r.read(&mut buf[got..]).await? {
                0 => break,
                n => got += n,
            }
        }
        Ok(got)
    }

    /// Reads one frame; `Ok(None)` at a clean end of stream.
    pub async fn read_frame<R: AsyncRead + Unpin>(
        r: &mut R,
        limit: usize,
    ) -> Result<Option<Vec<u8>>, FrameError> {
        let mut len_buf = [0u8; 4];
        match read_full(r, &mut len_buf).await? {
            0 => return Ok(None),
            4 => {}
            got => return Err(FrameError::TruncatedLength { got }),
        }
        let len = u32::from_ne_bytes(len_buf) as usize;
        if len > limit {
            let skipped =
                tokio::io::copy(&mut r.take(len as u64), &mut tokio::io::sink()).await? as usize;
            if skipped < len {
                return Err(FrameError::TruncatedBody {
                    expected: len,
                    got: skipped,
                });
            }
            return Err(FrameError::TooLarge { len, limit });
        }
        let mut body = vec![0u8; len];
        let got = read_full(r, &mut body).await?;
        if got < len {
            return Err(FrameError::TruncatedBody { expected: len, got });
        }
        Ok(Some(body))
    }

    /// Writes one frame and flushes.
    pub async fn write_frame<W: AsyncWrite + Unpin>(
        w: &mut W,
        payload: &[u8],
        limit: usize,
    ) -> Result<(), FrameError> {
        let len = check_len(payload, limit)?;
        w.write_all(&len.to_ne_bytes()).await?;
        w.write_all(payload).await?;
        w.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn frame(len: u32, body: &[u8]) -> Vec<u8> {
        let mut v = len.to_ne_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn reads_frames_in_sequence_then_clean_eof() {
        let mut data = frame(2, b"{}");
        data.extend(frame(0, b""));
        data.extend(frame(5, b"hello"));
        let mut r = Cursor::new(data);
        assert_eq!(read_frame(&mut r, 64).unwrap().unwrap(), b"{}");
        assert_eq!(read_frame(&mut r, 64).unwrap().unwrap(), b"");
        assert_eq!(read_frame(&mut r, 64).unwrap().unwrap(), b"hello");
        assert!(read_frame(&mut r, 64).unwrap().is_none());
    }

    #[test]
    fn length_is_native_endian() {
        let enc = encode_frame(b"abc", 10).unwrap();
        assert_eq!(enc[..4], 3u32.to_ne_bytes());
    }

    #[test]
    fn truncated_length_and_body_are_fatal() {
        let mut r = Cursor::new(vec![1, 0]);
        let e = read_frame(&mut r, 64).unwrap_err();
        assert!(matches!(e, FrameError::TruncatedLength { got: 2 }));
        assert!(e.is_fatal());
        let mut r = Cursor::new(frame(10, b"abc"));
        let e = read_frame(&mut r, 64).unwrap_err();
        assert!(matches!(
            e,
            FrameError::TruncatedBody {
                expected: 10,
                got: 3
            }
        ));
    }

    #[test]
    fn oversized_frame_is_skipped_and_stream_continues() {
        let mut data = frame(100, &[b'x'; 100]);
        data.extend(frame(2, b"ok"));
        let mut r = Cursor::new(data);
        let e = read_frame(&mut r, 64).unwrap_err();
        assert!(matches!(
            e,
            FrameError::TooLarge {
                len: 100,
                limit: 64
            }
        ));
        assert!(!e.is_fatal());
        assert_eq!(read_frame(&mut r, 64).unwrap().unwrap(), b"ok");
    }

    #[test]
    fn huge_announced_length_with_short_stream_is_truncation_not_allocation() {
        let mut r = Cursor::new(frame(u32::MAX, b"tiny"));
        let e = read_frame(&mut r, MAX_INCOMING_FRAME).unwrap_err();
        assert!(matches!(e, FrameError::TruncatedBody { got: 4, .. }));
    }

    #[test]
    fn write_refuses_oversized_without_writing() {
        let mut out = Vec::new();
        let e = write_frame(&mut out, &[0; 11], 10).unwrap_err();
        assert!(matches!(e, FrameError::TooLarge { len: 11, limit: 10 }));
        assert!(out.is_empty());
        write_frame(&mut out, &[0; 10], 10).unwrap();
        assert_eq!(out.len(), 14);
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn async_codec_matches_blocking_codec() {
        let mut out = Vec::new();
        nonblocking::write_frame(&mut out, b"{\"id\":\"1\"}", 64)
            .await
            .unwrap();
        out.extend(frame(100, &[0; 100]));
        out.extend(frame(1, b"x"));
        let mut blocking_copy = Cursor::new(out.clone());
        assert_eq!(
            read_frame(&mut blocking_copy, 64).unwrap().unwrap(),
            b"{\"id\":\"1\"}"
        );
        let mut r = out.as_slice();
        assert_eq!(
            nonblocking::read_frame(&mut r, 64).await.unwrap().unwrap(),
            b"{\"id\":\"1\"}"
        );
        assert!(matches!(
            nonblocking::read_frame(&mut r, 64).await,
            Err(FrameError::TooLarge { len: 100, .. })
        ));
        assert_eq!(
            nonblocking::read_frame(&mut r, 64).await.unwrap().unwrap(),
            b"x"
        );
        assert!(nonblocking::read_frame(&mut r, 64).await.unwrap().is_none());
        let mut r: &[u8] = &[1, 2, 3];
        assert!(matches!(
            nonblocking::read_frame(&mut r, 64).await,
            Err(FrameError::TruncatedLength { got: 3 })
        ));
    }

    proptest! {
        #[test]
        fn frames_round_trip(payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let mut buf = Vec::new();
            for p in &payloads {
                write_frame(&mut buf, p, 1024).unwrap();
            }
            let mut r = Cursor::new(buf);
            for p in &payloads {
                let got = read_frame(&mut r, 1024).unwrap().unwrap();
                prop_assert_eq!(&got, p);
            }
            prop_assert!(read_frame(&mut r, 1024).unwrap().is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut r = Cursor::new(bytes);
            for _ in 0..10 {
                match read_frame(&mut r, 64) {
                    Ok(None) => break,
                    Ok(Some(_)) => {}
                    Err(e) if e.is_fatal() => break,
                    Err(_) => {}
                }
            }
        }
    }
}
