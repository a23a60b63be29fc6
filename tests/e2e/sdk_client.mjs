// The MCP TypeScript SDK as an OAuth client, for suites whose sign-in goes through a provider:
// an in-memory OAuthClientProvider whose "browser" step is a function, and the SDK's own
// connect → 401 → authorization → finishAuth → connect sequence.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * A public client registered by the SDK (DCR) at `redirectUrl`. `walk(url)` plays the browser
 * from the authorization URL to the redirect back and returns { location, page }.
 */
export function sdkProvider({ redirectUrl, clientName, walk }) {
  return {
    get redirectUrl() { return redirectUrl; },
    get clientMetadata() {
      return { client_name: clientName, redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
    },
    state() { return (this.lastState = randomBytes(16).toString('base64url')); },
    clientInformation() { return this.client; },
    saveClientInformation(info) { this.client = info; },
    tokens() { return this.saved; },
    saveTokens(t) { this.saved = t; },
    saveCodeVerifier(v) { this.verifier = v; },
    codeVerifier() { return this.verifier; },
    async redirectToAuthorization(url) {
      const walked = await walk(url.href);
      assert.ok(walked.location, `no redirect to the client: HTTP ${walked.page?.status} ${walked.page?.text?.slice(0, 300)}`);
      this.callback = new URL(walked.location);
    },
  };
}

/** Connects an SDK client to `mcpUrl` through `provider`'s authorization; returns the connected client. */
export async function sdkConnect(mcpUrl, provider, name) {
  const connect = () => new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const mcp = new Client({ name, version: '1.0.0' });
  await assert.rejects(mcp.connect(connect()), /Unauthorized/);
  assert.equal(provider.callback.searchParams.get('state'), provider.lastState, 'the state comes back unchanged');
  const transport = connect();
  await transport.finishAuth(provider.callback.searchParams.get('code'));
  await mcp.connect(transport);
  return mcp;
}
