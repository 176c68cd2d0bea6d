// The authorization code flow as a Node app does it with panva's openid-client, given only the
// issuer URL (the front door): discovery, an authorization URL with PKCE (S256), state and
// nonce, a real browser (Debian's chromium, headless, through playwright-core) signing the
// user in at the login page, and openid-client redeeming the callback — which checks `state`,
// RFC 9207 `iss`, the ID token's signature against the discovered JWKS, and its nonce. Then
// userinfo with the access token. Prints one JSON line with what it observed; run by
// e2e/tests/scenarios/browser_code_flow.rs.
//
// The browser never reaches the app: the callback is answered inside playwright, so no port
// is needed for it.
//
// Env: ISSUER, CLIENT_ID (a public client), REDIRECT_URI, LOGIN_USERNAME, LOGIN_PASSWORD,
// SCOPE.
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const insecure = { execute: [client.allowInsecureRequests] };
const config = await client.discovery(new URL(need('ISSUER')), need('CLIENT_ID'), undefined,
  client.None(), insecure);

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const redirectUri = need('REDIRECT_URI');
const authorizeUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: need('SCOPE'),
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let callback;
try {
  const page = await browser.newPage();
  await page.route((url) => url.href.startsWith(redirectUri), (route) => route.fulfill({
    status: 200,
    contentType: 'text/html',
    body: '<!doctype html><title>Signed in</title><p>Signed in.</p>',
  }));
  const login = await page.goto(authorizeUrl.href);
  if (login?.status() !== 200) throw new Error(`the login page answered ${login?.status()}`);
  await page.fill('input[name=username]', need('LOGIN_USERNAME'));
  await page.fill('input[name=password]', need('LOGIN_PASSWORD'));
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(redirectUri), { timeout: 20000 }),
    page.click('button[type=submit]'),
  ]);
  callback = new URL(page.url());
} finally {
  await browser.close();
}

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

console.log(JSON.stringify({
  authorizationEndpoint: config.serverMetadata().authorization_endpoint,
  callbackIss: callback.searchParams.get('iss'),
  idToken: { sub: claims.sub, iss: claims.iss, aud: claims.aud },
  tokenType: tokens.token_type,
  accessToken: payload(tokens.access_token),
  refreshToken: Boolean(tokens.refresh_token),
  userinfo: { sub: userinfo.sub, email: userinfo.email },
}));
