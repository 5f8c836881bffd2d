--- The script of the WebAuthn pages (served at wan_script_url): it finds
-- the page's ceremony form (security/_wan_ceremony.html), turns its
-- data-options (JSON, bytes as base64url) into what
-- navigator.credentials.create or .get takes, and posts the browser's
-- answer back as the form's `credential` field (JSON, bytes as
-- base64url, as Flask-Security-Too's script posts it). Plain ES2017, no
-- build step, no third-party code.
-- @module fsec.wanscript

return [[
"use strict";
(function () {
  function b64uToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64u(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (d) {
      var o = { type: d.type, id: b64uToBuf(d.id) };
      if (d.transports) o.transports = d.transports;
      return o;
    });
  }
  function publicKey(kind, o) {
    o.challenge = b64uToBuf(o.challenge);
    if (kind === "create") {
      o.user.id = b64uToBuf(o.user.id);
      o.excludeCredentials = descriptors(o.excludeCredentials);
    } else {
      o.allowCredentials = descriptors(o.allowCredentials);
    }
    return o;
  }
  function serialize(cred) {
    var r = cred.response, out = { id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type, response: {} };
    out.response.clientDataJSON = bufToB64u(r.clientDataJSON);
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64u(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    }
    if (r.authenticatorData) out.response.authenticatorData = bufToB64u(r.authenticatorData);
    if (r.signature) out.response.signature = bufToB64u(r.signature);
    if (r.userHandle) out.response.userHandle = bufToB64u(r.userHandle);
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    out.clientExtensionResults = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
    return out;
  }
  function run() {
    var form = document.getElementById("wan-response");
    if (!form) return;
    var kind = form.getAttribute("data-wan");
    var shown = document.getElementById("wan-error");
    function fail(e) {
      if (shown) { shown.textContent = String(e && e.message || e); shown.hidden = false; }
    }
    if (!window.PublicKeyCredential || !navigator.credentials) { fail("WebAuthn is not available"); return; }
    var options;
    try { options = publicKey(kind, JSON.parse(form.getAttribute("data-options"))); } catch (e) { fail(e); return; }
    var call = kind === "create" ? navigator.credentials.create({ publicKey: options })
                                 : navigator.credentials.get({ publicKey: options });
    call.then(function (cred) {
      form.elements.credential.value = JSON.stringify(serialize(cred));
      form.submit();
    }, fail);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run); else run();
})();
]]
