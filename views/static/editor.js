// Chapterhouse's editor for the dashboard's Markdown fields: formatting
// buttons, "insert picture" (from the media library, or uploaded on the
// spot) and a live preview beside the text, rendered by the server as the
// site renders it. It is the only script Chapterhouse serves, on the
// dashboard only (CSP script-src 'self'); every form works without it.
// Markdown stays the stored format: the buttons only type it.
"use strict";

(function () {
  function csrfOf(form) {
    var input = form && form.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  // wrap puts before and after around the selection (or a placeholder).
  function wrap(ta, before, after, placeholder) {
    var s = ta.selectionStart, e = ta.selectionEnd;
    var sel = ta.value.slice(s, e) || placeholder;
    ta.setRangeText(before + sel + after, s, e, "end");
    ta.setSelectionRange(s + before.length, s + before.length + sel.length);
    changed(ta);
  }

  // prefixLines puts prefix at the start of every line of the selection.
  function prefixLines(ta, prefix) {
    var v = ta.value;
    var s = v.lastIndexOf("\n", ta.selectionStart - 1) + 1;
    var e = ta.selectionEnd;
    var lines = v.slice(s, e).split("\n").map(function (l) {
      return l.indexOf(prefix) === 0 ? l : prefix + l;
    });
    ta.setRangeText(lines.join("\n"), s, e, "end");
    changed(ta);
  }

  // insert puts text on lines of its own after the line the selection
  // ends on, so that no bold or link around the selection is split.
  function insert(ta, text) {
    var v = ta.value;
    var s = v.indexOf("\n", ta.selectionEnd);
    if (s < 0) s = v.length;
    var pre = s > 0 && v[s - 1] !== "\n" ? "\n\n" : "";
    ta.setRangeText(pre + text + "\n", s, s, "end");
    changed(ta);
    ta.focus();
  }

  function changed(ta) {
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  }

  var commands = [
    { label: "Bold", key: "b", run: function (ta) { wrap(ta, "**", "**", "bold text"); } },
    { label: "Italic", key: "i", run: function (ta) { wrap(ta, "*", "*", "italic text"); } },
    { label: "Heading", run: function (ta) { prefixLines(ta, "## "); } },
    { label: "List", run: function (ta) { prefixLines(ta, "- "); } },
    { label: "Link", key: "k", run: function (ta) {
      var url = window.prompt("Address of the link (https://…)", "https://");
      if (url && url !== "https://") wrap(ta, "[", "](" + url + ")", "link text");
    } }
  ];

  // picker is the "insert picture" panel of one field: the media
  // library's images as buttons, and an upload form.
  function picker(ta, form, toolbar) {
    var panel = el("div", { "class": "picker-panel", role: "dialog", "aria-label": "Insert a picture", hidden: "" });
    var status = el("p", { "class": "hint", role: "status" });
    var list = el("ul", { "class": "picker-list" });
    var upload = el("div", { "class": "picker-upload" });
    var file = el("input", { type: "file", accept: "image/png,image/jpeg", id: ta.id + "-upload" });
    var alt = el("input", { type: "text", maxlength: "500", id: ta.id + "-upload-alt", placeholder: "Description for people who cannot see it" });
    var send = el("button", { type: "button", "class": "secondary" }, "Upload and insert");
    var close = el("button", { type: "button", "class": "link" }, "Close");
    upload.append(el("label", { "for": file.id }, "Upload a new picture"), file,
      el("label", { "for": alt.id }, "Description"), alt, send);
    panel.append(el("h2", {}, "Insert a picture"), status, list, upload, close);
    toolbar.after(panel);

    function add(item) {
      var li = el("li");
      var b = el("button", { type: "button", "class": "pick", "data-id": item.id, title: item.name });
      var img = el("img", { src: item.thumb, alt: item.alt || item.name, width: "96", height: "72", loading: "lazy" });
      b.append(img, el("span", {}, item.name));
      b.addEventListener("click", function () {
        insert(ta, item.markdown);
        panel.hidden = true;
      });
      li.append(b);
      list.append(li);
    }
    function load() {
      status.textContent = "Loading the media library…";
      list.textContent = "";
      fetch("/admin/media/picker", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
        .then(function (d) {
          (d.items || []).forEach(add);
          status.textContent = d.items && d.items.length ? "Choose a picture, or upload one." : "The media library is empty: upload a picture.";
        })
        .catch(function (e) { status.textContent = "The media library could not be loaded (" + e.message + ")."; });
    }
    send.addEventListener("click", function () {
      if (!file.files.length) { status.textContent = "Choose a file first."; return; }
      var body = new FormData();
      body.append("file", file.files[0]);
      body.append("alt", alt.value);
      status.textContent = "Uploading…";
      fetch("/admin/media/picker", { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRF-Token": csrfOf(form) } })
        .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, d: d }; }); })
        .then(function (res) {
          if (!res.ok) { status.textContent = "Not uploaded: " + (res.d.error || "refused"); return; }
          insert(ta, res.d.markdown);
          file.value = ""; alt.value = "";
          panel.hidden = true;
        })
        .catch(function (e) { status.textContent = "Not uploaded (" + e.message + ")."; });
    });
    close.addEventListener("click", function () { panel.hidden = true; });
    return function () {
      panel.hidden = !panel.hidden;
      if (!panel.hidden) load();
    };
  }

  // preview renders the text on the server a moment after typing stops.
  function preview(ta, form, pane) {
    var timer = 0, seq = 0;
    function render() {
      var n = ++seq;
      var body = new URLSearchParams();
      body.set("text", ta.value);
      fetch("/admin/preview", { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRF-Token": csrfOf(form) } })
        .then(function (r) { return r.text().then(function (t) { return { ok: r.ok, t: t }; }); })
        .then(function (res) {
          if (n !== seq) return; // a newer preview is on its way
          if (res.ok) { pane.innerHTML = res.t; } else { pane.textContent = "No preview: the text has a problem (" + res.t.slice(0, 200) + ")"; }
        })
        .catch(function () { if (n === seq) pane.textContent = "No preview right now."; });
    }
    ta.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(render, 350);
    });
    render();
  }

  function enhance(ta) {
    var form = ta.form;
    var toolbar = el("div", { role: "toolbar", "class": "editor-toolbar", "aria-label": "Formatting", "aria-controls": ta.id });
    commands.forEach(function (c) {
      var b = el("button", { type: "button", "class": "secondary", "data-command": c.label.toLowerCase() }, c.label);
      b.addEventListener("click", function () { c.run(ta); ta.focus(); });
      toolbar.append(b);
      if (c.key) {
        ta.addEventListener("keydown", function (e) {
          if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === c.key) { e.preventDefault(); c.run(ta); }
        });
      }
    });
    var pic = el("button", { type: "button", "class": "secondary", "data-command": "picture" }, "Insert picture");
    toolbar.append(pic);
    var wrapper = el("div", { "class": "editor" });
    var pane = el("div", { "class": "live-preview prose", "aria-live": "polite", "aria-label": "Preview" });
    ta.before(toolbar);
    ta.before(wrapper);
    wrapper.append(ta, pane);
    pic.addEventListener("click", picker(ta, form, toolbar));
    preview(ta, form, pane);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-editor]").forEach(enhance);
  });
})();
