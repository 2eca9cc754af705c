// A real OpenID provider on loopback for the sign-in tests: panva's oidc-provider (OpenID
// Certified), configured as a brand's identity provider would be for the account page, so the
// page's sign-in (authorization code with PKCE, the provider's own login form) and the dev
// server's JWT check meet code that no one here wrote.
//
// The Rust tests start it as `node tests/oidc-provider/provider.mjs` and wait for the line
// `oidc-provider ready at http://127.0.0.1:<port>` (tests/support/oidc_provider.rs). By hand:
//
//   npm ci --prefix tests/oidc-provider
//   REDIRECT_URIS=http://127.0.0.1:3000/ ACCOUNTS='{"ada":"9b33d8c1-64bd-4eff-b0e4-d2fb29ecbe83"}' \
//     node tests/oidc-provider/provider.mjs
//
// Settings (environment):
//   PORT               the port on 127.0.0.1 (default 0: any free one). The issuer is
//                      http://127.0.0.1:<port>, no trailing slash.
//   REDIRECT_URIS      the page's redirect URIs, comma-separated (required); also its
//                      post-logout redirect URIs.
//   CLIENT_ID          the page's public client (default bookings-page).
//   AUDIENCE           the API's audience: every access token is an RS256 JWT for it
//                      (default https://api.example-brand.test/bookings; oidc-provider takes only
//                      an absolute URI as a resource indicator, as RFC 8707 says).
//   SCOPES             the API's scopes, space-separated (default "bookings/read bookings/cancel").
//   EXTERNAL_ID_CLAIM  the claim that carries the OmniLab external ID (default omnilab_external_id),
//                      in access and ID tokens alike.
//   ACCOUNTS           JSON: login name -> external ID. A login not listed signs in with no such
//                      claim (a customer the brand never linked to OmniLab).
//
// What it leaves at its defaults on purpose: devInteractions (the built-in login form, any login
// name is the `sub`, the password is ignored) and the in-memory adapter. Its signing key is made
// at start and never written anywhere. It logs no token.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const env = process.env;
const redirectUris = (env.REDIRECT_URIS ?? '').split(',').map((uri) => uri.trim()).filter(Boolean);
if (redirectUris.length === 0) {
  console.error('REDIRECT_URIS is required: the page\'s redirect URIs, comma-separated');
  process.exit(2);
}
const clientId = env.CLIENT_ID || 'bookings-page';
const audience = env.AUDIENCE || 'https://api.example-brand.test/bookings';
const apiScopes = env.SCOPES || 'bookings/read bookings/cancel';
const claim = env.EXTERNAL_ID_CLAIM || 'omnilab_external_id';
const accounts = JSON.parse(env.ACCOUNTS || '{}');
// oidc-provider would refuse an AUDIENCE such as `bookings-api` only at the first sign-in, as an
// invalid_target error sent to the redirect URI: refuse it here, where the message is seen.
if (!URL.canParse(audience) || audience.includes('#')) {
  console.error(`AUDIENCE must be an absolute URI without a fragment (RFC 8707), not ${JSON.stringify(audience)}`);
  process.exit(2);
}

// Listen first: with PORT=0 the issuer's URL is known only once the port is.
const server = createServer();
await new Promise((resolve) => server.listen(Number(env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-provider-${randomUUID()}`,
  alg: 'RS256',
  use: 'sig',
};

const externalId = (accountId) =>
  Object.hasOwn(accounts, accountId) ? { [claim]: accounts[accountId] } : {};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      // A browser cannot keep a secret: a public client, PKCE required (oidc-provider's
      // default for public clients).
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: redirectUris,
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount: async (ctx, accountId) => ({
    accountId,
    claims: async () => ({ sub: accountId, ...externalId(accountId) }),
  }),
  // The external ID in the ID token itself (not only from userinfo), as Cognito puts a custom
  // attribute there.
  claims: { openid: ['sub', claim] },
  conformIdTokenClaims: false,
  // ... and in the access token, as a pre-token-generation trigger or an Auth0 Action would.
  extraTokenClaims: async (ctx, token) =>
    token.kind === 'AccessToken' ? externalId(token.accountId) : undefined,
  features: {
    devInteractions: { enabled: true },
    // Access tokens for the API: RS256 JWTs with `aud` = AUDIENCE, even when the page sends no
    // `resource` parameter (oidc-client-ts does not).
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== audience) {
          throw new errors.InvalidTarget();
        }
        return {
          audience,
          scope: apiScopes,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // The page is on another loopback origin (the dev server's), and calls the token endpoint.
  clientBasedCORS: (ctx, origin) => /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin),
  // No consent screen for the one first-party client: the grant is made at sign-in, with what
  // the client asked for (a brand's own app is usually configured so).
  loadExistingGrant: async (ctx) => {
    const existing = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) {
      return ctx.oidc.provider.Grant.find(existing);
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid');
    grant.addOIDCClaims(['sub', claim]);
    grant.addResourceScope(audience, apiScopes);
    await grant.save();
    return grant;
  },
  ttl: {
    AccessToken: 600,
    IdToken: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
});

server.on('request', provider.callback());
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(`oidc-provider ready at ${issuer}`);
