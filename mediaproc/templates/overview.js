// Filter rows by text and status; sort by a column header (click again to reverse).
(function () {
  var table = document.getElementById("articles"), body = table.tBodies[0];
  var q = document.getElementById("q"), status = document.getElementById("status"), shown = document.getElementById("shown");
  function filter() {
    var text = q.value.trim().toLowerCase(), want = status.value, n = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var ok = (!want || row.getAttribute("data-status") === want) && (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = n + " shown";
  }
  q.addEventListener("input", filter);
  status.addEventListener("change", filter);
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    var key = th.getAttribute("data-key");
    if (!key) return;
    th.tabIndex = 0;
    th.addEventListener("click", function () {
      var num = th.getAttribute("data-type") === "num", dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.getAttribute("data-" + key), y = b.getAttribute("data-" + key);
        return dir * (num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y));
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
