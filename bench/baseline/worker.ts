// Baseline gateway for `npm run bench`: the same job as Gatehouse (OAuth 2.1 server + owner
// password login + authenticated forwarding to one MCP origin), built the way Cloudflare
// documents it with @cloudflare/workers-oauth-provider's single-Worker `OAuthProvider`, state
// in KV. Only as much as the benchmark needs, but every part is real: DCR, PKCE, a consent page
// that asks for the owner's password, token issue/validation by the library, and forwarding that
// never passes the client's token or cookies to the origin.
//
// Env: PUBLIC_URL (the issuer, e.g. http://127.0.0.1:8790), ORIGIN_URL (the origin's MCP
// endpoint), OWNER_PASSWORD (secret), OAUTH_KV (KV namespace the library requires).
import {
  AuthorizationError,
  CimdFetchError,
  OAuthProvider,
  type ConsentDescription,
  type OAuthHelpers,
} from '@cloudflare/workers-oauth-provider';

interface Env {
  PUBLIC_URL: string;
  ORIGIN_URL: string;
  OWNER_PASSWORD: string;
  OAUTH_KV: KVNamespace;
  OAUTH_PROVIDER: OAuthHelpers;
}

const OWNER = 'owner';

const escape = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(status: number, html: string, headers = new Headers()): Response {
  headers.set('Content-Type', 'text/html; charset=utf-8');
  return new Response(`<!doctype html>\n<meta charset="utf-8">\n${html}`, { status, headers });
}

function consentPage(details: ConsentDescription, handle: string, wrongPassword: boolean): string {
  const name = escape(details.clientName);
  return `<title>Authorize ${name}</title>
<h1>Allow ${name} to use your MCP server?</h1>
<p>This app registered itself; its name is not verified. Access will be sent to
<strong>${escape(details.redirectHost)}</strong>.</p>
${details.redirectIsLoopback ? '<p><strong>This sends access to an app on your computer.</strong></p>' : ''}
${wrongPassword ? '<p role="alert">Wrong password.</p>' : ''}
<form method="post">
  <input type="hidden" name="handle" value="${escape(handle)}">
  <label>Owner password <input type="password" name="password" autocomplete="current-password" required></label>
  <p><button name="decision" value="approve">Allow</button> <button name="decision" value="deny">Deny</button></p>
</form>`;
}

/** Constant-time password check: compares SHA-256 digests, so lengths leak nothing either. */
async function passwordMatches(given: string, expected: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', enc.encode(given)),
    crypto.subtle.digest('SHA-256', enc.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

async function authorize(req: Request, env: Env): Promise<Response> {
  const oauth = env.OAUTH_PROVIDER;
  if (req.method === 'GET') {
    const request = await oauth.parseAuthRequest(req);
    const details = await oauth.describeConsent(request);
    const consent = await oauth.beginConsent(request);
    return page(200, consentPage(details, consent.handle, false), consent.headers);
  }
  if (req.method !== 'POST') return new Response('Method Not Allowed', { status: 405, headers: { Allow: 'GET, POST' } });

  const form = await req.formData().catch(() => null);
  if (!form) return page(400, '<p>The form could not be read.</p>');
  const handle = String(form.get('handle') ?? '');
  if (form.get('decision') !== 'approve') {
    const denied = await oauth.denyConsent(req, handle);
    return new Response(null, { status: 302, headers: denied.headers });
  }
  if (!env.OWNER_PASSWORD || !(await passwordMatches(String(form.get('password') ?? ''), env.OWNER_PASSWORD))) {
    // The handle is not consumed yet: show the same form again, as a person would retry.
    const request = await oauth.parseAuthRequest(new Request(req.url, { method: 'GET' }));
    const details = await oauth.describeConsent(request).catch(() => null);
    if (!details) return page(400, '<p>This authorization request is not valid.</p>');
    return page(401, consentPage(details, handle, true));
  }
  const approved = await oauth.approveConsent(req, handle);
  const { redirectTo } = await oauth.completeAuthorization({
    request: approved.request, // from storage, not from the form
    userId: OWNER,
    metadata: {},
    scope: approved.request.scope.length ? approved.request.scope : ['mcp'],
    props: { userId: OWNER },
  });
  approved.headers.set('Location', redirectTo);
  return new Response(null, { status: 302, headers: approved.headers });
}

const defaultHandler = {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname !== '/authorize') return new Response('Not Found', { status: 404 });
    try {
      return await authorize(req, env);
    } catch (error) {
      if (error instanceof AuthorizationError && error.redirectTo) return Response.redirect(error.redirectTo, 302);
      if (error instanceof AuthorizationError || error instanceof CimdFetchError) {
        const message = error instanceof AuthorizationError ? error.description : 'This app could not be verified.';
        return page(400, `<p>${escape(message ?? 'Invalid authorization request.')}</p>`);
      }
      throw error;
    }
  },
};

// RFC 9110 §7.6.1 hop-by-hop headers, plus the client's credentials: never sent to the origin.
const DROP = new Set([
  'authorization', 'cookie', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
]);

const apiHandler = {
  async fetch(req: Request, env: Env, ctx: ExecutionContext & { props: { userId: string }; auth?: { clientId?: string } }) {
    const headers = new Headers();
    for (const [k, v] of req.headers) if (!DROP.has(k)) headers.set(k, v);
    headers.set('X-Baseline-User', ctx.props.userId);
    if (ctx.auth?.clientId) headers.set('X-Baseline-Client', ctx.auth.clientId);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    try {
      const res = await fetch(env.ORIGIN_URL, { method: req.method, headers, body: hasBody ? req.body : null });
      return new Response(res.body, { status: res.status, headers: res.headers });
    } catch {
      return Response.json({ jsonrpc: '2.0', error: { code: -32000, message: 'origin unreachable' }, id: null }, { status: 502 });
    }
  },
};

// The issuer and resource are URLs of this deployment, known only from env: build once per isolate.
let provider: OAuthProvider<Env> | undefined;

export default {
  fetch(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    provider ??= new OAuthProvider<Env>({
      apiRoute: '/mcp',
      apiHandler,
      defaultHandler,
      authorizeEndpoint: '/authorize',
      tokenEndpoint: '/token',
      clientRegistrationEndpoint: '/register',
      scopesSupported: ['mcp'],
      resourceMetadata: { resource: `${env.PUBLIC_URL}/mcp`, authorization_servers: [env.PUBLIC_URL] },
      requiredScopes: ['mcp'],
    });
    return provider.fetch(req, env, ctx);
  },
};
