//! Configuration: TOML file → validated [`Config`].
//!
//! [`load`] reads a file, [`parse`] validates text. The module is split by concern:
//! - `types.rs`: the validated types the rest of nsprobe reads;
//! - `raw.rs`: the private serde layer (`Raw*`, unknown keys rejected, values wrapped in
//!   [`toml::Spanned`] so errors can point at them);
//! - `groups.rs`: the validated service groups, components and checks;
//! - `validate.rs`: raw → validated, one check at a time (`validate_groups.rs`: `[[group]]`);
//! - `values.rs`: parsers for single values (addresses, host names, timestamps);
//! - `error.rs`: [`ConfigError`] and positions (file:line:col);
//! - `hints.rs`: what to write for a key, the table an error is in, "did you mean" suggestions.
//!
//! Every error names the file, the line and column of the offending key or value,
//! the key, and what to write instead. The key reference is `README.md, section Configuration`.

use std::path::Path;

mod error;
mod groups;
mod hints;
mod raw;
mod types;
mod validate;
mod validate_groups;
mod validate_vantage;
mod values;
mod vantage;

#[cfg(test)]
mod tests;

pub use error::ConfigError;
pub use groups::*;
pub use types::*;
pub use vantage::*;

/// Read and validate the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|io| ConfigError::Read {
        path: path.to_path_buf(),
        io,
    })?;
    parse(&text, path)
}

/// Validate configuration `text`; `source` names the file in errors and in [`Config::source`].
pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigError> {
    validate::parse(text, source)
}
