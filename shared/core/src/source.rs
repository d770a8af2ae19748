//! Reading the files a deployment is made of (the checks file, customers' templates): bounded,
//! so that a wrong path (`/dev/zero`, a log file) is an error rather than all the memory there
//! is, and checked to be UTF-8 text, with the place of the first byte that is not.

use crate::at::Pos;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest checks file read: far above 20,000 checks (about 2 MB).
pub const MAX_CHECKS_FILE: u64 = 16 << 20;
/// The largest customer template file read (a message body is at most 256 KB).
pub const MAX_TEMPLATE_FILE: u64 = 256 << 10;

/// Why a file could not be read as text.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be opened or read (missing, no permission, a folder...).
    Io(std::io::Error),
    /// It is larger than `max` bytes.
    TooLarge { max: u64 },
    /// It is not UTF-8: the first byte that is not, at `pos`.
    NotText { pos: Pos, byte: u8 },
}

impl ReadError {
    /// Where in the file the problem is, if it is in the file.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            ReadError::NotText { pos, .. } => Some(*pos),
            ReadError::TooLarge { .. } => Some(Pos { line: 1, col: 1 }),
            ReadError::Io(_) => None,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read it: {e}"),
            ReadError::TooLarge { max } => {
                write!(
                    f,
                    "the file is larger than {}: is this the right file?",
                    size(*max)
                )
            }
            ReadError::NotText { byte, .. } => write!(
                f,
                "not UTF-8 text: byte 0x{byte:02x} here; save the file as UTF-8"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads `path` as UTF-8 text of at most `max` bytes, never reading more than `max + 1`.
pub fn read_text(path: &Path, max: u64) -> Result<String, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge { max });
    }
    text(bytes)
}

/// `bytes` as text, or where the first byte that is not UTF-8 is (line and column in characters).
pub fn text(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // The prefix is valid UTF-8 by construction.
        let before = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        ReadError::NotText {
            pos: Pos {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                col: u32::try_from(col).unwrap_or(u32::MAX),
            },
            byte: bytes.get(valid).copied().unwrap_or_default(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_that_is_not_utf8_is_placed_by_line_and_column_in_characters() {
        let e = text(b"checks:\n  - id: \xc3\xb1a\xff\n".to_vec()).unwrap_err();
        assert_eq!(e.pos(), Some(Pos { line: 2, col: 11 }));
        assert_eq!(
            e.to_string(),
            "not UTF-8 text: byte 0xff here; save the file as UTF-8"
        );
    }

    #[test]
    fn an_endless_file_is_read_no_further_than_the_limit() {
        let e = read_text(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(
            matches!(e, ReadError::TooLarge { max } if max == 1 << 20),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "the file is larger than 1 MiB: is this the right file?"
        );
    }
}
