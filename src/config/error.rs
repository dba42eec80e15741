//! [`ConfigError`] and the helpers that make it point somewhere: positions
//! (file:line:col) and the key a value belongs to.

use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
///
/// Display reads like
/// `config/dk.toml:14:11: zone "dk.": timeout (5s) must be shorter than interval (2s); …`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    ///
    /// The I/O error is part of the message and deliberately not a `source()`, so a
    /// caller printing the error chain (`{:#}`) shows the OS error once, not twice.
    #[error("{}: cannot read configuration file: {io}", path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O error (shown in the message).
        io: std::io::Error,
    },
    /// The text is not valid TOML, does not match the schema, or fails validation.
    #[error("{}: {message}", location(.path, *.position))]
    Invalid {
        /// The file the text came from.
        path: PathBuf,
        /// 1-based line and column (in characters) of the offending key or value, when known.
        position: Option<(usize, usize)>,
        /// What is wrong (with the key) and what to do about it.
        message: String,
    },
}

pub(super) fn location(path: &Path, position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, col)) => format!("{}:{line}:{col}", path.display()),
        None => path.display().to_string(),
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The key whose value starts at `offset`, if the line reads `key = value`.
pub(super) fn key_before(text: &str, offset: usize) -> Option<String> {
    let head = text.get(..offset.min(text.len()))?;
    let line = head.rsplit('\n').next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[') && !key.starts_with('#')).then(|| key.to_string())
}
