/* A live hint of how strong a new password is, as it is typed. Only a hint: the server
   decides (length, common passwords, likeness to the email or phone; see the help text). */
(function () {
  "use strict";

  var MIN = 8;
  var LABELS = ["Too short", "Weak", "Fair", "Good", "Strong"];
  var COMMON = ["password", "passw0rd", "qwerty", "azerty", "letmein", "welcome", "iloveyou",
    "admin", "monkey", "dragon", "sunshine", "football", "baseball", "abc123", "123456",
    "111111", "000000", "trustno1", "master", "shadow"];
  var RUNS = ["0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm"];

  function identities(form) {
    var found = [];
    ["email", "phone", "identifier"].forEach(function (name) {
      var input = form && form.querySelector('[name="' + name + '"]');
      if (input && input.value) {
        found.push(input.value.toLowerCase().split("@")[0].replace(/^\+/, ""));
      }
    });
    return found.filter(function (part) { return part.length >= 4; });
  }

  function hasRun(folded) {
    return RUNS.some(function (run) {
      for (var i = 0; i + 4 <= run.length; i += 1) {
        if (folded.indexOf(run.slice(i, i + 4)) !== -1) { return true; }
      }
      return false;
    });
  }

  function rate(password, form) {
    var length = Array.from(password).length;
    if (length < MIN) {
      return { level: 0, text: LABELS[0] + " (" + length + "/" + MIN + ")" };
    }
    var folded = password.toLowerCase();
    if (identities(form).some(function (id) { return folded.indexOf(id) !== -1; })) {
      return { level: 1, text: "Too like your address" };
    }
    var level = length >= 20 ? 4 : length >= 16 ? 3 : length >= 12 ? 2 : 1;
    var classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter(function (re) {
      return re.test(password);
    }).length;
    if (classes >= 3) { level += 1; }
    if (new Set(Array.from(folded)).size < length / 3 || hasRun(folded)) { level -= 1; }
    if (COMMON.some(function (word) { return folded.indexOf(word) !== -1; })) { level -= 2; }
    level = Math.max(1, Math.min(4, level));
    return { level: level, text: LABELS[level] };
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-strength]")) { return; }
    var meter = document.getElementById(input.getAttribute("data-strength"));
    if (!meter) { return; }
    if (!input.value) {
      meter.hidden = true;
      return;
    }
    var result = rate(input.value, input.form);
    meter.hidden = false;
    meter.className = "strength level-" + result.level;
    meter.querySelector(".strength-text").textContent = result.text;
  });
}());
