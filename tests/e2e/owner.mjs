// Plays the owner in the browser, headlessly: follows an authorization URL through
// Gatehouse's login and consent pages and returns where the browser would be sent next
// (the client's redirect URI with code, state and iss).
//
// Deliberately generic, like a browser: it knows no page, only HTML forms. On a page with a
// POST form it submits the form's hidden fields, fills an input named `password`, and presses
// the `decision` button with the chosen value if the form has one; it follows redirects while
// they stay on Gatehouse's origin, carrying cookies like a browser would.

const STEP_TIMEOUT_MS = 10_000;

/** Cookies for one origin: name -> value, from Set-Cookie; expired ones are dropped. */
export class CookieJar {
  #cookies = new Map();
  store(response) {
    for (const line of response.headers.getSetCookie?.() ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ''] = a.split('=').map((s) => s.trim());
        return (/^max-age$/i.test(k) && Number(v) <= 0) || (/^expires$/i.test(k) && Date.parse(v) < Date.now());
      });
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get size() {
    return this.#cookies.size;
  }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
export function htmlUnescape(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Attributes of one start tag's inner text, names lower-cased, values unescaped. */
export function parseAttributes(text) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (let m; (m = re.exec(text)); ) {
    attrs[m[1].toLowerCase()] = htmlUnescape(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/**
 * The POST forms of a page: [{ action, fields: {name: value} (hidden inputs),
 * inputs: [attrs], buttons: [attrs] }], in page order.
 */
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi)) {
    const attrs = parseAttributes(m[1]);
    if ((attrs.method ?? 'get').toLowerCase() !== 'post') continue;
    const inputs = [...m[2].matchAll(/<input\b([^>]*)>/gi)].map((i) => parseAttributes(i[1]));
    const buttons = [...m[2].matchAll(/<button\b([^>]*)>/gi)].map((b) => parseAttributes(b[1]));
    const fields = {};
    for (const i of inputs) {
      if ((i.type ?? '').toLowerCase() === 'hidden' && i.name) fields[i.name] = i.value ?? '';
    }
    forms.push({ action: attrs.action ?? '', fields, inputs, buttons });
  }
  return forms;
}

/**
 * The sign-in page's "Allow and sign in with …" form, as submitted by pressing the button for
 * provider `via`: one form holds every provider's button (name="via"), so the pressed button
 * adds `via` to the hidden fields. Undefined when the page has no such button.
 */
export function upstreamForm(forms, via) {
  const form = forms.find((f) => f.buttons.some((b) => b.name === 'via' && b.value === via));
  return form && { ...form, fields: { ...form.fields, via } };
}

/** The form values a person would submit: hidden fields, the password, the decision. */
export function fillForm(form, { password, decision = 'approve' }) {
  const values = { ...form.fields };
  if (form.inputs.some((i) => i.name === 'password')) {
    if (password === undefined) throw new Error('the page asks for a password but none was given');
    values.password = password;
  }
  const button = form.buttons.find((b) => b.name === 'decision' && b.value === decision);
  if (form.buttons.some((b) => b.name === 'decision')) {
    if (!button) throw new Error(`the form has no "${decision}" decision button`);
    values.decision = decision;
  }
  return values;
}

/**
 * A browser-like session against Gatehouse: a cookie jar and same-origin redirect handling.
 * `request()` sends cookies to the Gatehouse origin only and stores what it sets.
 */
export class Browser {
  /** `headers`: sent on every request to Gatehouse (e.g. what a proxy in front adds). */
  constructor(base, { headers = {} } = {}) {
    this.origin = new URL(base).origin;
    this.headers = headers;
    this.jar = new CookieJar();
    this.trace = []; // { method, url, status, location, headers }
  }
  async request(url, { method = 'GET', form } = {}) {
    const u = new URL(url, this.origin);
    const headers = { accept: 'text/html' };
    if (u.origin === this.origin) Object.assign(headers, this.headers);
    if (u.origin === this.origin && this.jar.size) headers.cookie = this.jar.header();
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(u, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
    if (u.origin === this.origin) this.jar.store(res);
    const text = await res.text();
    const location = res.headers.get('location');
    this.trace.push({ method, url: u.href, status: res.status, location, headers: res.headers });
    return { status: res.status, headers: res.headers, text, url: u.href, location: location && new URL(location, u).href };
  }
}

export class OwnerFlowError extends Error {
  constructor(message, page) {
    super(`${message} (HTTP ${page?.status} at ${page?.url})\n${(page?.text ?? '').slice(0, 600)}`);
    this.page = page;
  }
}

/**
 * Walks from `authorizationUrl` through the owner's pages. Returns { location, browser }:
 * `location` is the first redirect off Gatehouse's origin (the client's redirect URI).
 * Throws OwnerFlowError on a page that is neither a redirect nor a POST form.
 */
export async function approveAsOwner(authorizationUrl, { base, browser, ...options } = {}) {
  browser ??= new Browser(base ?? new URL(authorizationUrl).origin);
  return continueAsOwner(browser, await browser.request(authorizationUrl), options);
}

/** Like approveAsOwner, from a page already fetched with `browser`. */
export async function continueAsOwner(browser, page, { password, decision = 'approve', maxSteps = 10 } = {}) {
  for (let step = 0; step < maxSteps; step++) {
    if (page.status >= 300 && page.status < 400) {
      if (!page.location) throw new OwnerFlowError('redirect without Location', page);
      if (new URL(page.location).origin !== browser.origin) return { location: page.location, browser };
      page = await browser.request(page.location);
      continue;
    }
    // A form shown with 401 is the login page again (wrong password): a person would retry.
    const forms = page.status === 200 || page.status === 401 ? parseForms(page.text) : [];
    if (!forms.length) throw new OwnerFlowError('expected a redirect or a page with a POST form', page);
    // The owner's forms: the decision buttons, else the password (not "sign in with" a provider).
    const form =
      forms.find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === decision)) ??
      forms.find((f) => f.inputs.some((i) => i.name === 'password')) ??
      forms[0];
    page = await browser.request(new URL(form.action, page.url), { method: 'POST', form: fillForm(form, { password, decision }) });
  }
  throw new OwnerFlowError(`no redirect off ${browser.origin} within ${maxSteps} steps`, page);
}

/**
 * A browser with one cookie jar per origin that follows redirects anywhere: for delegated
 * logins (Gatehouse -> upstream identity provider -> Gatehouse's callback -> MCP client).
 */
export class WebBrowser {
  constructor() {
    this.jars = new Map();
    this.trace = [];
  }
  jar(origin) {
    if (!this.jars.has(origin)) this.jars.set(origin, new CookieJar());
    return this.jars.get(origin);
  }
  async request(url, { method = 'GET', form } = {}) {
    const u = new URL(url);
    const jar = this.jar(u.origin);
    const headers = { accept: 'text/html' };
    if (jar.size) headers.cookie = jar.header();
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(u, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
    jar.store(res);
    const text = await res.text();
    const location = res.headers.get('location');
    this.trace.push({ method, url: u.href, status: res.status, location, headers: res.headers });
    return { status: res.status, headers: res.headers, text, url: u.href, location: location && new URL(location, u).href };
  }
}

/**
 * Walks a delegated login like a person: on Gatehouse's sign-in page presses "Allow and sign
 * in with …" (the button whose `via` is `via`, ticking "Remember" with `remember`; on a plain
 * consent page, Allow), on the
 * provider's pages fills `login` and `password` and submits, and follows redirects across
 * origins. Returns { location, browser } at the first redirect leaving both Gatehouse and the
 * provider (the MCP client's redirect URI); { page, browser } at a page without a form (an
 * error page); with `stopAtCallback`, { callback, browser } instead of following the
 * provider's redirect to Gatehouse's /callback/.
 */
export async function signInUpstream(authorizationUrl, { base, provider, via = 'oidc', login, password = 'irrelevant', remember = false, browser, stopAtCallback = false, maxSteps = 20 } = {}) {
  browser ??= new WebBrowser();
  const gate = new URL(base ?? authorizationUrl).origin;
  const known = new Set([gate, new URL(provider).origin]);
  return continueUpstream(browser, await browser.request(authorizationUrl), { gate, known, via, login, password, remember, stopAtCallback, maxSteps });
}

/** Like signInUpstream, from a page already fetched with `browser`. */
export async function continueUpstream(browser, page, { gate, known, via = 'oidc', login, password = 'irrelevant', remember = false, stopAtCallback = false, maxSteps = 20 }) {
  for (let step = 0; step < maxSteps; step++) {
    if (page.status >= 300 && page.status < 400) {
      if (!page.location) throw new OwnerFlowError('redirect without Location', page);
      const next = new URL(page.location);
      if (!known.has(next.origin)) return { location: page.location, browser };
      if (stopAtCallback && next.origin === gate && next.pathname.startsWith('/callback/')) return { callback: page.location, browser };
      page = await browser.request(page.location);
      continue;
    }
    const forms = page.status === 200 ? parseForms(page.text) : [];
    if (!forms.length) return { page, browser };
    const form =
      upstreamForm(forms, via) ??
      forms.find((f) => f.buttons.some((b) => b.name === 'decision' && b.value === 'approve')) ??
      forms[0];
    const values = { ...form.fields };
    if (form.inputs.some((i) => i.name === 'login')) values.login = login;
    if (form.inputs.some((i) => i.name === 'password')) values.password = password;
    if (form.buttons.some((b) => b.name === 'decision')) values.decision = 'approve';
    if (remember && form.inputs.some((i) => i.name === 'remember')) values.remember = 'on';
    page = await browser.request(new URL(form.action, page.url), { method: 'POST', form: values });
  }
  throw new OwnerFlowError(`no redirect off ${gate} within ${maxSteps} steps`, page);
}
