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
