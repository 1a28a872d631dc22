/*
 * recon: what Great Expectations' Data Docs pages ask of jQuery, Bootstrap and bootstrap-table,
 * written by hand so that the report works offline (checks/data_docs.py links this file from
 * every page instead of the CDNs). Not those libraries: `$` with the few methods the pages'
 * own scripts call, tables filled from their data, tabs, collapsed sections and row links.
 */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function Nodes(list) { this.nodes = list; }
  Nodes.prototype = {
    each: function (fn) { this.nodes.forEach(function (el, i) { fn.call(el, i, el); }); return this; },
    ready: function (fn) { ready(fn); return this; },
    addClass: function (name) { return this.each(function () { this.classList.add(name); }); },
    removeClass: function (name) { return this.each(function () { this.classList.remove(name); }); },
    on: function (event, fn) { return this.each(function () { this.addEventListener(event, fn); }); },
    parent: function () {
      return new Nodes(this.nodes.map(function (el) { return el.parentElement; }).filter(Boolean));
    },
    fadeIn: function () { return this.each(function () { this.style.display = ""; }); },
    fadeOut: function () { return this.each(function () { this.style.display = "none"; }); },
    data: function (key) { return this.nodes.length ? this.nodes[0].dataset[key] : undefined; },
    modal: function () { return this; },
    bootstrapTable: function (options) {
      var tables = this.nodes;
      if (typeof options === "object") { ready(function () { tables.forEach(function (t) { fill(t, options); }); }); }
      return this;
    }
  };

  function $(what) {
    if (typeof what === "function") { ready(what); return new Nodes([]); }
    if (typeof what === "string") { return new Nodes(Array.prototype.slice.call(document.querySelectorAll(what))); }
    return new Nodes(what ? [what] : []);
  }

  // bootstrap-table's `data` option: the index page's tables arrive as data, not as rows.
  function fill(table, options) {
    if (!options.columns || !options.data) { return; }
    var head = document.createElement("thead");
    var titles = document.createElement("tr");
    options.columns.forEach(function (column) {
      var th = document.createElement("th");
      th.textContent = column.title || column.field;
      titles.appendChild(th);
    });
    head.appendChild(titles);
    var body = document.createElement("tbody");
    options.data.forEach(function (item) {
      var row = document.createElement("tr");
      if (item._table_row_link_path) {
        row.className = "clickable-row";
        row.setAttribute("data-href", item._table_row_link_path);
      }
      options.columns.forEach(function (column) {
        var cell = document.createElement("td");
        var value = item[column.field];
        cell.innerHTML = value === null || value === undefined ? "" : String(value);  // GX's own markup
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    table.innerHTML = "";
    table.appendChild(head);
    table.appendChild(body);
  }

  function target(el) {
    var selector = el.getAttribute("data-target") || el.getAttribute("href");
    return selector && selector.charAt(0) === "#" ? document.getElementById(selector.slice(1)) : null;
  }

  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-toggle], .clickable-row");
    if (!el) { return; }
    var toggle = el.getAttribute("data-toggle");
    if (toggle === "tab") {
      event.preventDefault();
      var pane = target(el);
      if (!pane) { return; }
      Array.prototype.forEach.call(pane.parentElement.children, function (p) { p.classList.remove("active", "show"); });
      pane.classList.add("active", "show");
      var nav = el.closest(".nav");
      if (nav) { Array.prototype.forEach.call(nav.querySelectorAll(".nav-link"), function (a) { a.classList.remove("active"); }); }
      el.classList.add("active");
    } else if (toggle === "collapse") {
      event.preventDefault();
      var section = target(el);
      if (section) { section.classList.toggle("show"); }
    } else if (toggle === "buttons") {
      var label = event.target.closest("label");
      if (label) {
        Array.prototype.forEach.call(el.querySelectorAll("label"), function (l) { l.classList.remove("active"); });
        label.classList.add("active");
      }
    } else if (el.classList.contains("clickable-row") && el.getAttribute("data-href")) {
      window.location.href = el.getAttribute("data-href");
    }
  });

  window.$ = window.jQuery = $;
}());
