//! A real OpenID provider on loopback: panva's oidc-provider (npm, OpenID Certified), run by
//! `tests/oidc-provider/provider.mjs` with a public PKCE client for the page, RS256 JWT access
//! tokens for [`AUDIENCE`], an external-ID claim of its own, and its built-in login form.
//!
//! Needs node and `npm ci --prefix tests/oidc-provider` (`source scripts/setup.sh &&
//! setup_oidc_provider`; scripts/test.sh does): missing, it is a failure, never a skip.

use std::path::PathBuf;
use std::process::Command;

use crate::process::{Announced, free_port};

/// The API's audience at this provider: a resource indicator, so an absolute URI (RFC 8707).
pub const AUDIENCE: &str = "https://api.example-brand.test/bookings";
/// The page's public client.
pub const CLIENT_ID: &str = "bookings-page";
/// The claim its tokens carry the OmniLab external ID in.
pub const EXTERNAL_ID_CLAIM: &str = "omnilab_external_id";

pub struct OidcProvider {
    /// `http://127.0.0.1:<port>`, the issuer.
    pub issuer: String,
    port: u16,
    process: Option<Announced>,
}

impl OidcProvider {
    /// The provider's address, chosen now: the dev server must know its issuer before the
    /// provider can know the dev server's redirect URI.
    pub fn reserve() -> Self {
        let port = free_port();
        Self {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            process: None,
        }
    }

    /// Starts it, redirecting to `redirect_uri`; `accounts`: login name -> external ID.
    pub fn start(&mut self, name: &str, redirect_uri: &str, accounts: &serde_json::Value) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: `source scripts/setup.sh && setup_oidc_provider` \
             (npm ci --prefix tests/oidc-provider; scripts/test.sh does)"
        );
        let mut command = Command::new("node");
        command
            .arg(dir.join("provider.mjs"))
            .env("PORT", self.port.to_string())
            .env("REDIRECT_URIS", redirect_uri)
            .env("CLIENT_ID", CLIENT_ID)
            .env("AUDIENCE", AUDIENCE)
            .env("EXTERNAL_ID_CLAIM", EXTERNAL_ID_CLAIM)
            .env("ACCOUNTS", accounts.to_string());
        let process = Announced::start(
            command,
            &format!("{name}-oidc-provider"),
            "oidc-provider ready at ",
        );
        assert_eq!(
            process.ready_line,
            format!("oidc-provider ready at {}", self.issuer),
            "the provider took the port it was given"
        );
        self.process = Some(process);
    }
}
