//! The sandbox over HTTPS under a tenant's real host name, and the app (or a binary's
//! environment) that reaches it the way production reaches OmniLab: `https://` to
//! `<tenant>.api.omnilab-<env>.21-digital.com`, rustls, ALPN, SNI. Only two things differ from
//! a deployed function, both through the product's `test-tls` feature: the host resolves to the
//! sandbox on loopback, and the sandbox's authority is trusted besides the Mozilla roots.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use bookings::config::UpstreamPolicy;
use bookings::omnilab::TestTls;
use bookings::{App, Config};
use sandbox::tls::{Authority, Presented, Protocols, Tls, TlsSandbox};
use sandbox::{Sandbox, SandboxData};

use crate::{World, function_env, secrets};

/// The tenant and environment the HTTPS tests configure, as the template does.
pub const TENANT: &str = "acme";
pub const ENVIRONMENT: &str = "dev";
/// The host that makes: what the certificate is for and what the client sends in SNI.
pub const TENANT_HOST: &str = "acme.api.omnilab-dev.21-digital.com";

/// A world whose sandbox speaks only HTTPS, and what it saw of the connections.
pub struct TlsWorld {
    pub world: World,
    pub served: TlsSandbox,
    pub authority: Authority,
}

impl TlsWorld {
    /// The sandbox over HTTPS presenting `presented`, offering `protocols` in ALPN.
    pub async fn new(
        data: SandboxData,
        policy: UpstreamPolicy,
        presented: Presented,
        protocols: Protocols,
    ) -> Self {
        let authority = Authority::new("OmniLab Bookings tests").expect("an authority");
        let sandbox = Sandbox::new(data);
        let served = sandbox
            .serve_tls(
                "127.0.0.1:0".parse().expect("an address"),
                Tls {
                    authority: &authority,
                    host: TENANT_HOST,
                    presented,
                    protocols,
                },
            )
            .await
            .expect("the sandbox binds a loopback port");
        let secret_id = secrets::create(&Sandbox::default_credentials()).await;
        let app = App::new(config(&secret_id, policy, &authority, &served));
        Self {
            world: World {
                sandbox,
                sandbox_addr: served.addr,
                secret_id,
                app,
            },
            served,
            authority,
        }
    }

    /// The environment of a compiled binary (built with `test-tls`, as the test builds are)
    /// that reaches this sandbox: the template's settings plus the two test-only variables.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        let mut env = function_env(&self.world);
        // The tenant and environment name the host, as in a deployed stack: no URL over them.
        env.retain(|(key, _)| *key != "OMNILAB_API_HOST");
        env.extend([
            ("OMNILAB_TENANT", TENANT.into()),
            ("OMNILAB_ENVIRONMENT", ENVIRONMENT.into()),
            (
                "TEST_ONLY_OMNILAB_ROOT_CA",
                pem_file(self.authority.root_pem()).display().to_string(),
            ),
            (
                "TEST_ONLY_OMNILAB_RESOLVE",
                format!("{TENANT_HOST}={}", self.served.addr),
            ),
        ]);
        env
    }
}

/// The configuration the template gives a function (tenant and environment, not a URL), plus
/// the test-only trust and address.
fn config(
    secret_id: &str,
    policy: UpstreamPolicy,
    authority: &Authority,
    served: &TlsSandbox,
) -> Config {
    let mut config = Config::from_lookup(|var| {
        match var {
            "OMNILAB_TENANT" => Some(TENANT),
            "OMNILAB_ENVIRONMENT" => Some(ENVIRONMENT),
            "OMNILAB_SECRET_ID" => Some(secret_id),
            _ => None,
        }
        .map(str::to_owned)
    })
    .expect("the template's settings are valid");
    assert_eq!(config.omnilab.api_base, format!("https://{TENANT_HOST}"));
    config.metrics = None;
    config.omnilab.policy = policy;
    config.omnilab.test_tls = TestTls {
        root_certificate: Some(authority.root_der().to_vec()),
        resolve: Some((TENANT_HOST.to_owned(), served.addr)),
    };
    config
}

/// Writes `pem` to a file of its own under the temporary directory.
fn pem_file(pem: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "omnilab-sandbox-root-{}-{}.pem",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, pem).expect("the temporary directory is writable");
    path
}
