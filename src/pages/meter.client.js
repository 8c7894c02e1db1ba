// The password strength meter of /reset/new, bundled by esbuild (pages/assets.ts) and served as /assets/meter.js.
// Advice only: the server's password policy decides. The page works without this script.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonDictionary } from '@zxcvbn-ts/language-common';
import { dictionary as englishDictionary, translations } from '@zxcvbn-ts/language-en';

/** Long inputs make the estimator slow and are strong anyway. */
const MAX_CHECKED = 100;

function start() {
  const box = document.querySelector('[data-strength]');
  const input = document.getElementById('password');
  if (!box || !(input instanceof HTMLInputElement)) return;
  const meter = box.querySelector('meter');
  const text = box.querySelector('[data-strength-text]');
  const labels = (box.getAttribute('data-labels') || '').split('|');
  const words = (box.getAttribute('data-words') || '').split(/\s+/).filter(Boolean);
  const zxcvbn = new ZxcvbnFactory({
    dictionary: { ...commonDictionary, ...englishDictionary },
    graphs: adjacencyGraphs,
    translations,
  });

  let timer;
  const update = () => {
    const value = input.value;
    if (!value) {
      if (meter) meter.value = 0;
      if (text) text.textContent = '';
      box.removeAttribute('data-score');
      return;
    }
    const { score } = zxcvbn.check(value.slice(0, MAX_CHECKED), words);
    if (meter) meter.value = score;
    if (text) text.textContent = labels[score] || '';
    box.setAttribute('data-score', String(score));
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  });
  box.hidden = false;
  update();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
