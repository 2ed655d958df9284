// Keyboard labelling on the review item page. Rows are the checks, dimensions, taxonomy toggles and the
// escalation decision; j/k move between rows, letter and digit keys set the current row's value.
(function () {
  "use strict";
  var form = document.getElementById("label-form");
  if (!form) { return; }
  var rows = Array.prototype.slice.call(form.querySelectorAll(".row"));
  var current = 0;
  function focusRow(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) { r.classList.toggle("current", k === current); });
    rows[current].scrollIntoView({block: "nearest"});
  }
  function pick(row, value) {
    var input = row.querySelector('input[type="radio"][value="' + value + '"]');
    if (input) { input.checked = true; return true; }
    return false;
  }
  rows.forEach(function (r, k) { r.addEventListener("click", function () { focusRow(k); }); });
  focusRow(0);
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "TEXTAREA" || (tag === "INPUT" && ev.target.type === "text") || (tag === "INPUT" && ev.target.type === "password")) {
      if (ev.key === "Escape") { ev.target.blur(); ev.preventDefault(); }
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { form.submit(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var row = rows[current];
    var kind = row ? row.getAttribute("data-kind") : "";
    var handled = true;
    switch (ev.key) {
      case "j": case "ArrowDown": focusRow(current + 1); break;
      case "k": case "ArrowUp": focusRow(current - 1); break;
      case "/": document.getElementById("notes").focus(); break;
      case "c": document.getElementById("corrected").focus(); break;
      case "s": form.submit(); break;
      default:
        handled = false;
        if (kind === "check") {
          var v = {p: "pass", f: "fail", n: "na"}[ev.key];
          if (v && pick(row, v)) { handled = true; focusRow(current + 1); }
        } else if (kind === "dimension") {
          if ("012".indexOf(ev.key) >= 0 && pick(row, ev.key)) { handled = true; focusRow(current + 1); }
        } else if (kind === "toggle" && ev.key === "x") {
          var box = row.querySelector('input[type="checkbox"]');
          box.checked = !box.checked; handled = true;
        } else if (kind === "escalate") {
          var e = {y: "yes", n: "no"}[ev.key];
          if (e && pick(row, e)) { handled = true; }
        }
    }
    if (handled) { ev.preventDefault(); }
  });
})();
