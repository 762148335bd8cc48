// Small behaviours wired to data-* attributes. Pages work without this file.
(function () {
  "use strict";

  // <time datetime data-ago>: show "12 s ago" next to the absolute time the server rendered,
  // so the server's HTML stays byte-identical between polls.
  function ago(seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 60) return Math.round(seconds) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }
  function refreshTimes(root) {
    (root || document).querySelectorAll("time[data-ago]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(t)) el.textContent = ago((Date.now() - t) / 1000);
    });
  }
  setInterval(refreshTimes, 1000);
  document.addEventListener("DOMContentLoaded", function () { refreshTimes(); });
  document.addEventListener("htmx:afterSettle", function (e) { refreshTimes(e.target); });

  // [data-open-dialog="id"] opens <dialog id>; [data-close-dialog] closes its dialog.
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && dialog.showModal) { e.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = e.target.closest("[data-close-dialog]");
    if (closer) {
      var d = closer.closest("dialog");
      if (d) { e.preventDefault(); d.close(); }
    }
  });

  // [data-copy="#selector"]: copy the target's text or value to the clipboard.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var target = document.querySelector(btn.getAttribute("data-copy"));
    if (!target) return;
    var text = target.value !== undefined ? target.value : target.textContent;
    var done = function () {
      var label = btn.textContent;
      btn.textContent = "Copied";
      btn.setAttribute("data-copied", "true");
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { target.select && target.select(); });
    } else if (target.select) {
      target.select();
      document.execCommand("copy");
      done();
    }
  });

  // <dialog open data-modal>: the server opened it (so it shows without JavaScript); with
  // JavaScript, reopen it as a real modal.
  function upgradeDialogs(root) {
    (root || document).querySelectorAll("dialog[open][data-modal]").forEach(function (d) {
      if (d.showModal && d.isConnected) { d.close(); d.showModal(); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { upgradeDialogs(); });

  // A dialog that showed a one-time secret reloads its section however it is closed (Escape
  // included), so the value leaves the page.
  document.addEventListener("close", function (e) {
    // Skip the close that upgradeDialogs causes: the dialog is open again by then.
    if (e.target.open) return;
    var done = e.target.querySelector && e.target.querySelector("[data-once-done]");
    if (done && done.isConnected) done.click();
  }, true);
})();

// Dialogs filled by htmx: a <dialog data-htmx-dialog> opens when content is swapped into it, and
// closes when the server announces that agents changed (the table refreshes on the same event).
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (e) {
    var dialog = e.target.closest && e.target.closest("dialog[data-htmx-dialog]");
    if (dialog && !dialog.open && dialog.showModal) dialog.showModal();
  });
  document.addEventListener("agents-changed", function () {
    document.querySelectorAll("dialog[data-htmx-dialog][open]").forEach(function (d) { d.close(); });
  });
})();

// [data-poll="seconds"]: fire a "poll" event on the element every so many seconds while the tab
// is visible, and at once when it becomes visible again. (htmx's "every 5s [filter]" would
// evaluate the filter as code, which the Content-Security-Policy forbids.)
(function () {
  "use strict";
  var last = new WeakMap();
  function poll(force) {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    var now = Date.now();
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      var every = parseFloat(el.getAttribute("data-poll")) * 1000;
      if (!last.has(el)) last.set(el, now);
      if (force || now - last.get(el) >= every) {
        last.set(el, now);
        window.htmx.trigger(el, "poll");
      }
    });
  }
  setInterval(function () { poll(false); }, 500);
  document.addEventListener("visibilitychange", function () { poll(true); });
})();
