// tailor preview studio: live reload by polling, iframe sizing, the differences toggle. No dependencies.
(function () {
  "use strict";
  var body = document.body;
  var versionUrl = body.dataset.versionUrl;
  var template = body.dataset.template || "";
  var shown = {version: body.dataset.version || "", templateVersion: body.dataset.templateVersion || ""};
  var busy = false;

  function fitFrame(frame) {
    // srcdoc frames are same-origin (sandbox allow-same-origin, no scripts): size them to their content
    try {
      var doc = frame.contentDocument;
      if (doc && doc.documentElement) frame.style.height = Math.max(400, doc.documentElement.scrollHeight) + "px";
    } catch (e) { /* leave the default height */ }
  }
  // Dark mode as the mail apps that force it show an email (Gmail and Outlook apps): light
  // colours inverted, hues kept, images re-inverted so they look as sent.
  var DARK_CSS = ":root{color-scheme:dark}html{filter:invert(1) hue-rotate(180deg);background:#fff}" +
    "img,picture,video,[style*='background-image']{filter:invert(1) hue-rotate(180deg)}";
  function darkWanted() {
    var box = document.getElementById("dark-mode");
    return Boolean(box && box.checked);
  }
  function applyDark(frame) {
    try {
      var doc = frame.contentDocument;
      if (!doc || !doc.head) return;
      var style = doc.getElementById("tailor-dark-mode");
      if (darkWanted() && !style) {
        style = doc.createElement("style");
        style.id = "tailor-dark-mode";
        style.textContent = DARK_CSS;
        doc.head.appendChild(style);
      } else if (!darkWanted() && style) {
        style.remove();
      }
    } catch (e) { /* a frame not yet loaded is styled on load */ }
  }
  function wireFrames(root) {
    root.querySelectorAll("iframe.email-frame").forEach(function (f) {
      f.addEventListener("load", function () { applyDark(f); fitFrame(f); });
      if (f.contentDocument && f.contentDocument.readyState === "complete") { applyDark(f); fitFrame(f); }
    });
  }
  var darkBox = document.getElementById("dark-mode");
  if (darkBox) darkBox.addEventListener("change", function () {
    document.querySelectorAll("iframe.email-frame").forEach(applyDark);
  });

  function showErrors(errors) {
    var box = document.getElementById("live-error");
    var list = document.getElementById("live-error-list");
    if (!box || !list) return;
    list.innerHTML = "";
    (errors || []).forEach(function (e) {
      var li = document.createElement("li"), code = document.createElement("code");
      code.textContent = e; li.appendChild(code); list.appendChild(li);
    });
    box.hidden = !(errors && errors.length);
  }

  var lastFragment = null;
  function rerender() {
    var form = document.getElementById("render-form");
    var result = document.getElementById("result");
    if (!form || !result) return Promise.resolve();
    return fetch(form.dataset.api, {method: "POST", body: new FormData(form)})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        shown.templateVersion = data.template_version || "";
        if (data.html === lastFragment) return;  // nothing new: keep the frames as they are
        lastFragment = data.html;
        result.innerHTML = data.html || "";
        wireFrames(result);
        body.dataset.rendered = String(Date.now());
      });
  }
  function rerenderSettled() {
    // the server looks at the files at most once a second (it keeps serving meanwhile), so a
    // render right after an edit may still be the previous version: render once more after that
    return rerender().then(function () {
      return new Promise(function (done) { setTimeout(done, 1200); });
    }).then(rerender);
  }

  function poll() {
    if (busy || !versionUrl) return;
    busy = true;
    fetch(versionUrl + "?template=" + encodeURIComponent(template), {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (state) {
        document.getElementById("live-indicator").classList.remove("stale");
        var changed = state.version !== shown.version;
        // the server's compiler looks at the files at most once a second: if the render we show is older
        // than what the files compile to now, render again
        var behind = state.ok && state.template_version && shown.templateVersion &&
                     state.template_version !== shown.templateVersion;
        if (!changed && !behind) return;
        shown.version = state.version;
        showErrors(state.errors);
        if (body.dataset.onChange === "reload") { window.location.reload(); return; }
        return rerenderSettled();
      })
      .catch(function () { document.getElementById("live-indicator").classList.add("stale"); })
      .then(function () { busy = false; });
  }

  // a pasted profile can be long: send the form as POST then, so the URL stays short
  var form = document.getElementById("render-form");
  if (form) {
    form.addEventListener("submit", function () {
      var pasted = document.getElementById("profile-json");
      form.method = pasted && pasted.value.trim() ? "post" : "get";
    });
    ["template", "persona"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.addEventListener("change", function () {
        if (id === "persona") { var ref = document.getElementById("ref"); if (ref) ref.value = ""; }
        form.requestSubmit();
      });
    });
  }

  // "send a test": the email rendered for the chosen persona, to the configured seed list
  var sendTest = document.getElementById("send-test");
  if (sendTest && form) {
    sendTest.addEventListener("click", function () {
      var status = document.getElementById("send-test-status");
      sendTest.disabled = true;
      status.textContent = "sending…";
      status.dataset.state = "busy";
      fetch(sendTest.dataset.api, {method: "POST", body: new FormData(form)})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          status.dataset.state = data.ok ? "sent" : "failed";
          status.textContent = data.ok
            ? "sent to " + data.sent.map(function (s) { return s.to; }).join(", ")
            : "not sent: " + (data.error || "unknown error");
        })
        .catch(function (e) { status.dataset.state = "failed"; status.textContent = "not sent: " + e; })
        .then(function () { sendTest.disabled = false; });
    });
  }

  var toggle = document.getElementById("diff-toggle");
  if (toggle) {
    toggle.addEventListener("change", function () { body.classList.toggle("show-diff", toggle.checked); });
  }

  wireFrames(document);
  if (versionUrl) setInterval(poll, 1000);
})();
