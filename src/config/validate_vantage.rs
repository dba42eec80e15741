//! Raw → validated for `[vantage]` and `[[peer]]`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::raw::*;
use super::validate::Cx;
use super::vantage::*;

impl Cx<'_> {
    pub(super) fn vantage(&self, raw: Option<RawVantage>) -> Result<VantageConfig, ConfigError> {
        let ctx = "[vantage] ";
        let mut v = VantageConfig::default();
        let Some(raw) = raw else { return Ok(v) };
        if let Some(n) = &raw.name {
            let name = n.get_ref().trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(self.at(n, format!("{ctx}name: {:?} is not a vantage name; write letters, digits, '-', '_' or '.', like \"cph-1\"", n.get_ref())));
            }
            v.name = name.to_string();
        }
        if let Some(l) = &raw.location {
            v.location = l.get_ref().trim().to_string();
        }
        if let Some(s) = &raw.source_address {
            let ip: IpAddr = s.get_ref().trim().parse().map_err(|_| {
                self.at(s, format!("{ctx}source_address: {:?} is not an IP address; write a local address like \"192.0.2.10\" or \"2001:db8::10\"", s.get_ref()))
            })?;
            v.source_address = Some(ip);
        }
        for t in &raw.observation_tokens {
            if t.get_ref().len() < 16 || t.get_ref().chars().any(|c| c.is_whitespace()) {
                return Err(self.at(t, format!("{ctx}observation_tokens: a token must be at least 16 characters without spaces; generate one with `openssl rand -hex 24`")));
            }
            v.observation_tokens.push(t.get_ref().clone());
        }
        if let Some(q) = &raw.quorum {
            if *q.get_ref() == 0 {
                return Err(self.at(q, format!("{ctx}quorum must be at least 1 (or leave it out for a majority of the vantages reporting)")));
            }
            v.quorum = Some(*q.get_ref() as usize);
        }
        v.max_age = self.duration(ctx, "max_age", &raw.max_age, v.max_age, false)?;
        Ok(v)
    }

    pub(super) fn peer(&self, index: usize, raw: &RawPeer) -> Result<PeerConfig, ConfigError> {
        let ctx = format!("peer #{index}: ");
        let url = raw.url.get_ref().trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(self.at(&raw.url, format!("{ctx}url: {:?} is not an http(s) URL; write the peer's base URL like \"https://fra-1.example.net:9853\"", raw.url.get_ref())));
        }
        let path = |v: &Option<S<String>>| v.as_ref().map(|p| PathBuf::from(p.get_ref().trim()));
        if raw.client_cert.is_some() != raw.client_key.is_some() {
            let at = raw.client_cert.as_ref().or(raw.client_key.as_ref());
            return Err(self.err(at.map(|s| s.span()), format!("{ctx}client_cert and client_key go together; set both (PEM files) for mTLS, or neither")));
        }
        if raw.token.is_none() && raw.client_cert.is_none() {
            return Err(self.at(&raw.url, format!("{ctx}no credentials: set token = \"...\" (one of the peer's [vantage] observation_tokens) or client_cert and client_key for mTLS")));
        }
        Ok(PeerConfig {
            url,
            token: raw.token.as_ref().map(|t| t.get_ref().trim().to_string()),
            ca_file: path(&raw.ca_file),
            client_cert: path(&raw.client_cert),
            client_key: path(&raw.client_key),
            interval: self.duration(
                &ctx,
                "interval",
                &raw.interval,
                Duration::from_secs(2),
                false,
            )?,
            timeout: self.duration(&ctx, "timeout", &raw.timeout, Duration::from_secs(5), false)?,
        })
    }
}
