// Progressive enhancement for the hosted pages (served as /assets/pages.js). Every page works without it.
(function () {
  'use strict';

  // "Show passwords": one button for the new password and its confirmation.
  document.querySelectorAll('[data-reveal]').forEach(function (button) {
    var ids = (button.getAttribute('data-reveal') || '').split(' ');
    button.hidden = false;
    button.addEventListener('click', function () {
      var show = button.getAttribute('aria-pressed') !== 'true';
      ids.forEach(function (id) {
        var input = document.getElementById(id);
        if (input) input.type = show ? 'text' : 'password';
      });
      button.setAttribute('aria-pressed', String(show));
      button.textContent = button.getAttribute(show ? 'data-hide' : 'data-show');
    });
  });

  // "Send again" waits out its cooldown with a visible countdown; the server refuses an early one anyway.
  document.querySelectorAll('form[data-cooldown]').forEach(function (form) {
    var left = Number(form.getAttribute('data-cooldown')) || 0;
    var text = form.querySelector('[data-cooldown-text]');
    var button = form.querySelector('button[type=submit]');
    if (left <= 0 || !text || !button) return;
    var template = text.getAttribute('data-template') || '';
    // A screen reader hears the end of the wait, not every second of it.
    text.setAttribute('aria-live', 'off');
    button.disabled = true;
    var timer;
    var tick = function () {
      if (left <= 0) {
        clearInterval(timer);
        text.setAttribute('aria-live', 'polite');
        text.textContent = text.getAttribute('data-ready') || '';
        button.disabled = false;
        return;
      }
      text.textContent = template.replace('{seconds}', String(left));
      left -= 1;
    };
    tick();
    timer = setInterval(tick, 1000);
  });

  // The strength meter's script is fetched only once the password field is used.
  var password = document.getElementById('password');
  if (password && document.querySelector('[data-strength]')) {
    var loaded = false;
    var load = function () {
      if (loaded) return;
      loaded = true;
      var script = document.createElement('script');
      script.src = '/assets/meter.js';
      script.async = true;
      document.head.appendChild(script);
    };
    password.addEventListener('focus', load);
    password.addEventListener('input', load);
    if (document.activeElement === password || password.value) load();
  }
})();
