/* Small enhancements; every page works without them.
   - focus lands on the first error after a page load or an htmx swap;
   - the resend button counts its cool-down down and then enables itself;
   - an htmx request that fails (expired form, too many tries, server error) says so. */
(function () {
  "use strict";

  function focusFirstError(root) {
    var target = root.querySelector('[aria-invalid="true"], .form-errors');
    if (target) {
      target.focus();
    }
  }

  function startCountdowns(root) {
    root.querySelectorAll("[data-wait]").forEach(function (button) {
      var form = button.closest("form") || root;
      var counter = form.querySelector("[data-countdown]");
      var note = form.querySelector("[data-wait-note]");
      var left = parseInt(button.getAttribute("data-wait"), 10) || 0;
      button.removeAttribute("data-wait");
      var timer = window.setInterval(function () {
        left -= 1;
        if (counter) { counter.textContent = String(Math.max(left, 0)); }
        if (left <= 0) {
          window.clearInterval(timer);
          button.disabled = false;
          button.removeAttribute("aria-describedby");
          if (note) { note.hidden = true; }
        }
      }, 1000);
    });
  }

  function showAlert(message) {
    var box = document.getElementById("alerts");
    if (!box) { return; }
    box.textContent = "";
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.setAttribute("role", "alert");
    p.textContent = message;
    box.appendChild(p);
    box.scrollIntoView({ block: "nearest" });
  }

  function explainFailure(event) {
    var xhr = event.detail.xhr;
    var text = "";
    if (xhr && xhr.responseText) {
      var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var heading = page.querySelector("main h1");
      var lead = page.querySelector("main .lead");
      text = [heading && heading.textContent, lead && lead.textContent]
        .filter(Boolean).join(". ").replace(/\.\./g, ".");
    }
    showAlert(text || "That did not work. Check your connection, reload the page and try again.");
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirstError(document);
    startCountdowns(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var alerts = document.getElementById("alerts");
    if (alerts) { alerts.textContent = ""; }
    focusFirstError(event.detail.elt.isConnected ? event.detail.elt : document);
    startCountdowns(document);
  });
  document.addEventListener("htmx:responseError", explainFailure);
  document.addEventListener("htmx:sendError", explainFailure);
}());
