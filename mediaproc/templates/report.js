// Timestamp chips and thumbnails seek the player of their media item.
document.addEventListener("click", function (ev) {
  var el = ev.target.closest("[data-seek]");
  if (!el) return;
  var video = document.getElementById("player-" + el.getAttribute("data-media"));
  if (!video) return;
  video.currentTime = parseFloat(el.getAttribute("data-seek"));
  video.scrollIntoView({ block: "nearest" });
  var p = video.play();
  if (p && p.catch) p.catch(function () {});
});

// report.html#t=<seconds>&m=<media id> (what `mediaproc search` prints) opens the report at that moment.
function seekFromHash() {
  var args = new URLSearchParams(location.hash.slice(1)), t = parseFloat(args.get("t"));
  if (isNaN(t)) return;
  var video = args.get("m") ? document.getElementById("player-" + args.get("m")) : document.querySelector("[id^=player-]");
  if (!video) return;
  var go = function () { video.currentTime = t; video.scrollIntoView({ block: "center" }); };
  if (video.readyState >= 1) go(); else video.addEventListener("loadedmetadata", go, { once: true });
}
window.addEventListener("hashchange", seekFromHash);
seekFromHash();

// archive.js (written beside the report by `mediaproc index` and batch) links this report to the archive:
// the overview page, and where else in the archive this footage was seen.
(function () {
  var data = window.mediaprocArchive, box = document.getElementById("archive");
  if (!data || !box) return;
  box.hidden = false;
  var link = document.getElementById("overview-link");
  link.href = data.overview;
  var list = document.getElementById("also-seen");
  if (!data.also_seen.length) { list.textContent = "Nothing else in the archive shows this footage."; return; }
  data.also_seen.forEach(function (h) {
    var li = document.createElement("li"), a = document.createElement("a"), clock = function (s) {
      s = Math.round(s); return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2); };
    a.href = h.report;
    a.textContent = h.title;
    li.appendChild(document.createTextNode(h.media + " at " + clock(h.time) + ": also in "));
    li.appendChild(a);
    li.appendChild(document.createTextNode((h.date ? " (" + h.date + ")" : "") + ", " + (h.url || h.other_media) +
      " at " + clock(h.other_time) + " (" + h.distance + " bits apart)"));
    list.appendChild(li);
  });
})();
