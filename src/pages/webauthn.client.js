// The WebAuthn ceremonies of the hosted pages, bundled with @simplewebauthn/browser by esbuild
// (pages/webauthn-assets.ts) and served same-origin as /assets/webauthn.js. A form marked `data-webauthn="create"`
// registers an authenticator, `data-webauthn="get"` answers a challenge; both carry the server's options in
// `data-options` and post the browser's answer as JSON in their `credential` field.
import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser';

function start() {
  for (const form of document.querySelectorAll('form[data-webauthn]')) wire(form);
}

function wire(form) {
  const field = form.querySelector('input[name="credential"]');
  const kindField = form.querySelector('input[name="kind"]');
  const error = form.querySelector('[data-webauthn-error]');
  const noScript = document.querySelectorAll('[data-webauthn-nojs]');
  let options;
  try {
    options = JSON.parse(form.getAttribute('data-options') || '');
  } catch {
    return;
  }
  if (!field || !browserSupportsWebAuthn()) return;
  for (const note of noScript) note.hidden = true;
  form.hidden = false;

  const fail = () => {
    if (!error) return;
    error.textContent = error.getAttribute('data-message') || '';
    error.hidden = false;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const kind = event.submitter && event.submitter.value;
    try {
      let answer;
      if (form.getAttribute('data-webauthn') === 'create') {
        const attachment = kind === 'platform' ? 'platform' : 'cross-platform';
        answer = await startRegistration({
          optionsJSON: { ...options, authenticatorSelection: { ...(options.authenticatorSelection || {}), authenticatorAttachment: attachment } },
        });
        if (kindField) kindField.value = kind === 'platform' ? 'platform' : 'roaming';
      } else {
        answer = await startAuthentication({ optionsJSON: options });
      }
      field.value = JSON.stringify(answer);
      // submit() sends the form without firing this listener again.
      form.submit();
    } catch {
      fail();
    }
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
