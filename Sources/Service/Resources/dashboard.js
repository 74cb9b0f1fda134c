// lora-squeeze dashboard: small enhancements over pages that work without script.
// - a <select data-autosubmit> submits its form when changed;
// - a "Copy" button copies its command;
// - a page whose <main> has data-poll (a running job) refreshes its <main> every second until the
//   job has finished.
"use strict";
(function () {
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof HTMLSelectElement && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(source); });
    } else {
      select(source);
    }
  });

  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function poll() {
    var main = document.querySelector("main[data-poll]");
    if (!main) return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (text) {
        var next = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        if (!next) return;
        main.innerHTML = next.innerHTML;
        main.setAttribute("data-state", next.getAttribute("data-state") || "");
        if (next.hasAttribute("data-poll")) setTimeout(poll, 1000); else main.removeAttribute("data-poll");
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { setTimeout(poll, 1000); });
  else setTimeout(poll, 1000);
})();
