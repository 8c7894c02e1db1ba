// The password strength meter of /reset/new (served as /assets/meter.js, loaded by pages.js when the password
// field is first used). Advice only: the server's password policy decides, whatever this says.
(function () {
  'use strict';
  var box = document.querySelector('[data-strength]');
  var input = document.getElementById('password');
  if (!box || !input) return;
  var meter = box.querySelector('meter');
  var text = box.querySelector('[data-strength-text]');
  var attr = function (name) {
    return box.getAttribute(name) || '';
  };
  var labels = attr('data-labels').split('|');
  var min = Number(attr('data-min')) || 8;
  var username = document.querySelector('input[name=username]');
  // Context words: the application's name and the local part of the account's address.
  var words = (attr('data-words') + ' ' + (username ? username.value.split('@')[0] : ''))
    .toLowerCase()
    .split(/[\s._+-]+/)
    .filter(function (word) {
      return word.length >= 3;
    });
  var common = null;
  var ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'azertyuiop', 'qsdfghjklm', 'wxcvbn', '1234567890', 'abcdefghijklmnopqrstuvwxyz'];

  /** Estimated bits: the character pool, over a length where repeats, runs and keyboard rows count for little. */
  function bits(value) {
    var chars = Array.from(value);
    var lower = value.toLowerCase();
    var pool = 0;
    if (/[a-z]/.test(value)) pool += 26;
    if (/[A-Z]/.test(value)) pool += 26;
    if (/[0-9]/.test(value)) pool += 10;
    if (/[^a-zA-Z0-9]/.test(value)) pool += 33;
    if (/[^\x00-\x7f]/.test(value)) pool += 100;
    var length = 0;
    for (var i = 0; i < chars.length; i++) {
      var step = i > 0 ? chars[i].codePointAt(0) - chars[i - 1].codePointAt(0) : NaN;
      var before = i > 1 ? chars[i - 1].codePointAt(0) - chars[i - 2].codePointAt(0) : NaN;
      length += Math.abs(step) <= 1 && step === before ? 0.25 : 1;
    }
    ROWS.forEach(function (row) {
      for (var size = row.length; size >= 4; size--) {
        for (var at = 0; at + size <= row.length; at++) {
          if (lower.indexOf(row.slice(at, at + size)) !== -1) {
            length -= (size - 2) * 0.75;
            return;
          }
        }
      }
    });
    return Math.max(length, 1) * Math.log2(Math.max(pool, 10));
  }

  function rate(value) {
    var size = Array.from(value).length;
    if (size < min) return { score: 0, note: attr('data-too-short').replace('{n}', String(min - size)) };
    var lower = value.normalize('NFKC').toLowerCase();
    if (common && common.has(lower)) return { score: 0, note: attr('data-common') };
    var base = lower.replace(/[^a-z\u00c0-\uffff]+$/, '').replace(/^[^a-z\u00c0-\uffff]+/, '');
    var known = (common && common.has(base)) || words.some(function (word) {
      return lower.indexOf(word) !== -1;
    });
    var b = bits(value);
    var score = b < 28 ? 0 : b < 45 ? 1 : b < 60 ? 2 : b < 80 ? 3 : 4;
    if (known) return { score: Math.min(score, 1), note: attr('data-common-base') };
    return { score: score, note: labels[score] + (score < 3 ? ' \u2014 ' + attr('data-advice') : '') };
  }

  var timer;
  function update() {
    var value = input.value;
    if (!value) {
      if (meter) meter.value = 0;
      if (text) text.textContent = '';
      box.removeAttribute('data-score');
      return;
    }
    var result = rate(value.slice(0, 256));
    if (meter) meter.value = result.score + 1;
    if (text) text.textContent = result.note;
    box.setAttribute('data-score', String(result.score));
  }
  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(update, 150);
  });
  box.hidden = false;
  update();
  fetch('/assets/common-passwords.txt', { credentials: 'same-origin' })
    .then(function (response) {
      return response.ok ? response.text() : '';
    })
    .then(function (list) {
      common = new Set(list.split('\n').filter(Boolean));
      update();
    })
    .catch(function () {});
})();
