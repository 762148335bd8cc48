// Small behaviours wired to data-* attributes. Pages work without this file.
(function () {
  "use strict";
  // Styles that fold things away (the narrow-screen menu) apply only when this file can unfold them.
  document.documentElement.classList.add("js");

  // [data-nav-toggle]: shows or hides the navigation it controls (narrow screens).
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    var nav = document.getElementById(toggle.getAttribute("aria-controls"));
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (nav) nav.classList.toggle("is-open", open);
  });

  // A box that scrolls (a wide table, a long code block) must be reachable by keyboard to be
  // scrolled without a mouse: make it a focusable, named region while its content overflows.
  function markScrollables(root) {
    (root || document).querySelectorAll(".table-wrap, pre").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        var area = box.closest("section, .panel, .code-card, dialog, main");
        var heading = area && area.querySelector("h1, h2, h3, .code-file");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", (heading ? heading.textContent.trim() + ", " : "") + "scrolls");
        box.setAttribute("data-scrollable", "");
      } else if (!scrolls && box.hasAttribute("data-scrollable")) {
        ["tabindex", "role", "aria-label", "data-scrollable"].forEach(function (a) { box.removeAttribute(a); });
      }
    });
  }
  // On phones tables read as cards (static/css/app.css); each cell shows its column's name,
  // copied here from the table head so templates need no second copy of it.
  function labelCells(root) {
    (root || document).querySelectorAll(".table-wrap > table").forEach(function (table) {
      var names = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (names[i] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", names[i]);
        });
      });
    });
  }
  // role="tablist": one Tab stop (the selected tab); the arrow keys move between the tabs.
  function rovingTabs(root) {
    (root || document).querySelectorAll("[role=tablist]").forEach(function (list) {
      list.querySelectorAll("[role=tab]").forEach(function (tab) {
        tab.setAttribute("tabindex", tab.getAttribute("aria-selected") === "true" ? "0" : "-1");
      });
    });
  }
  document.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight" && e.key !== "Home" && e.key !== "End") return;
    var tab = e.target.closest && e.target.closest("[role=tablist] [role=tab]");
    if (!tab) return;
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var i = tabs.indexOf(tab);
    var next = e.key === "Home" ? 0 : e.key === "End" ? tabs.length - 1
      : (i + (e.key === "ArrowRight" ? 1 : -1) + tabs.length) % tabs.length;
    e.preventDefault();
    tabs.forEach(function (t, j) { t.setAttribute("tabindex", j === next ? "0" : "-1"); });
    tabs[next].focus();
  });
  var resizing;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { markScrollables(); }, 150);
  });
  document.addEventListener("DOMContentLoaded", function () { labelCells(); markScrollables(); rovingTabs(); });
  document.addEventListener("htmx:afterSettle", function () { labelCells(); markScrollables(); rovingTabs(); });

  // <time datetime data-ago>: show "12 s ago" next to the absolute time the server rendered,
  // so the server's HTML stays byte-identical between polls.
  function ago(seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds < 60) return Math.round(seconds) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }
  // <time datetime data-live>: the agent was on time when the table was drawn, and the table's
  // poll re-draws it as soon as that stops being true. So it reads "live" for as long as polls
  // keep confirming the table; if they stop (offline, tab asleep), it falls back to the age.
  var confirmedAt = Date.now();
  function liveTable() { return document.querySelector("[data-live-table]"); }
  function refreshTimes(root) {
    var table = liveTable();
    var poll = table ? Number(table.getAttribute("data-poll")) || 5 : 5;
    var confirmed = (Date.now() - confirmedAt) / 1000 < 2 * poll + 1;
    (root || document).querySelectorAll("time[data-ago], time[data-live]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("datetime"));
      if (isNaN(t)) return;
      if (el.hasAttribute("data-live") && confirmed) el.textContent = "live";
      else el.textContent = ago((Date.now() - t) / 1000);
    });
  }
  // Other <time datetime>: the viewer's own time zone, named; the exact UTC time is the title.
  function localFormat(withYear) {
    return new Intl.DateTimeFormat(undefined, {
      year: withYear ? "numeric" : undefined, month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
  }
  var thisYear = localFormat(false), otherYear = localFormat(true);
  function localTimes(root) {
    (root || document).querySelectorAll("time[datetime]:not([data-ago]):not([data-live])").forEach(function (el) {
      var t = Date.parse(el.getAttribute("datetime"));
      if (isNaN(t)) return;
      var d = new Date(t);
      el.textContent = (d.getFullYear() === new Date().getFullYear() ? thisYear : otherYear).format(d);
      if (!el.title) el.title = new Date(t).toISOString().replace("T", " ").slice(0, 19) + " UTC";
    });
  }
  setInterval(refreshTimes, 1000);
  document.addEventListener("DOMContentLoaded", function () { refreshTimes(); localTimes(); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var status = e.detail.xhr && e.detail.xhr.status;
    if (e.detail.elt && e.detail.elt.matches && e.detail.elt.matches("[data-live-table]") &&
        (status === 200 || status === 204)) confirmedAt = Date.now();
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (liveTable() && e.target.querySelector && e.target.matches("[data-live-table]")) confirmedAt = Date.now();
    refreshTimes(e.target);
    localTimes(e.target);
  });

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
      var once = btn.closest("[data-once]");
      if (once) once.setAttribute("data-copied", "");
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

  // A one-time secret ([data-once]) warns before it is closed uncopied ([data-uncopied-warning]):
  // Escape or "done" first shows the warning; Escape again, or its own button, closes.
  function uncopied(root) {
    var once = root && root.querySelector && root.querySelector("[data-once]");
    return once && !once.hasAttribute("data-copied") ? once : null;
  }
  function warnUncopied(once) {
    var warning = once.querySelector("[data-uncopied-warning]");
    if (warning) warning.hidden = false;
    var copy = once.querySelector("[data-copy]");
    if (copy) copy.focus();
  }
  document.addEventListener("copy", function (e) {
    var once = e.target.closest && e.target.closest("[data-once]");
    if (once) once.setAttribute("data-copied", "");
  });
  document.addEventListener("cancel", function (e) {
    var once = uncopied(e.target);
    var warning = once && once.querySelector("[data-uncopied-warning]");
    if (once && warning && warning.hidden && e.cancelable) { e.preventDefault(); warnUncopied(once); }
  }, true);

  // After the section reloads, focus returns to the button that opened the dialog.
  function focusOpenerAfterSwap(dialogId) {
    document.addEventListener("htmx:afterSettle", function refocus() {
      document.removeEventListener("htmx:afterSettle", refocus);
      var opener = document.querySelector('[data-open-dialog="' + dialogId + '"]');
      if (opener) opener.focus();
    });
  }
  var leaving = false;
  document.addEventListener("click", function (e) {
    var done = e.target.closest && e.target.closest("[data-once-done]");
    if (!done) return;
    var dialog = done.closest("dialog");
    var once = !leaving && uncopied(dialog || document);
    if (once) {
      // Before htmx sees the click: the section must not reload yet.
      e.preventDefault();
      e.stopPropagation();
      warnUncopied(once);
      return;
    }
    if (dialog && dialog.id) focusOpenerAfterSwap(dialog.id);
  }, true);

  // A dialog that showed a one-time secret reloads its section however it is closed (Escape
  // included), so the value leaves the page.
  document.addEventListener("close", function (e) {
    // Skip the close that upgradeDialogs causes: the dialog is open again by then.
    if (e.target.open) return;
    var done = e.target.querySelector && e.target.querySelector("[data-once-done]");
    if (done && done.isConnected) {
      leaving = true;
      try { done.click(); } finally { leaving = false; }
    }
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
