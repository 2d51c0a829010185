/* "Copy" and "Download .txt" for recovery codes (templates/web/_recovery_codes.html).
   The codes are on the page as text, so without JavaScript they can still be copied by
   hand; the two buttons stay hidden until this script shows them. */
(function () {
  "use strict";

  function codesText(box) {
    var codes = Array.prototype.map.call(box.querySelectorAll(".codes code"), function (code) {
      return code.textContent.trim();
    });
    return [box.getAttribute("data-heading") || "", ""].concat(codes).join("\n") + "\n";
  }

  function say(box, message) {
    var status = box.querySelector("[data-codes-status]");
    if (status) { status.textContent = message; }
  }

  function copy(box) {
    if (!navigator.clipboard) {
      say(box, "Copying is not available here: select the codes and copy them by hand.");
      return;
    }
    navigator.clipboard.writeText(codesText(box)).then(function () {
      say(box, "Copied. Paste them somewhere safe.");
    }, function () {
      say(box, "Copying did not work: select the codes and copy them by hand.");
    });
  }

  function download(box) {
    var blob = new Blob([codesText(box)], { type: "text/plain;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = box.getAttribute("data-filename") || "recovery-codes.txt";
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    say(box, "Downloaded " + link.download + ".");
  }

  function showTools(root) {
    root.querySelectorAll("[data-recovery-codes] [data-code-tools]").forEach(function (tools) {
      tools.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-codes], [data-download-codes]");
    var box = button && button.closest("[data-recovery-codes]");
    if (!box) { return; }
    if (button.hasAttribute("data-copy-codes")) { copy(box); } else { download(box); }
  });
  document.addEventListener("DOMContentLoaded", function () { showTools(document); });
  document.addEventListener("htmx:afterSwap", function () { showTools(document); });
}());
