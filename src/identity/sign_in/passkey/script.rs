//! `/passkey.js`, served by Gatehouse itself (the pages allow `script-src
//! 'self'` and nothing inline). It drives every form marked `data-passkey`:
//! asks `/passkeys/challenge` for a challenge, runs
//! `navigator.credentials.get()` or `.create()` (WebAuthn L2 §5.1.3, §5.1.4),
//! puts the answer, base64url, into the form's hidden fields and submits it.
//! The server checks everything; the script only carries bytes.

pub const SCRIPT: &str = r#"'use strict';
(() => {
  const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const put = (form, name, value) => { form.querySelector(`input[name="${name}"]`).value = value; };

  async function challenge(form, purpose) {
    const body = new URLSearchParams({ purpose });
    const code = form.querySelector('input[name="setup_code"]');
    if (code) body.set('setup_code', code.value);
    const r = await fetch('/passkeys/challenge', { method: 'POST', body, credentials: 'same-origin' });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error_description || 'Gatehouse could not start the passkey request.');
    return j;
  }

  async function run(form) {
    if (!window.PublicKeyCredential || !navigator.credentials) throw new Error('This browser does not support passkeys.');
    const kind = form.dataset.passkey;
    const o = await challenge(form, kind);
    if (kind === 'login') {
      const c = await navigator.credentials.get({ publicKey: {
        challenge: dec(o.challenge), rpId: o.rpId, timeout: o.timeout, userVerification: 'required', allowCredentials: [],
      } });
      put(form, 'credential_id', enc(c.rawId));
      put(form, 'client_data', enc(c.response.clientDataJSON));
      put(form, 'authenticator_data', enc(c.response.authenticatorData));
      put(form, 'signature', enc(c.response.signature));
    } else {
      const c = await navigator.credentials.create({ publicKey: {
        challenge: dec(o.challenge), rp: { id: o.rpId, name: 'Gatehouse' },
        user: { id: dec(o.userId), name: 'owner', displayName: 'Gatehouse owner' },
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -8 }],
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
        attestation: 'none', timeout: o.timeout,
      } });
      put(form, 'client_data', enc(c.response.clientDataJSON));
      put(form, 'attestation_object', enc(c.response.attestationObject));
    }
    form.submit();
  }

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const status = form.querySelector('[data-passkey-status]');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (status) status.textContent = '';
      run(form).catch((err) => {
        const text = err && err.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : String((err && err.message) || err);
        if (status) status.textContent = text;
      });
    });
  }
})();
"#;
