/* Passkeys in the browser: a form marked data-passkey="create" (add a passkey) or
   data-passkey="get" (sign in, second step, confirm it is you) is shown when the browser
   can use passkeys. Submitting it:
     1. POSTs to its data-options URL (CSRF token in a header) for the WebAuthn options;
     2. asks the browser (navigator.credentials.create / get);
     3. puts the answer, as JSON, in the form's hidden "credential" field and submits the
        form as any other form: the server answers with a page or a redirect.
   A "get" form with data-conditional also offers passkeys in the autofill of the
   identifier box (autocomplete="username webauthn") where the browser supports it.
   No framework, no inline script; document-level listeners, so forms that htmx swaps in
   work too. PublicKeyCredential.parse*OptionsFromJSON and toJSON are used where the
   browser has them, with a small base64url fallback. */
(function () {
  "use strict";

  var supported = typeof window.PublicKeyCredential === "function" &&
    !!navigator.credentials && window.isSecureContext;
  var conditional = null; // the AbortController of a pending autofill request

  // --- base64url <-> ArrayBuffer (the fallback for browsers without the JSON helpers) ---

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(b64 + "===".slice((b64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBufferIds(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: fromB64url(c.id) }); });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromB64url(json.user.id) }),
      excludeCredentials: withBufferIds(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64url(json.challenge),
      allowCredentials: withBufferIds(json.allowCredentials)
    });
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      try { return credential.toJSON(); } catch (ignored) { /* build it below */ }
    }
    var r = credential.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) { response.userHandle = toB64url(r.userHandle); }
    }
    return {
      id: credential.id, rawId: toB64url(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    };
  }

  // --- talking to the server ----------------------------------------------------------

  function say(form, message) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) { status.textContent = message; }
  }

  function fetchOptions(form) {
    var token = form.querySelector('input[name="csrf_token"]');
    var next = form.querySelector('input[name="next"]');
    return fetch(form.getAttribute("data-options"), {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "", "X-Back": next ? next.value : "",
                 "Accept": "application/json" }
    }).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (body) {
        if (answer.ok) { return body; }
        if (body.location) { window.location.assign(body.location); }
        throw new Error(body.detail || "The server did not answer. Reload the page and try again.");
      });
    });
  }

  function ask(form, options, mediation, signal) {
    if (form.getAttribute("data-passkey") === "create") {
      return navigator.credentials.create({ publicKey: creationOptions(options) });
    }
    var request = { publicKey: requestOptions(options) };
    if (mediation) { request.mediation = mediation; }
    if (signal) { request.signal = signal; }
    return navigator.credentials.get(request);
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey prompt was closed or timed out. Try again when you are ready.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already holds a passkey for your account.";
    }
    return (error && error.message) || "That did not work. Try again.";
  }

  function run(form, mediation, signal) {
    var button = form.querySelector('button[type="submit"]');
    return fetchOptions(form)
      .then(function (options) { return ask(form, options, mediation, signal); })
      .then(function (credential) {
        if (!credential) { throw new Error("No passkey was chosen."); }
        form.querySelector('input[name="credential"]').value = JSON.stringify(credentialJSON(credential));
        form.querySelectorAll("input[data-remember-from]").forEach(function (input) {
          var box = document.getElementById(input.getAttribute("data-remember-from"));
          input.value = box && box.checked ? "y" : ""; // the page's one "don't ask again" box
        });
        say(form, "Checking your passkey…");
        if (button) { button.disabled = true; }
        HTMLFormElement.prototype.submit.call(form); // a plain submit: htmx is not involved
      });
  }

  function onSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-passkey")) { return; }
    event.preventDefault();
    event.stopPropagation();
    if (conditional) { conditional.abort(); conditional = null; }
    say(form, "Follow your browser's prompt…");
    run(form).catch(function (error) { say(form, explain(error)); });
  }

  // --- showing the forms, and passkeys in the autofill ----------------------------------

  function reveal(root) {
    root.querySelectorAll("[data-passkey], [data-passkey-only]").forEach(function (el) {
      el.hidden = !supported;
    });
    root.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) {
      el.hidden = supported;
    });
  }

  function offerInAutofill(root) {
    var form = root.querySelector("form[data-passkey='get'][data-conditional]");
    if (!form || conditional || !PublicKeyCredential.isConditionalMediationAvailable) { return; }
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available || conditional) { return; }
      conditional = new AbortController();
      run(form, "conditional", conditional.signal).catch(function (error) {
        if (error && error.name !== "AbortError") { say(form, explain(error)); }
      });
    });
  }

  function start(root) {
    reveal(root);
    if (supported) { offerInAutofill(root); }
  }

  document.addEventListener("submit", onSubmit, true);
  document.addEventListener("DOMContentLoaded", function () { start(document); });
  document.addEventListener("htmx:afterSwap", function () { start(document); });
}());
