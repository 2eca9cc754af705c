//! An RSA key that signs JWTs and publishes itself as a JWK: the dev server's demo issuer, and
//! the issuers the tests stand up. The key is made at start and lives in memory only, so no
//! private key is ever written to disk or committed.
//!
//! The signature is jsonwebtoken's over aws-lc; this module only makes the key and names it.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("could not make an RSA key")]
    Generate,
    #[error("could not use the RSA key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
}

/// One RSA key pair with its `kid`.
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    public: Jwk,
}

impl std::fmt::Debug for SigningKey {
    // The private half never reaches a log line, even through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new 2048-bit RSA key that signs with `algorithm` (RS256, RS384 or RS512).
    pub fn generate(kid: &str, algorithm: Algorithm) -> Result<Self, SigningError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| SigningError::Generate)?;
        let pkcs8 = pair.as_der().map_err(|_| SigningError::Generate)?;
        // jsonwebtoken reads a PKCS#8 RSA key from PEM (aws-lc gives PKCS#8 DER).
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref()));
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())?;
        let mut public = Jwk::from_encoding_key(&encoding, algorithm)?;
        public.common.key_id = Some(kid.to_owned());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            kid: kid.to_owned(),
            algorithm,
            encoding,
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as one entry of a JWKS.
    pub fn jwk(&self) -> &Jwk {
        &self.public
    }

    /// A JWKS document holding this key alone.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public] })
    }

    /// `claims` signed with this key, the header naming its `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String, SigningError> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// `claims` signed with this key under a header of the caller's (a test's odd `kid`, `typ`
    /// or algorithm).
    pub fn sign_with(&self, header: &Header, claims: &Value) -> Result<String, SigningError> {
        Ok(jsonwebtoken::encode(header, claims, &self.encoding)?)
    }
}
