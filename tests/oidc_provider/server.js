// A real OpenID Connect provider (panva/oidc-provider) for Jigsaw's single sign-on tests.
// Never deployed. Environment: PORT (loopback port), REDIRECT_URIS and
// POST_LOGOUT_REDIRECT_URIS (comma-separated), CLIENT_ID, CLIENT_SECRET.
//
// One confidential client that must use PKCE; our own small login form (in place of the
// library's development pages) so each test account signs in with its own `amr`/`acr`,
// and consent is granted at once.
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const list = (value) => (value || '').split(',').filter(Boolean);

// Test accounts: subject -> claims, the password the form wants, and how they "signed in".
const ACCOUNTS = {
  'sub-alice': {
    login: 'alice', password: 'alice-pass', email: 'alice@council.example', email_verified: true,
    name: 'Alice Adams', amr: ['pwd', 'otp'], acr: 'urn:jigsaw:test:mfa',
  },
  'sub-bob': {
    login: 'bob', password: 'bob-pass', email: 'bob@council.example', email_verified: true,
    name: 'Bob Brown', amr: ['pwd'], acr: 'urn:jigsaw:test:pwd',
  },
  'sub-carol': {
    login: 'carol', password: 'carol-pass', email: 'carol@council.example', email_verified: false,
    name: 'Carol Cole', amr: ['pwd', 'mfa'], acr: 'urn:jigsaw:test:mfa',
  },
  'sub-stranger': {
    login: 'stranger', password: 'stranger-pass', email: 'stranger@elsewhere.example',
    email_verified: true, name: 'Sam Stranger', amr: ['pwd', 'hwk'], acr: 'urn:jigsaw:test:mfa',
  },
};

const configuration = {
  clients: [{
    client_id: process.env.CLIENT_ID || 'jigsaw',
    client_secret: process.env.CLIENT_SECRET || 'jigsaw-test-secret',
    redirect_uris: list(process.env.REDIRECT_URIS),
    post_logout_redirect_uris: list(process.env.POST_LOGOUT_REDIRECT_URIS),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  acrValues: ['urn:jigsaw:test:pwd', 'urn:jigsaw:test:mfa'],
  claims: { openid: ['sub', 'amr', 'acr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // email in the ID token itself, as many providers do
  cookies: { keys: ['jigsaw-test-provider-cookie-key'] },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const { email, email_verified, name } = account;
        return { sub: id, email, email_verified, name };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
const handleOidc = provider.callback();

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(`<!DOCTYPE html><html><head><title>Test provider</title></head><body>${body}</body></html>`);
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

function loginForm(res, uid, error = '') {
  page(res, error ? 401 : 200, `<h1>Test provider sign-in</h1>${error ? `<p>${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}/login">
      <input name="login"><input name="password" type="password">
      <button type="submit">Sign in</button>
    </form>`);
}

async function consent(req, res, interaction) {
  const { prompt: { details }, params, session: { accountId } } = interaction;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') return consent(req, res, details);
  if (req.method === 'GET') return loginForm(res, uid);
  if (action !== 'login') return page(res, 404, 'Not found');
  const form = await formBody(req);
  const found = Object.entries(ACCOUNTS).find(([, account]) => account.login === form.get('login'));
  if (!found || found[1].password !== form.get('password')) {
    return loginForm(res, uid, 'Wrong login or password.');
  }
  const [accountId, account] = found;
  return provider.interactionFinished(req, res, {
    login: { accountId, amr: account.amr, acr: account.acr },
  }, { mergeWithLastSubmission: false });
}

const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/([a-z]+))?/.exec(req.url);
  if (!match) return handleOidc(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    page(res, 400, `Interaction failed: ${escape(error.message)}`);
  }
  return undefined;
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
