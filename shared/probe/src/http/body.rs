//! Reading a response body: decompressed on the way, never past the cap, stopping early once
//! the only needle has been seen.

use super::hyper_failure;
use crate::{Judgement, Step, Trace};
use atalaya_core::Reason;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::io::Write;

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A body buffer that refuses to grow past its cap.
struct Capped {
    buf: Vec<u8>,
    max: usize,
    over: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.max - self.buf.len();
        if data.len() > room {
            self.buf.extend_from_slice(&data[..room]);
            self.over = true;
            return Err(std::io::Error::other("body cap reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Capped),
    Gzip(flate2::write::GzDecoder<Capped>),
    Deflate(flate2::write::ZlibDecoder<Capped>),
}

impl Decoder {
    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Identity(c) => c.write_all(data),
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Deflate(d) => d.write_all(data),
        }
    }
    /// Flushes the decompressor; the result says whether the stream was complete and valid.
    fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Decoder::Identity(_) => Ok(()),
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Deflate(d) => d.try_finish(),
        }
    }
    fn out(&mut self) -> &mut Capped {
        match self {
            Decoder::Identity(c) => c,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Deflate(d) => d.get_mut(),
        }
    }
}

/// Reads the body, decompressing on the way, never past `max` decoded bytes, and stopping early
/// once `stop_at` has been seen.
pub(super) async fn read_body(
    mut body: Incoming,
    encoding: &str,
    max: u64,
    stop_at: Option<&[u8]>,
    trace: &mut Trace,
) -> Step<Vec<u8>> {
    trace.phase = "body";
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let capped = Capped {
        buf: Vec::new(),
        max,
        over: false,
    };
    let mut decoder = match encoding {
        "" | "identity" => Decoder::Identity(capped),
        "gzip" | "x-gzip" => Decoder::Gzip(flate2::write::GzDecoder::new(capped)),
        "deflate" => Decoder::Deflate(flate2::write::ZlibDecoder::new(capped)),
        other => {
            return Err(Judgement::down(
                Reason::Protocol,
                format!("unsupported content-encoding {other:?}"),
            ))
        }
    };
    let limit = |read: usize| {
        Judgement::down(
            Reason::BodyLimit,
            format!(
                "body exceeds the {} byte cap after decompression (read {read} bytes)",
                max
            ),
        )
    };
    // Only the bytes that arrived since the last look (plus an overlap) are searched.
    let mut scanned: usize = 0;
    let mut found = |c: &Capped| match stop_at {
        Some(needle) => {
            let from = scanned.saturating_sub(needle.len().saturating_sub(1));
            scanned = c.buf.len();
            contains(&c.buf[from..], needle)
        }
        None => false,
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| hyper_failure(&e, "body read failed"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let written = decoder.write(&data);
        let out = decoder.out();
        if found(out) {
            return Ok(std::mem::take(&mut out.buf));
        }
        if let Err(err) = written {
            if out.over {
                return Err(limit(out.buf.len()));
            }
            return Err(Judgement::down(
                Reason::Protocol,
                format!("body could not be decoded ({encoding}): {err}"),
            ));
        }
    }
    let result = decoder.finish();
    let out = decoder.out();
    if found(out) {
        return Ok(std::mem::take(&mut out.buf));
    }
    if out.over {
        return Err(limit(out.buf.len()));
    }
    if let Err(err) = result {
        return Err(Judgement::down(
            Reason::Protocol,
            format!("body could not be decoded ({encoding}): {err}"),
        ));
    }
    Ok(std::mem::take(&mut out.buf))
}
