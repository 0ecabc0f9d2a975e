"""The live view's page: one tile per stream (MJPEG video, FPS, current faces, events); no external
scripts, styles or fonts, so it works on a network without internet."""

from __future__ import annotations

import json

__all__ = ["page"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fer-edge live</title>
<style>
body { margin: 0; background: #16181c; color: #e8e8e8; font: 14px/1.4 system-ui, sans-serif; }
header { padding: 8px 14px; background: #23262c; display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 16px; margin: 0; }
#grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px; padding: 12px; }
.tile { background: #23262c; border-radius: 6px; overflow: hidden; }
.tile img { display: block; width: 100%; background: #000; min-height: 120px; }
.bar { display: flex; justify-content: space-between; padding: 6px 10px; }
.fps { font-variant-numeric: tabular-nums; color: #9fd39f; }
.faces { padding: 0 10px; color: #f0d890; min-height: 1.4em; }
ol.events { list-style: none; margin: 0; padding: 4px 10px 10px; max-height: 160px; overflow-y: auto;
  font: 12px/1.5 ui-monospace, monospace; color: #b8c0cc; }
#state { color: #999; }
</style></head>
<body><header><h1>fer-edge live</h1><span id="state">connecting...</span></header>
<div id="grid"></div>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const q = token ? "?token=" + encodeURIComponent(token) : "";
const grid = document.getElementById("grid");
let since = 0;
function tile(name) {
  const id = "s-" + name;
  let t = document.getElementById(id);
  if (t) return t;
  t = document.createElement("div");
  t.className = "tile"; t.id = id; t.dataset.stream = name;
  const img = document.createElement("img");
  img.alt = name; img.src = "stream/" + encodeURIComponent(name) + ".mjpg" + q;
  const bar = document.createElement("div"); bar.className = "bar";
  const title = document.createElement("b"); title.textContent = name;
  const fps = document.createElement("span"); fps.className = "fps"; fps.textContent = "- fps";
  bar.append(title, fps);
  const faces = document.createElement("div"); faces.className = "faces";
  const events = document.createElement("ol"); events.className = "events";
  t.append(img, bar, faces, events);
  grid.append(t);
  return t;
}
for (const name of __STREAMS__) tile(name);
async function poll() {
  try {
    const r = await fetch("status.json" + (q ? q + "&" : "?") + "since=" + since, {cache: "no-store"});
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    const s = await r.json();
    document.getElementById("state").textContent = s.clients + " client(s)";
    for (const [name, st] of Object.entries(s.streams)) {
      const t = tile(name);
      t.querySelector(".fps").textContent = st.frames + " frames, " + st.fps.toFixed(1) + " fps";
      const face = f => "#" + f.track + " " + (f.label || "...") + (f.score != null ? " " + f.score.toFixed(2) : "");
      t.querySelector(".faces").textContent = st.faces.length ? st.faces.map(face).join("  ") : "no face";
      const list = t.querySelector(".events");
      for (const e of st.events) {
        since = Math.max(since, e.id);
        const li = document.createElement("li");
        li.className = "event";
        li.textContent = "frame " + e.frame + "  #" + e.track + " " + e.event + (e.label ? " " + e.label : "") +
          (e.score != null ? " (" + e.score.toFixed(2) + ")" : "");
        list.prepend(li);
        while (list.children.length > 50) list.lastChild.remove();
      }
    }
  } catch (err) {
    document.getElementById("state").textContent = "disconnected (" + err.message + ")";
  }
  setTimeout(poll, 500);
}
poll();
</script></body></html>
"""


def page(streams: list[str]) -> str:
    """The page's HTML (it reads its token from its own URL); ``streams`` are known at load, later
    ones appear as they publish.

    Example:
        >>> "cam0" in page(["cam0"])
        True
    """
    names = json.dumps(list(streams)).replace("</", "<\\/")
    return _PAGE.replace("__STREAMS__", names)
