// The review page's keyboard shortcuts and small helpers. Plain JavaScript, no build.
(function () {
  "use strict";

  function typing(event) {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }

  function go(url) { if (url) { window.location.href = url; } }

  // Buttons that ask first (bulk accept).
  document.addEventListener("submit", function (event) {
    const button = event.submitter;
    const question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // The queue: rows open on click; j/k move the highlight, Enter opens it.
  const rows = Array.from(document.querySelectorAll("#queue tr.row"));
  let selected = rows.length ? 0 : -1;
  function highlight(index) {
    if (!rows.length) { return; }
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    rows[selected].scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (row, i) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a, button, input")) { return; }
      highlight(i); go(row.getAttribute("data-href"));
    });
  });
  if (rows.length) { highlight(0); }

  // The resolve form: the disposition follows the type chosen (it can still be changed).
  const type = document.getElementById("exception-type");
  const disposition = document.getElementById("disposition");
  if (type && disposition) {
    type.addEventListener("change", function () {
      const option = type.options[type.selectedIndex];
      disposition.value = option.getAttribute("data-disposition") || disposition.value;
    });
  }
  const note = document.querySelector("#resolve-form textarea");
  if (note) {
    note.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault(); document.getElementById("resolve-form").requestSubmit();
      }
    });
  }

  const crumbs = document.querySelector(".crumbs");
  const help = document.getElementById("help");

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      if (help) { help.hidden = true; }
      if (typing(event)) { event.target.blur(); }
      return;
    }
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) { return; }
    const key = event.key;
    if (key === "?") { if (help) { help.hidden = !help.hidden; } return; }
    if (rows.length) {
      if (key === "j") { highlight(selected + 1); event.preventDefault(); return; }
      if (key === "k") { highlight(selected - 1); event.preventDefault(); return; }
      if (key === "Enter" || key === "o") { go(rows[selected].getAttribute("data-href")); return; }
    }
    if (key === "/") {
      const first = document.querySelector("#filters select, #filters input");
      if (first) { first.focus(); event.preventDefault(); }
      return;
    }
    if (crumbs) {
      if (key === "j") { go(crumbs.getAttribute("data-next")); return; }
      if (key === "k") { go(crumbs.getAttribute("data-prev")); return; }
      if (key === "u") { go(crumbs.getAttribute("data-queue")); return; }
    }
    if (key === "c") {
      const form = document.getElementById("confirm-form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (key === "r") {
      const first = document.querySelector("#reject-form input[type=radio]");
      if (first) { event.preventDefault(); first.focus(); first.checked = true; }
      return;
    }
    if (key === "e" && type) { event.preventDefault(); type.focus(); }
  });

  // Enter on a focused counterpart submits the rejection.
  document.querySelectorAll("#reject-form input[type=radio]").forEach(function (radio) {
    radio.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); document.getElementById("reject-form").requestSubmit(); }
    });
  });
})();
