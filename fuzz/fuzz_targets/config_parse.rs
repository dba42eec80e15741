//! The TOML config parser and validator (`config::parse`) on arbitrary text.
//! Invariants: no panic; an error renders to a non-empty message that names the file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match nsprobe::config::parse(text, Path::new("fuzz.toml")) {
        Ok(config) => assert!(!config.zones.is_empty()),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("fuzz.toml"), "error does not name the file: {msg}");
        }
    }
});
